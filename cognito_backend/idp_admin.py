"""Administrative calls on the user pool (creating, finding and changing users and groups).

Every call goes through ``idp.call()``, so only the app's own exceptions (``exceptions.py``) come out. The pool
defaults to ``COGNITO['USER_POOL_ID']``; each function takes ``pool_id`` to act on another one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from . import exceptions as exc
from .conf import cognito_settings
from .idp import call


def _pool(pool_id: str | None) -> str:
    pool = pool_id or str(cognito_settings.USER_POOL_ID or "")
    if not pool:
        raise exc.ConfigurationError("COGNITO['USER_POOL_ID'] is not set.")
    return pool


def attributes_to_list(attributes: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in attributes.items()]


def attributes_to_dict(attributes: list[dict[str, str]] | None) -> dict[str, str]:
    return {a["Name"]: a.get("Value", "") for a in attributes or []}


def admin_create_user(
    username: str,
    attributes: Mapping[str, str],
    *,
    temporary_password: str | None = None,
    suppress_message: bool = True,
    pool_id: str | None = None,
) -> dict[str, Any]:
    """Create a user; returns Cognito's ``User`` record (``Attributes`` hold the ``sub``).

    With ``suppress_message`` no welcome message is sent; the user then has no password they know until one is
    set (``admin_set_user_password``) and stays in ``FORCE_CHANGE_PASSWORD``.
    """
    params: dict[str, Any] = {
        "UserPoolId": _pool(pool_id),
        "Username": username,
        "UserAttributes": attributes_to_list(attributes),
    }
    if suppress_message:
        params["MessageAction"] = "SUPPRESS"
    if temporary_password:
        params["TemporaryPassword"] = temporary_password
    user: dict[str, Any] = call("admin_create_user", **params)["User"]
    return user


def admin_get_user(username: str, *, pool_id: str | None = None) -> dict[str, Any] | None:
    """The user's record (``Username``, ``UserStatus``, ``Enabled``, ``UserAttributes``), or None if absent."""
    try:
        return call("admin_get_user", UserPoolId=_pool(pool_id), Username=username)
    except exc.UserNotFound:
        return None


def find_user_by_username(username: str, *, pool_id: str | None = None) -> dict[str, Any] | None:
    """ListUsers with a ``username = "..."`` filter: the user record (``Attributes``), or None."""
    quoted = username.replace("\\", "\\\\").replace('"', '\\"')
    result = call("list_users", UserPoolId=_pool(pool_id), Filter=f'username = "{quoted}"', Limit=2)
    users: list[dict[str, Any]] = result.get("Users", [])
    return users[0] if users else None


def list_users(
    *, pool_id: str | None = None, filter_expression: str | None = None, page_size: int = 60
) -> Iterator[dict[str, Any]]:
    """Every user of the pool (or those matching a ListUsers filter), one page at a time."""
    params: dict[str, Any] = {"UserPoolId": _pool(pool_id), "Limit": page_size}
    if filter_expression:
        params["Filter"] = filter_expression
    while True:
        page = call("list_users", **params)
        yield from page.get("Users", [])
        token = page.get("PaginationToken")
        if not token:
            return
        params["PaginationToken"] = token


def admin_set_user_password(
    username: str, password: str, *, permanent: bool = True, pool_id: str | None = None
) -> None:
    """Set the password (never logged); ``permanent`` confirms the user so they can sign in with it."""
    call(
        "admin_set_user_password",
        UserPoolId=_pool(pool_id),
        Username=username,
        Password=password,
        Permanent=permanent,
    )


def admin_disable_user(username: str, *, pool_id: str | None = None) -> None:
    call("admin_disable_user", UserPoolId=_pool(pool_id), Username=username)


def admin_add_user_to_group(username: str, group: str, *, pool_id: str | None = None) -> None:
    call("admin_add_user_to_group", UserPoolId=_pool(pool_id), Username=username, GroupName=group)


def admin_list_groups_for_user(username: str, *, pool_id: str | None = None) -> list[str]:
    params: dict[str, Any] = {"UserPoolId": _pool(pool_id), "Username": username, "Limit": 60}
    names: list[str] = []
    while True:
        page = call("admin_list_groups_for_user", **params)
        names += [g["GroupName"] for g in page.get("Groups", [])]
        token = page.get("NextToken")
        if not token:
            return names
        params["NextToken"] = token


def create_group(name: str, *, description: str = "", pool_id: str | None = None) -> bool:
    """Create a group; False when it already exists."""
    params: dict[str, Any] = {"UserPoolId": _pool(pool_id), "GroupName": name}
    if description:
        params["Description"] = description
    try:
        call("create_group", **params)
    except exc.IdpError as error:
        if error.code == "group_exists":
            return False
        raise
    return True


def list_groups(*, pool_id: str | None = None) -> list[str]:
    params: dict[str, Any] = {"UserPoolId": _pool(pool_id), "Limit": 60}
    names: list[str] = []
    while True:
        page = call("list_groups", **params)
        names += [g["GroupName"] for g in page.get("Groups", [])]
        token = page.get("NextToken")
        if not token:
            return names
        params["NextToken"] = token


def admin_enable_user(username: str, *, pool_id: str | None = None) -> None:
    call("admin_enable_user", UserPoolId=_pool(pool_id), Username=username)


def admin_reset_user_password(username: str, *, pool_id: str | None = None) -> None:
    """The user's password stops working; Cognito sends them a code and they are ``RESET_REQUIRED``."""
    call("admin_reset_user_password", UserPoolId=_pool(pool_id), Username=username)


def admin_resend_invitation(username: str, *, pool_id: str | None = None) -> dict[str, Any]:
    """AdminCreateUser with ``MessageAction=RESEND``: the invitation again, with a new temporary password."""
    user: dict[str, Any] = call(
        "admin_create_user", UserPoolId=_pool(pool_id), Username=username, MessageAction="RESEND"
    ).get("User", {})
    return user


def admin_remove_user_from_group(username: str, group: str, *, pool_id: str | None = None) -> None:
    call("admin_remove_user_from_group", UserPoolId=_pool(pool_id), Username=username, GroupName=group)


def admin_delete_user(username: str, *, pool_id: str | None = None) -> None:
    call("admin_delete_user", UserPoolId=_pool(pool_id), Username=username)


def get_group(name: str, *, pool_id: str | None = None) -> dict[str, Any] | None:
    """The group's record (``GroupName``, ``Description``, ``Precedence`` ...), or None if the pool has none."""
    try:
        group: dict[str, Any] = call("get_group", UserPoolId=_pool(pool_id), GroupName=name)["Group"]
    except exc.IdpError as error:
        if error.code == "resource_not_found":
            return None
        raise
    return group


def delete_group(name: str, *, pool_id: str | None = None) -> bool:
    """Delete a group; False when the pool has no such group."""
    try:
        call("delete_group", UserPoolId=_pool(pool_id), GroupName=name)
    except exc.IdpError as error:
        if error.code == "resource_not_found":
            return False
        raise
    return True


def list_users_in_group(name: str, *, pool_id: str | None = None) -> list[str]:
    """The usernames of the group's members."""
    params: dict[str, Any] = {"UserPoolId": _pool(pool_id), "GroupName": name, "Limit": 60}
    names: list[str] = []
    while True:
        page = call("list_users_in_group", **params)
        names += [u["Username"] for u in page.get("Users", [])]
        token = page.get("NextToken")
        if not token:
            return names
        params["NextToken"] = token
