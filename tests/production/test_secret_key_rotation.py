"""Rotating DJANGO_SECRET_KEY with the old key in DJANGO_SECRET_KEY_FALLBACKS signs nobody out."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from django.contrib.auth import get_user, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from tests.conftest import ROOT

from .conftest import production_env

OLD, NEW = "old-secret-key-" + "o" * 40, "new-secret-key-" + "n" * 40

pytestmark = pytest.mark.production  # once per suite: its processes use databases of their own


def session_user_after_rotation(client: Any, settings: Any, fallbacks: list[str]) -> Any:
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    user = get_user_model().objects.create_user("rotating", password="unused-Passw0rd")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, fallbacks
    request = RequestFactory().get("/")
    request.session = SessionStore(session_key=session_key)
    return get_user(request)


@pytest.mark.django_db
def test_a_session_survives_the_rotation_while_the_old_key_is_a_fallback(client: Any, settings: Any) -> None:
    assert session_user_after_rotation(client, settings, [OLD]).is_authenticated


@pytest.mark.django_db
def test_without_the_fallback_the_rotation_signs_the_session_out(client: Any, settings: Any) -> None:
    assert not session_user_after_rotation(client, settings, []).is_authenticated


def test_the_fallbacks_are_read_from_the_environment() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)"],
        cwd=ROOT,
        env=production_env(DJANGO_SECRET_KEY=NEW, DJANGO_SECRET_KEY_FALLBACKS=f"{OLD},older-key-{'x' * 40}"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == repr([OLD, f"older-key-{'x' * 40}"])
