"""Settings for the test suite: the developer's ``.env`` is never read, values come from fixtures."""

import os

os.environ["DJANGO_READ_DOTENV"] = "false"

from .settings import *  # noqa: F403
from .settings import CACHES as _CACHES

# Fast hashing for tests; production keeps Django's default PBKDF2 (lazy migration tests use both).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
TOKEN_ENCRYPTION_KEY = "tL0cQZbQm5N8yqC3bGzJxq2n6x0c7hW3lJ0nq3y8V2c="  # noqa: S105 - a test-only key
CELERY_TASK_ALWAYS_EAGER = False
CACHES = _CACHES
# No collectstatic before tests: Django's plain storage (production hashes names: STORAGES in settings.py).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # STATIC_ROOT is not collected: WhiteNoise looks files up per request
LOGGING["loggers"]["werkzeug"] = {"level": "WARNING"}  # noqa: F405 - the in-process moto server's access log
# Placeholders so system checks pass; tests that talk to Cognito configure a real pool (tests/conftest.py).
COGNITO = {**COGNITO, "USER_POOL_ID": "us-east-1_Placeholder", "APP_CLIENT_ID": "placeholder-client"}  # noqa: F405
# Tests open staff sessions with force_login (the password backend comes first); production refuses such sessions
# at the admin (tests/accounts/test_admin_sign_in.py checks both).
ADMIN_SIGN_IN = {**ADMIN_SIGN_IN, "PASSWORD_SESSIONS": True}  # noqa: F405
