"""CognitoBackend: users created, linked and updated from tokens; groups synced; deactivated users refused."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.test import APIClient

from cognito_backend.mapping import UserMapper, user_cache
from cognito_backend.models import CognitoIdentity
from cognito_backend.services import authenticate_token

from .conftest import SigningKey, forged_claims

User = get_user_model()
ME = "/api/auth/me/"
HEADER = {"alg": "RS256", "kid": "dummy"}


def me(token: str) -> Any:
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")


def id_token(key: SigningKey, **claims: Any) -> str:
    return key.sign(HEADER, forged_claims("id", **claims))


@pytest.mark.django_db
def test_first_sign_in_creates_the_user_and_its_link(cognito_user: Any) -> None:
    assert me(cognito_user.tokens.access_token).status_code == 200
    identity = CognitoIdentity.objects.select_related("user").get(sub=cognito_user.sub)
    assert identity.user.username == "alice"
    assert identity.user.email == "alice@example.com"
    assert identity.pool_id == cognito_user.pool_id
    assert identity.last_seen is not None
    assert not identity.user.has_usable_password()


@pytest.mark.django_db
def test_second_sign_in_reuses_the_user(cognito_user: Any) -> None:
    me(cognito_user.tokens.access_token)
    me(cognito_user.tokens.id_token)
    assert User.objects.count() == 1
    assert CognitoIdentity.objects.count() == 1


@pytest.mark.django_db
def test_existing_user_is_linked_by_verified_email(forged_pool: Any, moto_key: SigningKey) -> None:
    existing = User.objects.create_user("old-mallory", email="M@example.com", password="x")
    response = me(id_token(moto_key, email="m@example.com", email_verified=True))
    assert response.json()["username"] == "old-mallory"
    assert CognitoIdentity.objects.get().user == existing


@pytest.mark.django_db
@pytest.mark.parametrize("verified", [False, "false", None])
def test_unverified_email_never_links_an_existing_user(forged_pool: Any, moto_key: SigningKey, verified: Any) -> None:
    victim = User.objects.create_user("victim", email="m@example.com", password="x")
    response = me(id_token(moto_key, email="m@example.com", email_verified=verified))
    assert response.status_code == 200
    assert CognitoIdentity.objects.get().user != victim


@pytest.mark.django_db
def test_email_shared_by_two_local_users_links_neither(forged_pool: Any, moto_key: SigningKey) -> None:
    User.objects.create_user("one", email="m@example.com")
    User.objects.create_user("two", email="m@example.com")
    me(id_token(moto_key))
    assert CognitoIdentity.objects.get().user.username == "mallory"


@pytest.mark.django_db
def test_link_by_username_when_configured(forged_pool: Any, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "LINK_BY": "username", "TRUST_POOL_USERNAMES": True}
    existing = User.objects.create_user("mallory")
    me(id_token(moto_key, email_verified=False))
    assert CognitoIdentity.objects.get().user == existing


@pytest.mark.django_db
def test_username_taken_by_an_unlinked_user_gets_a_new_user(forged_pool: Any, moto_key: SigningKey) -> None:
    other = User.objects.create_user("mallory", email="someone@example.com")
    me(id_token(moto_key))
    linked = CognitoIdentity.objects.get().user
    assert linked != other
    assert linked.username.startswith("mallory-")


@pytest.mark.django_db
def test_user_is_not_created_when_creation_is_off(forged_pool: Any, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "CREATE_USERS": False}
    response = me(id_token(moto_key))
    assert response.status_code == 401
    assert response.json()["code"] == "user_not_found"


@pytest.mark.django_db
def test_changed_attributes_are_copied(forged_pool: Any, moto_key: SigningKey) -> None:
    me(id_token(moto_key, given_name="Mal", family_name="Lory"))
    me(id_token(moto_key, jti="2", email="new@example.com", given_name="Mallory", family_name="Lory"))
    user = User.objects.get()
    assert (user.email, user.first_name, user.last_name) == ("new@example.com", "Mallory", "Lory")


@pytest.mark.django_db
def test_deactivated_local_user_is_refused(cognito_user: Any) -> None:
    assert me(cognito_user.tokens.access_token).status_code == 200
    User.objects.filter(username="alice").update(is_active=False)
    user_cache.clear()  # an update() sends no signal; a save() does (see the next test)
    response = me(cognito_user.tokens.access_token)
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


@pytest.mark.django_db
def test_deactivating_through_save_takes_effect_at_once(cognito_user: Any) -> None:
    me(cognito_user.tokens.access_token)
    user = User.objects.get(username="alice")
    user.is_active = False
    user.save()
    response = me(cognito_user.tokens.access_token)
    assert response.status_code == 401
    # user_inactive from the backend; token_revoked where the site also signs a disabled user out (accounts does)
    assert response.json()["code"] in {"user_inactive", "token_revoked"}


@pytest.mark.django_db
def test_deactivated_user_found_by_email_is_not_linked(forged_pool: Any, moto_key: SigningKey) -> None:
    User.objects.create_user("old", email="m@example.com", is_active=False)
    assert me(id_token(moto_key)).json()["code"] == "user_inactive"


@pytest.mark.django_db
def test_managed_groups_are_synced_both_ways_and_others_left_alone(
    forged_pool: Any, moto_key: SigningKey, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "MANAGED_GROUPS": ["admins", "editors"]}
    me(id_token(moto_key, **{"cognito:groups": ["admins", "unmanaged"]}))
    user = User.objects.get()
    local = Group.objects.create(name="local-only")
    user.groups.add(local)
    assert set(user.groups.values_list("name", flat=True)) == {"admins", "local-only"}
    me(id_token(moto_key, jti="2", **{"cognito:groups": ["editors"]}))
    assert set(user.groups.values_list("name", flat=True)) == {"editors", "local-only"}


@pytest.mark.django_db
def test_staff_and_superuser_follow_their_groups(forged_pool: Any, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "STAFF_GROUPS": ["staff", "admins"], "SUPERUSER_GROUPS": ["admins"]}
    me(id_token(moto_key, **{"cognito:groups": ["admins"]}))
    user = User.objects.get()
    assert user.is_staff and user.is_superuser
    me(id_token(moto_key, jti="2", **{"cognito:groups": ["staff"]}))
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser
    me(id_token(moto_key, jti="3"))
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser


@pytest.mark.django_db
def test_django_authenticate_accepts_a_cognito_token(cognito_user: Any) -> None:
    user = authenticate(None, cognito_token=cognito_user.tokens.id_token)
    assert user is not None and user.get_username() == "alice"


@pytest.mark.django_db
def test_password_logins_never_reach_the_backend(cognito_user: Any) -> None:
    assert authenticate(None, username="alice", password=cognito_user.password) is None
    assert CognitoIdentity.objects.count() == 0


@pytest.mark.django_db
def test_django_authenticate_returns_none_for_a_bad_token_and_says_why(cognito_user: Any) -> None:
    class Request:
        pass

    request: Any = Request()
    assert authenticate(request, cognito_token="a.b.c") is None
    assert request.cognito_error.code == "token_malformed"


class UpperMapper(UserMapper):
    def create_user(self, token: Any, attributes: Any) -> Any:
        return User.objects.create_user(token.username.upper())


@pytest.mark.django_db
def test_hooks_can_be_overridden(forged_pool: Any, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "USER_MAPPER": f"{__name__}.UpperMapper"}
    user, _ = authenticate_token(id_token(moto_key))
    assert user.username == "MALLORY"


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_create_one_user(forged_pool: Any, moto_key: SigningKey) -> None:
    tokens = [id_token(moto_key, jti=f"j{i}") for i in range(6)]
    results: list[Any] = []
    barrier = threading.Barrier(len(tokens))

    def run(token: str) -> None:
        try:
            barrier.wait()
            user, _ = authenticate_token(token)
            results.append(user.pk)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert User.objects.count() == 1
    assert CognitoIdentity.objects.count() == 1
    winner = User.objects.get().pk
    if connection.vendor == "sqlite":
        # The in-memory test database shares one cache between threads and answers a concurrent writer with
        # "database table is locked" at once (no busy timeout there); a file database waits instead. What must
        # hold either way: no duplicate, no IntegrityError, and every request that got a user got the same one.
        assert all(r == winner or "locked" in str(r) for r in results), results
        assert winner in results
    else:
        assert results == [winner] * len(tokens)
