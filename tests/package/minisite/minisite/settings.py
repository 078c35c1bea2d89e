"""Settings of a minimal site that adds django-cognito-backend, as its README tells a site to.

Nothing of the project around the package: no ``config``, no ``accounts``, no site environment variables beyond
the few read here (``MINISITE_*``, set by the tests). The three settings a site must set are ``COGNITO``'s
``REGION``, ``USER_POOL_ID`` and ``APP_CLIENT_ID``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("MINISITE_SECRET_KEY", "minisite-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "cognito_backend",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "minisite.urls"
TEMPLATES: list[dict[str, Any]] = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("MINISITE_DB", str(BASE_DIR / "minisite.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "cognito_backend.backends.CognitoBackend"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cognito_backend.authentication.CognitoAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "cognito_backend.drf.exception_handler",
}

COGNITO: dict[str, Any] = {
    "REGION": "us-east-1",
    "USER_POOL_ID": "us-east-1_Placeholder",
    "APP_CLIENT_ID": "placeholder-client",
    **json.loads(os.environ.get("MINISITE_COGNITO", "{}")),
}
COGNITO_AWS: dict[str, Any] = json.loads(os.environ.get("MINISITE_COGNITO_AWS", "{}"))
