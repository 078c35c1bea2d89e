"""User mapping (issue 10, items 4-8): which token may sync, who may be linked, how identities are keyed, which
emails count, and claims longer than the user model's fields.

Some of these only fail on PostgreSQL (its ``UPPER`` folds look-alike characters; it refuses over-long
values): the suite runs on both databases (``bin/test``).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from cognito_backend.checks import check_verification_settings
from cognito_backend.mapping import UserMapper, email_key
from cognito_backend.models import CognitoIdentity
from cognito_backend.tokens import verify_token

from .conftest import ISSUER, SigningKey, forged_claims

User = get_user_model()
ME = "/api/auth/me/"
HEADER = {"alg": "RS256", "kid": "dummy"}
OTHER_POOL = "us-east-1_Forged2"
OTHER_ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{OTHER_POOL}"


def me(token: str) -> Any:
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")


def id_token(key: SigningKey, **claims: Any) -> str:
    return key.sign(HEADER, forged_claims("id", **claims))


# --- 4. an older token never undoes what a newer one synced ----------------------------------------------------


@pytest.fixture
def admin_groups(forged_pool: Any, settings: Any) -> None:
    settings.COGNITO = {
        **settings.COGNITO,
        "MANAGED_GROUPS": ["admins"],
        "STAFF_GROUPS": ["admins"],
        "SUPERUSER_GROUPS": ["admins"],
    }


@pytest.mark.django_db
def test_older_token_presented_after_a_newer_one_does_not_restore_superuser(
    admin_groups: None, moto_key: SigningKey
) -> None:
    now = int(time.time())
    old = id_token(moto_key, iat=now - 600, auth_time=now - 600, jti="old", **{"cognito:groups": ["admins"]})
    new = id_token(moto_key, iat=now, auth_time=now - 600, jti="new")
    assert me(old).json()["is_staff"] is True
    assert me(new).json()["is_staff"] is False
    response = me(old)  # still a valid token: it authenticates, but its groups are history
    assert response.status_code == 200
    assert response.json()["is_staff"] is False
    user = User.objects.get()
    assert not user.is_superuser and not user.is_staff
    assert not user.groups.filter(name="admins").exists()


@pytest.mark.django_db
def test_older_token_does_not_restore_an_old_email_or_name(forged_pool: Any, moto_key: SigningKey) -> None:
    now = int(time.time())
    old = id_token(moto_key, iat=now - 600, auth_time=now - 600, jti="old", email="old@example.com", given_name="Old")
    new = id_token(moto_key, iat=now, auth_time=now - 600, jti="new", email="new@example.com", given_name="New")
    assert me(new).status_code == 200
    assert me(old).status_code == 200
    user = User.objects.get()
    assert (user.email, user.first_name) == ("new@example.com", "New")


@pytest.mark.django_db
def test_newer_token_still_syncs_after_an_older_one(admin_groups: None, moto_key: SigningKey) -> None:
    now = int(time.time())
    assert me(id_token(moto_key, iat=now - 600, auth_time=now - 600, jti="old")).status_code == 200
    assert me(id_token(moto_key, iat=now, jti="new", **{"cognito:groups": ["admins"]})).status_code == 200
    user = User.objects.get()
    assert user.is_superuser and user.groups.filter(name="admins").exists()
    identity = CognitoIdentity.objects.get()
    assert identity.synced_token_iat is not None and identity.synced_token_iat.timestamp() == now


@pytest.mark.django_db
def test_token_of_the_same_second_read_before_a_newer_sync_does_not_write_over_it(
    admin_groups: None, moto_key: SigningKey
) -> None:
    """The interleaving of two racing requests, played in order: one read the link while the old token was the
    last synced, then a newer token synced, then the first one copies its (old) claims."""
    now = int(time.time())
    old = id_token(moto_key, iat=now - 600, auth_time=now - 600, jti="old", **{"cognito:groups": ["admins"]})
    assert me(old).json()["is_staff"] is True
    stale = CognitoIdentity.objects.select_related("user").get()
    assert me(id_token(moto_key, iat=now, auth_time=now - 600, jti="new")).json()["is_staff"] is False
    sibling = verify_token(
        id_token(moto_key, iat=now - 600, auth_time=now - 600, jti="sibling", **{"cognito:groups": ["admins"]})
    )
    assert UserMapper().sync_user(stale, stale.user, sibling) is False
    user = User.objects.get()
    assert not user.is_superuser and not user.groups.filter(name="admins").exists()


# --- 5. LINK_BY="username" ---------------------------------------------------------------------------------------


def _e020(settings: Any, **cognito: Any) -> list[str]:
    settings.COGNITO = {**settings.COGNITO, **cognito}
    return [m.id for m in check_verification_settings() if m.id == "cognito_backend.E020"]


def test_link_by_username_is_refused_by_a_system_check(settings: Any) -> None:
    assert _e020(settings, LINK_BY="username") == ["cognito_backend.E020"]
    assert _e020(settings, LINK_BY="username", TRUST_POOL_USERNAMES="yes") == ["cognito_backend.E020"]


def test_link_by_username_passes_the_check_when_pool_usernames_are_trusted(settings: Any) -> None:
    assert _e020(settings, LINK_BY="username", TRUST_POOL_USERNAMES=True) == []
    assert _e020(settings, LINK_BY="email") == []


@pytest.mark.django_db
def test_link_by_username_without_trust_links_nobody(forged_pool: Any, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "LINK_BY": "username"}
    local = User.objects.create_user("mallory")
    me(id_token(moto_key))
    assert CognitoIdentity.objects.get().user != local


@pytest.mark.django_db
@pytest.mark.parametrize("flags", [{"is_staff": True}, {"is_superuser": True}])
def test_staff_and_superusers_are_never_linked_by_username(
    forged_pool: Any, moto_key: SigningKey, settings: Any, flags: dict[str, bool]
) -> None:
    settings.COGNITO = {**settings.COGNITO, "LINK_BY": "username", "TRUST_POOL_USERNAMES": True}
    admin = User.objects.create_user("admin")
    User.objects.filter(pk=admin.pk).update(**flags)
    response = me(id_token(moto_key, **{"cognito:username": "admin"}))
    assert response.status_code == 200
    linked = CognitoIdentity.objects.get().user
    assert linked != admin
    assert linked.username.startswith("admin-")
    assert not linked.is_staff and not linked.is_superuser


# --- 6. identities keyed by (issuer, sub) ------------------------------------------------------------------------


@pytest.fixture
def two_pools(forged_pool: Any, settings: Any) -> None:
    settings.COGNITO = {
        **settings.COGNITO,
        "POOLS": [{"USER_POOL_ID": OTHER_POOL, "APP_CLIENT_IDS": ["forgedclient"], "JWKS_URL": forged_pool.url}],
    }


@pytest.mark.django_db
def test_same_sub_in_another_pool_is_another_user_and_the_first_link_is_kept(
    two_pools: None, moto_key: SigningKey
) -> None:
    first = me(id_token(moto_key))
    second = me(id_token(moto_key, iss=OTHER_ISSUER, **{"cognito:username": "mallory2"}, email="m2@example.com"))
    assert first.status_code == second.status_code == 200
    assert first.json()["username"] != second.json()["username"]
    links = {i.issuer: i for i in CognitoIdentity.objects.all()}
    assert set(links) == {ISSUER, OTHER_ISSUER}
    assert links[ISSUER].pool_id == "us-east-1_Forged1"  # not rewritten by the other pool's token
    assert links[OTHER_ISSUER].pool_id == OTHER_POOL
    assert links[ISSUER].user != links[OTHER_ISSUER].user
    assert me(id_token(moto_key, jti="again")).json()["username"] == first.json()["username"]


@pytest.mark.django_db
def test_link_written_without_an_issuer_gets_its_pools(forged_pool: Any, moto_key: SigningKey) -> None:
    """Code that links users itself (the bulk migration) writes sub and pool id only; the link still works."""
    sub = forged_claims("id")["sub"]
    carol = User.objects.create_user("carol")
    identity = CognitoIdentity.objects.create(user=carol, sub=sub, pool_id="us-east-1_Forged1", username="mallory")
    assert identity.issuer == ISSUER
    assert me(id_token(moto_key)).json()["username"] == "carol"


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_existing_links_and_gives_them_their_issuer(settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "POOLS": [{"USER_POOL_ID": OTHER_POOL, "ISSUER": "https://idp.test/x"}]}
    executor = MigrationExecutor(connection)
    before = [("cognito_backend", "0002_revokedtokenfamily_userrevocation")]
    after = [("cognito_backend", "0003_identity_issuer_sub")]
    executor.migrate(before)
    try:
        old_apps = executor.loader.project_state(before).apps
        user_model = old_apps.get_model(settings.AUTH_USER_MODEL)
        identity_model = old_apps.get_model("cognito_backend", "CognitoIdentity")
        for name, pool in (("ann", "eu-west-1_Abc"), ("bob", OTHER_POOL)):
            user = user_model.objects.create(username=name, password="!")
            identity_model.objects.create(user_id=user.pk, sub=f"sub-{name}", pool_id=pool, username=name)
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        call_command("migrate", verbosity=0)
    links = {i.user.username: (i.issuer, i.sub) for i in CognitoIdentity.objects.select_related("user")}
    assert links == {
        "ann": ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc", "sub-ann"),
        "bob": ("https://idp.test/x", "sub-bob"),
    }


# --- 7. email_verified and email comparison ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("verified", [1, "1", "True", "yes"])
def test_only_true_or_the_string_true_counts_as_verified(forged_pool: Any, moto_key: SigningKey, verified: Any) -> None:
    victim = User.objects.create_user("victim", email="m@example.com")
    assert me(id_token(moto_key, email="m@example.com", email_verified=verified)).status_code == 200
    assert CognitoIdentity.objects.get().user != victim


@pytest.mark.django_db
@pytest.mark.parametrize("verified", [True, "true"])
def test_true_and_the_string_true_link(forged_pool: Any, moto_key: SigningKey, verified: Any) -> None:
    owner = User.objects.create_user("owner", email="m@example.com")
    me(id_token(moto_key, email="m@example.com", email_verified=verified))
    assert CognitoIdentity.objects.get().user == owner


@pytest.mark.django_db
@pytest.mark.parametrize("verified", [False, "false", 1, None])
def test_unverified_email_is_not_copied_to_the_user(forged_pool: Any, moto_key: SigningKey, verified: Any) -> None:
    me(id_token(moto_key, email="m@example.com", email_verified=True))
    now = int(time.time())
    me(id_token(moto_key, iat=now + 1, jti="2", email="attacker@example.com", email_verified=verified))
    assert User.objects.get().email == "m@example.com"


@pytest.mark.django_db
def test_unverified_email_of_a_new_user_is_not_copied(forged_pool: Any, moto_key: SigningKey) -> None:
    me(id_token(moto_key, email="m@example.com", email_verified=False))
    assert User.objects.get().email == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("local", "cognito"),
    [
        ("admin@example.com", "adm\u0131n@example.com"),  # dotless i: PostgreSQL's UPPER makes it I
        ("sam@example.com", "\u017fam@example.com"),  # long s: UPPER makes it S
        ("kate@example.com", "\u212aate@example.com"),  # Kelvin sign
    ],
)
def test_look_alike_email_does_not_link_the_ascii_account(
    forged_pool: Any, moto_key: SigningKey, local: str, cognito: str
) -> None:
    victim = User.objects.create_user("victim", email=local)
    assert me(id_token(moto_key, email=cognito, email_verified=True)).status_code == 200
    assert CognitoIdentity.objects.get().user != victim


def test_email_key_folds_case_but_never_onto_ascii() -> None:
    assert email_key("Admin@Example.COM") == email_key("admin@example.com")
    assert email_key("J\u00d6RG@example.com") == email_key("j\u00f6rg@example.com")
    assert email_key("jo\u0308rg@example.com") == email_key("j\u00f6rg@example.com")  # NFC
    for look_alike in ("adm\u0131n@x.io", "\u017fam@x.io", "\u212aate@x.io", "stra\u00dfe@x.io"):
        ascii_form = look_alike.casefold().encode("ascii", "ignore").decode()
        assert email_key(look_alike) != email_key(ascii_form)


# --- 8. claims longer than the model's fields ------------------------------------------------------------------


@pytest.mark.django_db
def test_names_longer_than_the_fields_are_cut_to_fit(forged_pool: Any, moto_key: SigningKey) -> None:
    long_given, long_family = "G" * 2048, "F" * 2048
    response = me(id_token(moto_key, given_name=long_given, family_name=long_family))
    assert response.status_code == 200, response.content
    user = User.objects.get()
    limit = User._meta.get_field("first_name").max_length
    assert user.first_name == long_given[:limit] and user.last_name == long_family[:limit]
    # the next token (a newer one, so it syncs) with the same long names changes nothing and still passes
    response = me(id_token(moto_key, iat=int(time.time()) + 1, jti="2", given_name=long_given, family_name=long_family))
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_names_longer_than_the_fields_do_not_break_an_existing_user(forged_pool: Any, moto_key: SigningKey) -> None:
    me(id_token(moto_key, given_name="Mal"))
    response = me(id_token(moto_key, iat=int(time.time()) + 1, jti="2", given_name="\u00e9" * 500))
    assert response.status_code == 200, response.content
    limit = User._meta.get_field("first_name").max_length
    assert limit is not None and User.objects.get().first_name == "\u00e9" * limit


@pytest.mark.django_db
def test_email_longer_than_the_field_is_not_copied(forged_pool: Any, moto_key: SigningKey) -> None:
    long_email = "m" * 300 + "@example.com"
    response = me(id_token(moto_key, email=long_email, email_verified=True))
    assert response.status_code == 200, response.content
    assert User.objects.get().email == ""
