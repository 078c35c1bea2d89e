"""Signing in to the admin with Cognito (accounts/admin_login.py), with Django's test client against moto.

moto checks TOTP codes for real; it does not check the SRP proof or confirmation codes, which these tests do not
use (the site signs in with USER_PASSWORD_AUTH). Cognito failures the stand-in cannot produce are injected
(``faults``: an InternalErrorException on AdminListGroupsForUser).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import runpy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts import admin_login, signout
from cognito_backend import exceptions as exc
from tests.accounts.conftest import Faults, LocalPool, totp_now
from tests.accounts.test_hosted_ui import authorize, front, hosted  # noqa: F401 - fixtures used here
from tests.cognito_backend.conftest import MOTO_KEY
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser, UserPool, free_port

ROOT = Path(__file__).resolve().parents[2]
User = get_user_model()


@pytest.fixture
def admin_settings(settings: Any) -> None:
    """For tests that need no pool: MFA not required, break-glass off (tests turn them on)."""
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": False, "BREAK_GLASS": False}


@pytest.fixture
def staff_pool(user_pool: UserPool, settings: Any) -> UserPool:
    """The site's group mapping over the test pool: ``staff`` makes staff, ``admins`` superusers."""
    settings.COGNITO = {**user_pool.settings(), "STAFF_GROUPS": ["staff"], "SUPERUSER_GROUPS": ["admins"]}
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": False, "BREAK_GLASS": False}
    return user_pool


def sign_in(client: Client, username: str, next_url: str = "/admin/") -> Any:
    """Sign in as the admin's login page sends a browser to do: the site's sign-in page, back to the admin."""
    start = client.get(next_url, follow=True)
    assert start.redirect_chain[-1][0].startswith("/accounts/sign-in/?")
    target = parse_qs(urlsplit(start.redirect_chain[-1][0]).query)["next"][0]
    return client.post(
        "/accounts/sign-in/", {"username": username, "password": DEFAULT_PASSWORD, "next": target}, follow=True
    )


def landed_on(response: Any) -> str:
    return str(response.redirect_chain[-1][0]) if response.redirect_chain else ""


@pytest.fixture
def staff(cognito: CognitoFactory, staff_pool: UserPool) -> CognitoUser:
    return cognito.create_user(staff_pool, "stella", groups=["staff"], sign_in=False)


# --- signing in ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_login_sends_to_the_cognito_sign_in_page_keeping_next(client: Client, admin_settings: None) -> None:
    response = client.get("/admin/auth/user/?o=1", follow=True)
    assert response.request["PATH_INFO"] == "/accounts/sign-in/"
    back = parse_qs(urlsplit(landed_on(response)).query)["next"][0]
    assert back == "/admin/login/?next=%2Fadmin%2Fauth%2Fuser%2F%3Fo%3D1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "next_url", ["https://evil.example/admin/", "//evil.example/", "/admin/login/?next=/admin/login/"]
)
def test_the_admin_login_keeps_next_only_on_this_site(client: Client, admin_settings: None, next_url: str) -> None:
    response = client.get("/admin/login/", {"next": next_url})
    back = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    assert back == "/admin/login/?next=%2Fadmin%2F"


@pytest.mark.django_db
def test_a_staff_member_signs_in_with_cognito_and_reaches_the_admin_page_asked_for(
    client: Client, staff: CognitoUser
) -> None:
    response = sign_in(client, "stella", "/admin/?from=mail")  # a staff member without model permissions
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == "/admin/"
    assert response.request["QUERY_STRING"] == "from=mail"
    user = User.objects.get(username="stella")
    assert user.is_staff and not user.is_superuser


@pytest.mark.django_db
def test_a_member_of_the_superuser_group_is_staff_and_superuser(
    client: Client, cognito: CognitoFactory, staff_pool: UserPool
) -> None:
    cognito.create_user(staff_pool, "ada", groups=["admins"], sign_in=False)
    response = sign_in(client, "ada", "/admin/auth/user/")
    assert response.request["PATH_INFO"] == "/admin/auth/user/"
    assert response.status_code == 200
    user = User.objects.get(username="ada")
    assert user.is_staff and user.is_superuser


@pytest.mark.django_db
def test_a_user_who_is_not_staff_is_refused_with_a_message(
    client: Client, cognito: CognitoFactory, staff_pool: UserPool
) -> None:
    cognito.create_user(staff_pool, "norm", groups=["users"], sign_in=False)
    response = sign_in(client, "norm")
    assert response.status_code == 403
    assert response.request["PATH_INFO"] == "/admin/login/"
    assert "which is not a staff account" in response.content.decode()
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_a_local_staff_flag_is_taken_away_at_sign_in_when_the_pool_says_otherwise(
    client: Client, cognito: CognitoFactory, staff_pool: UserPool
) -> None:
    cognito.create_user(staff_pool, "norm", groups=["users"], sign_in=False)
    User.objects.create_user("norm", "norm@example.com", is_staff=True, is_superuser=True)  # linked by email
    response = sign_in(client, "norm")
    assert response.status_code == 403
    user = User.objects.get(username="norm")
    assert not user.is_staff and not user.is_superuser


@pytest.mark.django_db
def test_an_admin_removed_from_the_staff_group_is_out_at_the_next_request(
    client: Client, cognito: CognitoFactory, staff: CognitoUser, staff_pool: UserPool
) -> None:
    assert sign_in(client, "stella").status_code == 200
    cognito.idp.admin_remove_user_from_group(UserPoolId=staff_pool.pool_id, Username="stella", GroupName="staff")
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert "which is not a staff account" in response.content.decode()
    assert not User.objects.get(username="stella").is_staff


@pytest.mark.django_db
def test_a_token_without_the_self_service_scope_is_confirmed_with_admin_get_user(
    cognito: CognitoFactory, staff_pool: UserPool
) -> None:
    """Hosted-UI tokens may lack ``aws.cognito.signin.user.admin`` (GetUser refuses them): the pool is asked with
    AdminGetUser. The token is moto's own, re-signed with moto's key without that scope (moto's GetUser does not
    know it, so the GetUser path would refuse it)."""
    user = cognito.create_user(staff_pool, "hugo", groups=["staff"])
    claims = json.loads(base64.urlsafe_b64decode(user.tokens.access_token.split(".")[1] + "=="))
    hosted_token = MOTO_KEY.sign({"kid": "dummy", "alg": "RS256"}, {**claims, "scope": "openid email profile"})
    assert admin_login.read_pool(hosted_token) == admin_login.PoolView(mfa=(), groups=frozenset({"staff"}))
    cognito.idp.admin_disable_user(UserPoolId=staff_pool.pool_id, Username="hugo")
    with pytest.raises(exc.UserDisabled):
        admin_login.read_pool(hosted_token)


@pytest.mark.cognito_local
@pytest.mark.django_db
@pytest.mark.usefixtures("hosted")
def test_a_staff_member_signs_in_through_the_hosted_ui_and_lands_in_the_admin(
    client: Client, local_pool: LocalPool, settings: Any
) -> None:
    """cognito-local's hosted UI (behind ``localaws.oauth_front``, see test_hosted_ui.py), reached from the link on
    the sign-in page the admin sends the browser to."""
    settings.COGNITO = {**settings.COGNITO, "STAFF_GROUPS": ["staff"], "SUPERUSER_GROUPS": ["admins"]}
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": False, "BREAK_GLASS": False}
    local_pool.idp.create_group(UserPoolId=local_pool.pool_id, GroupName="staff")
    local_pool.idp.admin_add_user_to_group(UserPoolId=local_pool.pool_id, Username="hana", GroupName="staff")
    page = client.get("/admin/", follow=True)
    link = re.search(r'id="hosted-ui" href="([^"]+)"', page.content.decode())
    assert link is not None
    authorize_url = client.get(html.unescape(link.group(1)))["Location"]
    response = client.get("/accounts/callback/", authorize(authorize_url), follow=True)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == "/admin/"
    assert User.objects.get(username="hana").is_staff


# --- MFA --------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_mfa_required_an_admin_without_mfa_is_sent_to_add_an_authenticator_first(
    client: Client, staff: CognitoUser, settings: Any
) -> None:
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": True, "BREAK_GLASS": False}
    response = sign_in(client, "stella")
    assert response.request["PATH_INFO"] == "/accounts/mfa/totp/"
    assert "The admin needs MFA on your account" in response.content.decode()
    assert client.get("/admin/auth/group/")["Location"] == "/accounts/mfa/totp/"


@pytest.mark.django_db
def test_with_mfa_required_an_admin_with_an_authenticator_signs_in_through_the_code_step(
    client: Client, cognito: CognitoFactory, staff: CognitoUser, staff_pool: UserPool, settings: Any
) -> None:
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": True, "BREAK_GLASS": False}
    tokens = cognito.sign_in(staff_pool, "stella", DEFAULT_PASSWORD)
    secret = str(cognito.idp.associate_software_token(AccessToken=tokens.access_token)["SecretCode"])
    cognito.idp.verify_software_token(AccessToken=tokens.access_token, UserCode=totp_now(secret))
    cognito.idp.set_user_mfa_preference(
        AccessToken=tokens.access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    step = sign_in(client, "stella")
    assert 'data-step="SOFTWARE_TOKEN_MFA"' in step.content.decode()
    response = client.post("/accounts/sign-in/", {"step": "SOFTWARE_TOKEN_MFA", "code": totp_now(secret)}, follow=True)
    assert response.request["PATH_INFO"] == "/admin/"
    assert response.status_code == 200


# --- sessions ended at once -------------------------------------------------------------------------------------


def _global_sign_out_at_cognito(cognito: CognitoFactory, pool: UserPool) -> None:
    cognito.idp.admin_user_global_sign_out(UserPoolId=pool.pool_id, Username="stella")


def _disable_at_cognito(cognito: CognitoFactory, pool: UserPool) -> None:
    cognito.idp.admin_disable_user(UserPoolId=pool.pool_id, Username="stella")


def _sign_out_everywhere_here(cognito: CognitoFactory, pool: UserPool) -> None:
    signout.sign_out_users([User.objects.get(username="stella")], trigger="admin")


def _deactivate_here(cognito: CognitoFactory, pool: UserPool) -> None:
    user = User.objects.get(username="stella")
    user.is_active = False
    user.save()  # as the user admin's form does


@pytest.mark.django_db
@pytest.mark.parametrize(
    "end",
    [_global_sign_out_at_cognito, _disable_at_cognito, _sign_out_everywhere_here, _deactivate_here],
    ids=["global-sign-out-at-cognito", "disabled-at-cognito", "sign-out-everywhere-here", "deactivated-here"],
)
def test_an_admin_session_ends_at_once_when_its_tokens_are_revoked_or_the_account_disabled(
    client: Client, cognito: CognitoFactory, staff: CognitoUser, staff_pool: UserPool, end: Any
) -> None:
    assert sign_in(client, "stella").status_code == 200
    end(cognito, staff_pool)
    response = client.get("/admin/", follow=True, HTTP_ACCEPT="text/html")
    assert response.request["PATH_INFO"] == "/accounts/sign-in/"
    assert "_auth_user_id" not in client.session


def _pool_fails(faults: Faults, settings: Any) -> None:
    faults.inject("AdminListGroupsForUser", "internal_error")


def _keys_unreachable(faults: Faults, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json"}


@pytest.mark.django_db
@pytest.mark.parametrize("fault", [_pool_fails, _keys_unreachable], ids=["cognito-error", "signing-keys-unreachable"])
def test_when_cognito_cannot_answer_the_admin_answers_503_and_the_session_stays(
    client: Client, staff: CognitoUser, faults: Faults, settings: Any, fault: Any
) -> None:
    assert sign_in(client, "stella").status_code == 200
    fault(faults, settings)
    response = client.get("/admin/")
    assert response.status_code == 503
    assert "Cognito cannot confirm your admin session" in response.content.decode()
    assert client.session["_auth_user_id"]


@pytest.mark.django_db
def test_logging_out_of_the_admin_revokes_the_sessions_refresh_token(
    client: Client, staff: CognitoUser, faults: Faults
) -> None:
    assert sign_in(client, "stella").status_code == 200
    faults.answer("RevokeToken", {})  # moto has no RevokeToken: the call is answered, and seen, here
    response = client.post("/admin/logout/")
    assert response.status_code == 200
    assert faults.calls == ["RevokeToken"]
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_an_admins_change_password_link_goes_to_the_pools_password_page(client: Client, staff: CognitoUser) -> None:
    assert sign_in(client, "stella").status_code == 200
    assert client.get("/admin/password_change/")["Location"] == "/accounts/password/change/"


# --- break-glass ------------------------------------------------------------------------------------------------


@pytest.fixture
def root() -> Any:
    return User.objects.create_superuser("root", "root@example.com", "Local-Passw0rd!")


def break_glass(client: Client, password: str = "Local-Passw0rd!", username: str = "root") -> Any:  # noqa: S107
    return client.post(
        "/admin/login/?next=/admin/auth/user/",
        {"action": "break-glass", "username": username, "password": password, "next": "/admin/auth/user/"},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["break-glass", ""])
def test_local_passwords_are_refused_while_break_glass_is_off(
    client: Client, admin_settings: None, root: Any, action: str
) -> None:
    response = client.post(
        "/admin/login/", {"action": action, "username": "root", "password": "Local-Passw0rd!", "next": "/admin/"}
    )
    assert response.status_code == 403
    assert "does not take local passwords" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_break_glass_signs_a_local_superuser_in_and_logs_each_use_without_the_password(
    client: Client, admin_settings: None, root: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": True, "BREAK_GLASS": True}
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert 'id="break-glass-form"' in page.content.decode()
    with caplog.at_level(logging.WARNING, logger="accounts.admin_login"):
        response = break_glass(client)
    assert response["Location"] == "/admin/auth/user/"
    assert client.get("/admin/auth/user/").status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["break-glass admin sign-in: username=root client=127.0.0.1"]
    assert "Local-Passw0rd!" not in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["wrong-password", "staff-not-superuser"])
def test_break_glass_refuses_a_wrong_password_or_a_user_who_is_not_superuser(
    client: Client, admin_settings: None, root: Any, settings: Any, caplog: pytest.LogCaptureFixture, who: str
) -> None:
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": False, "BREAK_GLASS": True}
    User.objects.create_user("clerk", "clerk@example.com", "Local-Passw0rd!", is_staff=True)
    with caplog.at_level(logging.WARNING, logger="accounts.admin_login"):
        if who == "wrong-password":
            response = break_glass(client, password="Not-The-Passw0rd")
        else:
            response = break_glass(client, username="clerk")
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert "break-glass admin sign-in refused" in caplog.text
    assert "Passw0rd" not in caplog.text


@pytest.mark.django_db
def test_break_glass_tries_spend_the_sign_in_budget_of_the_client_address(
    client: Client, admin_settings: None, root: Any, settings: Any
) -> None:
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": False, "BREAK_GLASS": True}
    settings.ACCOUNTS = {**settings.ACCOUNTS, "THROTTLE_RATES": {"sign_in": "2/min"}}
    assert break_glass(client, password="Not-The-Passw0rd").status_code == 403
    assert break_glass(client, password="Not-The-Passw0rd").status_code == 403
    response = break_glass(client)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_break_glass_session_ends_when_break_glass_is_turned_off(
    client: Client, admin_settings: None, root: Any, settings: Any
) -> None:
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": False, "BREAK_GLASS": True}
    assert break_glass(client).status_code == 302
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": False, "BREAK_GLASS": False}
    response = client.get("/admin/auth/user/", follow=True)
    assert response.request["PATH_INFO"] == "/accounts/sign-in/"
    assert "_auth_user_id" not in client.session


# --- settings -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "staff", "superuser", "mfa", "glass"),
    [
        ({}, ["staff"], ["admins"], True, False),
        ({"DJANGO_DEBUG": "true"}, ["staff"], ["admins"], False, False),
        (
            {
                "COGNITO_STAFF_GROUPS": " ops, support ,",
                "COGNITO_SUPERUSER_GROUPS": "",
                "COGNITO_ADMIN_REQUIRE_MFA": "false",
                "COGNITO_ADMIN_BREAK_GLASS": "true",
            },
            ["ops", "support"],
            [],
            False,
            True,
        ),
    ],
)
def test_the_admin_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    staff: list[str],
    superuser: list[str],
    mfa: bool,
    glass: bool,
) -> None:
    for name in (
        "COGNITO_STAFF_GROUPS",
        "COGNITO_SUPERUSER_GROUPS",
        "COGNITO_ADMIN_REQUIRE_MFA",
        "COGNITO_ADMIN_BREAK_GLASS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_DEBUG", "false")
    monkeypatch.setenv("DJANGO_READ_DOTENV", "false")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    values = runpy.run_path(str(ROOT / "config" / "settings.py"))
    assert values["COGNITO"]["STAFF_GROUPS"] == staff
    assert values["COGNITO"]["SUPERUSER_GROUPS"] == superuser
    assert values["ADMIN_SIGN_IN"] == {"REQUIRE_MFA": mfa, "BREAK_GLASS": glass, "PASSWORD_SESSIONS": False}


@pytest.mark.parametrize(
    ("admin_sign_in", "ids"),
    [
        ({"REQUIRE_MFA": True, "BREAK_GLASS": False}, []),
        ({"REQUIRE_MFA": False, "BREAK_GLASS": True}, ["accounts.W101", "accounts.W102"]),
    ],
)
def test_check_deploy_warns_of_break_glass_and_of_admins_without_mfa(
    settings: Any, admin_sign_in: dict[str, bool], ids: list[str]
) -> None:
    from django.core.checks import run_checks

    settings.ADMIN_SIGN_IN = admin_sign_in
    found = [m.id for m in run_checks(include_deployment_checks=True) if str(m.id).startswith("accounts.W10")]
    assert found == ids


@pytest.mark.parametrize(("allowed", "reaches_admin"), [(False, False), (True, True)])
def test_a_password_session_from_before_cognito_reaches_the_admin_only_when_allowed(
    client: Client, settings: Any, allowed: bool, reaches_admin: bool
) -> None:
    """A staff session opened with a local password outside break-glass (the site's old login) is sent to sign
    in through Cognito, unless ``PASSWORD_SESSIONS`` is on (the test settings turn it on for force_login)."""
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": False, "BREAK_GLASS": False, "PASSWORD_SESSIONS": allowed}
    staff = User.objects.create_user("old-staff", "old@example.com", "Local-Passw0rd!", is_staff=True)
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/admin/")
    assert (response.status_code == 200) is reaches_admin
    if not reaches_admin:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
