"""Read-side queries: which functions a caller sees, one function by name, the invocation history."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db.models import QuerySet

from cognito_backend.cache import bus, memo_seconds

from .exceptions import FunctionForbidden, FunctionNotFound
from .models import Invocation, LambdaFunction

# What ``LambdaFunction.name`` (a SlugField of 64) can hold.
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")
# name -> (monotonic expiry, bus generation when read, the enabled function); see ``function_by_name``.
_registry: dict[str, tuple[float, int, LambdaFunction]] = {}
_REGISTRY_LIMIT = 10_000


@dataclass(frozen=True)
class Caller:
    """Who is calling: the Django user, the Cognito groups of the token, and an id token when there is one."""

    user: Any
    token_groups: frozenset[str] = frozenset()
    # The raw Cognito id token (for identity-pool credentials); never logged, never stored.
    id_token: str = field(default="", repr=False)
    # Where Cloud Connect credentials come from when not the user's stored login (the Python client's memory).
    cloud_connect: Any = field(default=None, repr=False)
    # Fetches the id token only when a function needs it (a page session's stored tokens: a query and a decrypt).
    id_token_source: Callable[[], str] | None = field(default=None, repr=False)

    @cached_property
    def groups(self) -> frozenset[str]:
        """The token's groups and the user's Django groups, by name (looked up only when a check needs them)."""
        names = set(self.token_groups)
        if getattr(self.user, "pk", None):
            names.update(self.user.groups.values_list("name", flat=True))
        return frozenset(names)

    @property
    def is_staff(self) -> bool:
        return bool(getattr(self.user, "is_staff", False))

    @property
    def is_superuser(self) -> bool:
        return bool(getattr(self.user, "is_superuser", False))

    @property
    def username(self) -> str:
        return str(self.user.get_username()) if self.user is not None else ""


def caller_for(user: Any, token: Any = None) -> Caller:
    """The caller behind a request: the user, and the Cognito token's groups and raw id token when there is one."""
    token_groups: frozenset[str] = frozenset()
    id_token = ""
    if token is not None:
        token_groups = frozenset(str(g) for g in getattr(token, "groups", ()) or ())
        if getattr(token, "token_use", "") == "id":
            id_token = str(getattr(token, "raw", "") or "")
    return Caller(user=user, token_groups=token_groups, id_token=id_token)


def may_call(caller: Caller, function: LambdaFunction) -> bool:
    """Superusers may call everything; otherwise no allowed groups means everyone, else one must match."""
    if caller.is_superuser:
        return True
    allowed = function.allowed_group_names
    return not allowed or bool(allowed & caller.groups)


def enabled_functions() -> QuerySet[LambdaFunction]:
    return LambdaFunction.objects.filter(enabled=True).prefetch_related("allowed_groups")


def functions_for(caller: Caller) -> list[LambdaFunction]:
    """The enabled functions ``caller`` may call, in display order."""
    return [f for f in enabled_functions() if may_call(caller, f)]


def function_by_name(name: str) -> LambdaFunction:
    """The enabled function called ``name``; a disabled one is as unknown as a missing one.

    Each process remembers the answer (with its allowed groups) for ``REVOCATION_MEMO_SECONDS``, under the
    revocation memo's rule (``cognito_backend.cache.bus.active``). Every change of the registry or of a group drops
    the answers of this process at once (``registry_changed``, after the commit) and, with the Redis invalidation
    bus, of every other process as soon as its message lands. Without Redis (the default setup) a change made in
    another process is seen within ``REVOCATION_MEMO_SECONDS``, the bound a revocation has there. With Redis
    configured but not answering, nothing is remembered: every call reads the database.
    """
    if not _SLUG.fullmatch(name):  # not a name the registry can hold (nor one to put in a query: NUL ...)
        raise FunctionNotFound(f"No function named {name[:64]!r}.")
    remember = bus.active()
    generation = bus.generation()
    if remember:
        entry = _registry.get(name)
        if entry is not None and entry[1] == generation and entry[0] > time.monotonic():
            return entry[2]
    try:
        function = enabled_functions().get(name=name)
    except LambdaFunction.DoesNotExist:
        raise FunctionNotFound(f"No function named {name[:64]!r}.") from None
    if remember and bus.generation() == generation:
        # The remembered row answers its allowed groups from a frozen set, not a related manager built per call.
        function.remembered_group_names = function.allowed_group_names
        if len(_registry) >= _REGISTRY_LIMIT:
            _registry.clear()
        _registry[name] = (time.monotonic() + memo_seconds(), generation, function)
    return function


def registry_changed() -> None:
    """Every process drops its remembered registry answers (here at once; elsewhere through the bus)."""
    _registry.clear()
    bus.publish(kind="dashboard_registry")  # no bus: nothing to tell, nothing was remembered


def function_for(caller: Caller, name: str) -> LambdaFunction:
    function = function_by_name(name)
    if not may_call(caller, function):
        raise FunctionForbidden(f"You may not call {function.name!r}.")
    return function


def invocations_for(
    caller: Caller,
    *,
    function: str | None = None,
    status: str | None = None,
    error_code: str | None = None,
    username: str | None = None,
    mine: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Invocation]:
    """The caller's invocations, newest first; staff see everyone's and may filter by ``username``."""
    qs = Invocation.objects.select_related("function")
    if mine or not caller.is_staff:
        qs = qs.filter(user=caller.user)
    elif username:
        qs = qs.filter(username=username)
    if function:
        qs = qs.filter(function_key=function)
    if status:
        qs = qs.filter(status=status)
    if error_code:
        qs = qs.filter(error_code=error_code)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-created_at", "-id")


def recent_invocations(user: Any, limit: int = 10) -> list[Invocation]:
    """The user's own latest invocations (the page shows these, also to staff)."""
    return list(Invocation.objects.filter(user=user).order_by("-created_at", "-id")[:limit])
