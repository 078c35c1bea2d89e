"""Project settings, read from the environment.

Every value has a default that runs locally; ``manage.py localaws up`` writes the ids of the local user pool
into a git-ignored ``.env`` that is read here (real environment variables always win). A malformed value does
not raise at import: it is recorded in ``SETTINGS_ERRORS`` and reported by a system check that names it, so an
operator sees which setting is wrong instead of a stack trace.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if os.environ.get("DJANGO_READ_DOTENV", "true").lower() not in {"0", "false", "no", "off"}:
    _dotenv = Path(os.environ.get("DJANGO_DOTENV_FILE", BASE_DIR / ".env"))
    if _dotenv.is_file():
        environ.Env.read_env(str(_dotenv))

# (environment variable, message) pairs for values that could not be parsed; see config/checks.py.
SETTINGS_ERRORS: list[tuple[str, str]] = []


def _read(name: str, cast: Any, default: Any) -> Any:
    """Read one variable; a malformed value is recorded and the default used instead."""
    try:
        return env.get_value(name, cast=cast, default=default)
    except (ValueError, TypeError, environ.ImproperlyConfigured) as exc:
        SETTINGS_ERRORS.append((name, str(exc) or "malformed value"))
        return default


_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def _read_bool(name: str, default: bool) -> bool:
    """Strict boolean: a typo such as ``DJANGO_DEBUG=maybe`` is an error, not a silent False."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    SETTINGS_ERRORS.append((name, f"{raw!r} is not a boolean (use true or false)"))
    return default


DEBUG: bool = _read_bool("DJANGO_DEBUG", True)
SECRET_KEY: str = _read("DJANGO_SECRET_KEY", str, "")
SECRET_KEY_MISSING = not SECRET_KEY
if SECRET_KEY_MISSING:
    # Only good for local development: config.E002 refuses to run without a real key when DEBUG is off.
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105
# Former keys, still accepted for what they signed (sessions' auth hashes, signed cookies, password reset links)
# while the new one signs: rotating the key then signs nobody out (docs/operations.md).
SECRET_KEY_FALLBACKS: list[str] = _read("DJANGO_SECRET_KEY_FALLBACKS", list, [])
ALLOWED_HOSTS: list[str] = _read("DJANGO_ALLOWED_HOSTS", list, ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS: list[str] = _read("DJANGO_CSRF_TRUSTED_ORIGINS", list, [])

INSTALLED_APPS = [
    # Django's admin on a site that signs in through Cognito (accounts/admin_site.py).
    "accounts.admin_site.CognitoAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "config.apps.ConfigConfig",
    "cognito_backend",
    "accounts",
    "dashboard",
    "migrations_tools",
    "localaws",
]

MIDDLEWARE = [
    # First: every log line of a request carries its id (config/logging.py), answered as X-Request-ID.
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from STATIC_ROOT (collectstatic), compressed, with hashed names cached for a year.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Sessions opened with a Cognito token end when it is revoked (global sign-out, password reset, admin ...).
    "cognito_backend.middleware.SessionRevocationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_default_db = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    DATABASES = {"default": env.db_url_config(_read("DATABASE_URL", str, _default_db))}
    if "." not in DATABASES["default"]["ENGINE"]:
        raise ValueError(f"unknown database scheme {DATABASES['default']['ENGINE']!r}")
except (ValueError, KeyError, environ.ImproperlyConfigured) as exc:
    SETTINGS_ERRORS.append(("DATABASE_URL", f"cannot parse the database URL: {exc}"))
    DATABASES = {"default": env.db_url_config(_default_db)}
# Persistent connections (seconds; 0 closes each request's connection), checked before reuse.
DATABASES["default"].setdefault("CONN_MAX_AGE", _read("DATABASE_CONN_MAX_AGE", int, 60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", _read_bool("DATABASE_CONN_HEALTH_CHECKS", True))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite for a web server (Django 5.1+): WAL lets readers work beside the one writer; IMMEDIATE takes the write
    # lock when a transaction begins, so concurrent writers queue for up to the busy timeout instead of failing at
    # once with "database is locked" when a read-then-write transaction cannot upgrade its lock. Options given in
    # DATABASE_URL's query string win.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": _read("DATABASE_SQLITE_TIMEOUT", float, 20.0),
        "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

try:
    CACHES = {"default": env.cache_url_config(_read("CACHE_URL", str, "locmemcache://cognito"))}
except (ValueError, KeyError, environ.ImproperlyConfigured) as exc:
    SETTINGS_ERRORS.append(("CACHE_URL", f"cannot parse the cache URL ({type(exc).__name__})"))
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if str(CACHES["default"].get("BACKEND", "")).endswith("RedisCache"):
    # Bounded cache calls: a partitioned Redis must not hang requests (revocation checks then ask the database).
    # Query options of CACHE_URL (``?socket_timeout=0.5``) are redis-py's lower-case keywords.
    CACHES["default"]["OPTIONS"] = {
        "socket_connect_timeout": 1.0,
        "socket_timeout": 1.0,
        **{str(k).lower(): v for k, v in (CACHES["default"].get("OPTIONS") or {}).items()},
    }

# Sessions in the database; with a shared cache read through it (cached_db), and remembered per process
# (cognito_backend.sessions): with Redis while the invalidation bus is live, else for REVOCATION_MEMO_SECONDS and
# only while the browser presents the session's current version (a cookie stamped at each write), so a repeated
# session request costs no query. The per-process default cache is never used for sessions.
SESSION_ENGINE = "cognito_backend.sessions"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "cognito_backend.backends.CognitoBackend"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(_read("DJANGO_STATIC_ROOT", str, str(BASE_DIR / "staticfiles")))
# collectstatic writes hashed, compressed (gzip, Brotli when installed) copies; WhiteNoise serves them.
STORAGES: dict[str, Any] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- HTTPS (docs/operations.md) --------------------------------------------------------------------------------
# DJANGO_HTTPS=true when the site is reached over HTTPS only: secure cookies, redirect to HTTPS (not /healthz, for
# load balancers' plain checks), HSTS. Behind a proxy that ends TLS, name the header it sets:
# DJANGO_SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto=https (believed only when the proxy always sets it).
HTTPS: bool = _read_bool("DJANGO_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_HSTS_SECONDS: int = _read("DJANGO_HSTS_SECONDS", int, 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = _read_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD: bool = _read_bool("DJANGO_HSTS_PRELOAD", True)
SECURE_PROXY_SSL_HEADER: tuple[str, str] | None = None
_proxy_header = _read("DJANGO_SECURE_PROXY_SSL_HEADER", str, "")
if _proxy_header:
    _header, _sep, _value = _proxy_header.partition("=")
    if _sep and _header.strip() and _value.strip():
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _header.strip().upper().replace("-", "_"), _value.strip())
    else:
        SETTINGS_ERRORS.append(
            ("DJANGO_SECURE_PROXY_SSL_HEADER", "expected Header-Name=value, e.g. X-Forwarded-Proto=https")
        )
LOGIN_URL = "/accounts/sign-in/"
LOGIN_REDIRECT_URL = "/dashboard/"

# --- AWS and Cognito -----------------------------------------------------------------------------------------
# boto3 itself honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>; they are read here as well so that
# both client seams can be pointed elsewhere from settings (tests do): AWS for the site's own clients (Lambda,
# IAM: config/aws.py), COGNITO_AWS for the package's Cognito clients (cognito_backend/clients.py).
COGNITO_REGION: str = _read("COGNITO_REGION", str, os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
AWS: dict[str, Any] = {
    "REGION": COGNITO_REGION,
    "ENDPOINT_URL": _read("AWS_ENDPOINT_URL", str, "") or None,
    "ENDPOINT_URLS": {
        "cognito-idp": _read("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", str, "") or None,
        "cognito-identity": _read("AWS_ENDPOINT_URL_COGNITO_IDENTITY", str, "") or None,
        "lambda": _read("AWS_ENDPOINT_URL_LAMBDA", str, "") or None,
        "sts": _read("AWS_ENDPOINT_URL_STS", str, "") or None,  # Cloud Connect's step 1 in the basic flow
    },
    "CONNECT_TIMEOUT": _read("AWS_CONNECT_TIMEOUT", float, 2.0),
    "READ_TIMEOUT": _read("AWS_READ_TIMEOUT", float, 10.0),
    "MAX_ATTEMPTS": _read("AWS_MAX_ATTEMPTS", int, 3),
}
COGNITO_AWS: dict[str, Any] = {
    **AWS,
    "ENDPOINT_URLS": {name: url for name, url in AWS["ENDPOINT_URLS"].items() if name.startswith("cognito-")},
}

COGNITO: dict[str, Any] = {
    "REGION": COGNITO_REGION,
    "USER_POOL_ID": _read("COGNITO_USER_POOL_ID", str, ""),
    "APP_CLIENT_ID": _read("COGNITO_APP_CLIENT_ID", str, ""),
    "APP_CLIENT_SECRET": _read("COGNITO_APP_CLIENT_SECRET", str, ""),
    "ISSUER": _read("COGNITO_ISSUER", str, ""),
    "JWKS_URL": _read("COGNITO_JWKS_URL", str, ""),
    "IDENTITY_POOL_ID": _read("COGNITO_IDENTITY_POOL_ID", str, ""),
    "DOMAIN": _read("COGNITO_DOMAIN", str, ""),
    # Ask Cognito (GetUser, once per access token per interval) whether a token was signed out at Cognito.
    "ONLINE_CHECK": _read_bool("COGNITO_ONLINE_CHECK", False),
    "ONLINE_CHECK_INTERVAL": _read("COGNITO_ONLINE_CHECK_INTERVAL", float, 60.0),
    # The longest a revocation made by another process can go unseen without Redis pub/sub (seconds).
    "REVOCATION_MEMO_SECONDS": _read("COGNITO_REVOCATION_MEMO_SECONDS", float, 5.0),
    # More trusted pools, JSON: [{"USER_POOL_ID": ..., "APP_CLIENT_IDS": [...], "ISSUER": ..., "JWKS_URL": ...}].
    "POOLS": _read("COGNITO_POOLS", json.loads, []),
    # Cognito groups whose members are staff / superusers here, on every sign-in (comma-separated; empty: the
    # flag is left alone). The defaults are the local AWS's groups.
    "STAFF_GROUPS": [g.strip() for g in os.environ.get("COGNITO_STAFF_GROUPS", "staff").split(",") if g.strip()],
    "SUPERUSER_GROUPS": [
        g.strip() for g in os.environ.get("COGNITO_SUPERUSER_GROUPS", "admins").split(",") if g.strip()
    ],
}

# accounts/admin_login.py: the admin signs in through Cognito. REQUIRE_MFA sends an admin without MFA to set it up
# first; BREAK_GLASS accepts local superuser passwords at /admin/login/ (each use logged as a warning).
ADMIN_SIGN_IN: dict[str, Any] = {
    "REQUIRE_MFA": _read_bool("COGNITO_ADMIN_REQUIRE_MFA", not DEBUG),
    "BREAK_GLASS": _read_bool("COGNITO_ADMIN_BREAK_GLASS", False),
    # A session opened with a local password outside break-glass (the site's login from before Cognito, or
    # force_login in tests) reaches the admin only when this is on. Off: such sessions are sent to sign in.
    "PASSWORD_SESSIONS": False,
}

# accounts/hosted.py: sign-in through the hosted UI at COGNITO_DOMAIN (authorization code + PKCE). The client id
# defaults to COGNITO_APP_CLIENT_ID (a separate client must be trusted: COGNITO['APP_CLIENT_IDS'] or COGNITO_POOLS);
# the callback and logout URLs default to this site's /accounts/callback/ and / as the request sees them.
COGNITO_HOSTED_UI: dict[str, Any] = {
    "CLIENT_ID": _read("COGNITO_HOSTED_UI_CLIENT_ID", str, ""),
    "CLIENT_SECRET": _read("COGNITO_HOSTED_UI_CLIENT_SECRET", str, ""),
    "CALLBACK_URL": _read("COGNITO_HOSTED_UI_CALLBACK_URL", str, ""),
    "LOGOUT_URL": _read("COGNITO_HOSTED_UI_LOGOUT_URL", str, ""),
    "SCOPES": _read("COGNITO_HOSTED_UI_SCOPES", str, "openid email profile"),
    # Send the browser through the hosted UI's /logout at sign-out (cognito-local has none: localaws sets false).
    "LOGOUT_THROUGH_HOSTED_UI": _read_bool("COGNITO_HOSTED_UI_LOGOUT", True),
    "TIMEOUT": _read("COGNITO_HOSTED_UI_TIMEOUT", float, 10.0),  # the token request (s)
}

# accounts/ (read through accounts/conf.py): the flow the server signs in with (USER_PASSWORD_AUTH or
# USER_SRP_AUTH), what deleting an account does to the local user (deactivate or delete), the issuer name
# authenticator apps show, rate limits as "scope=rate,..." (scopes in accounts/conf.py, e.g.
# "sign_in=30/min,sign_in_username=10/min"), and how recent a sign-in must be for sensitive changes (seconds).
ACCOUNTS: dict[str, Any] = {
    "AUTH_FLOW": _read("COGNITO_AUTH_FLOW", str, "USER_PASSWORD_AUTH"),
    "DELETE_LOCAL_USER": _read("COGNITO_DELETE_LOCAL_USER", str, "deactivate"),
    "TOTP_ISSUER": _read("COGNITO_TOTP_ISSUER", str, "Cognito for Django"),
    "THROTTLE_RATES": _read("COGNITO_THROTTLE_RATES", dict, {}),
    "REAUTH_MAX_AGE": _read("COGNITO_REAUTH_MAX_AGE", int, 300),
    # The user admin: selections above this run as a Celery task; its Cognito calls per second; throttle retries.
    "ADMIN_BULK_THRESHOLD": _read("COGNITO_ADMIN_BULK_THRESHOLD", int, 50),
    "ADMIN_COGNITO_RATE": _read("COGNITO_ADMIN_RATE", float, 10.0),
    "ADMIN_THROTTLE_RETRIES": _read("COGNITO_ADMIN_THROTTLE_RETRIES", int, 5),
}

# Proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For is believed; empty: none, the
# client address is REMOTE_ADDR. Only the right-most entry not itself a trusted proxy is taken.
TRUSTED_PROXIES: list[str] = _read("DJANGO_TRUSTED_PROXIES", list, [])

# Fernet key for refresh tokens held server-side; deliberately not derived from SECRET_KEY.
TOKEN_ENCRYPTION_KEY: str = _read("TOKEN_ENCRYPTION_KEY", str, "")

# --- Celery --------------------------------------------------------------------------------------------------
# The default broker needs no server: kombu's filesystem transport, shared by the web process and the worker.
CELERY_BROKER_URL: str = _read("CELERY_BROKER_URL", str, "filesystem://")
_celery_dir = BASE_DIR / ".celery"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND: str | None = _read("CELERY_RESULT_BACKEND", str, "") or None
CELERY_TASK_ALWAYS_EAGER: bool = _read_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Acknowledged after the task ran, requeued when its worker is lost (SIGKILL, OOM): tasks are idempotent. With
# Redis an unacknowledged message goes back to the queue after CELERY_VISIBILITY_TIMEOUT seconds.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": _read("CELERY_VISIBILITY_TIMEOUT", int, 3600)}
# Beat (bin/run starts it beside the worker): proactive refresh, sign-outs whose task was lost, the books.
TOKEN_REFRESH_WINDOW: int = _read("TOKEN_REFRESH_WINDOW", int, 300)  # refresh tokens expiring within (s)
TOKEN_REFRESH_INTERVAL: int = _read("TOKEN_REFRESH_INTERVAL", int, 60)  # how often beat looks (s)
TOKEN_REFRESH_BATCH_SIZE: int = _read("TOKEN_REFRESH_BATCH_SIZE", int, 50)  # token sets per task
TOKEN_REFRESH_ATTEMPTS: int = _read("TOKEN_REFRESH_ATTEMPTS", int, 3)  # calls per refresh while throttled/down
TOKEN_REFRESH_BACKOFF: float = _read("TOKEN_REFRESH_BACKOFF", float, 0.5)  # first retry's mean wait (s), doubling
ENDED_SESSION_RETENTION_DAYS: int = _read("ENDED_SESSION_RETENTION_DAYS", int, 90)  # records of ended sessions
SIGN_OUT_RATE: float = _read("COGNITO_SIGN_OUT_RATE", float, 25.0)  # AdminUserGlobalSignOut calls/s (incident)
INVOCATION_RETENTION_DAYS: int = _read("INVOCATION_RETENTION_DAYS", int, 90)
HEALTHZ_WORKER_TIMEOUT: float = _read("HEALTHZ_WORKER_TIMEOUT", float, 2.0)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "refresh-due-token-sets": {"task": "accounts.refresh_due_token_sets", "schedule": TOKEN_REFRESH_INTERVAL},
    "resume-global-sign-outs": {"task": "accounts.resume_global_sign_outs", "schedule": 300},
    "purge-revocations": {"task": "config.purge_revocations", "schedule": 3600},
    "purge-token-sets": {"task": "config.purge_token_sets", "schedule": 3600},
    "purge-invocations": {"task": "config.purge_invocations", "schedule": 6 * 3600},
    "purge-ended-sessions": {"task": "accounts.purge_ended_sessions", "schedule": 6 * 3600},
}

# --- REST framework ------------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cognito_backend.authentication.CognitoAuthentication",
        # DRF's session authentication; request.auth is the session's Cognito identity (groups, sub).
        "cognito_backend.authentication.CognitoSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "cognito_backend.drf.exception_handler",
    # DRF's own get_ident() believes X-Forwarded-For unless this is set; accounts' throttles use TRUSTED_PROXIES.
    "NUM_PROXIES": 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Cognito for Django",
    "DESCRIPTION": "Sign-in, accounts and Lambda dashboard backed by Amazon Cognito.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "TAGS": [
        {
            "name": "auth",
            "description": "Every Cognito user flow. Errors are `{code, detail, fields}`; `code` is stable.",
        },
    ],
}

# --- Logging -------------------------------------------------------------------------------------------------
# botocore at DEBUG writes request bodies (passwords, tokens); it is pinned to WARNING whatever the root level.
LOG_LEVEL: str = _read("DJANGO_LOG_LEVEL", str, "INFO")
# "json": one JSON object per line with the request id (config/logging.py), the default with DEBUG off; "plain".
LOG_FORMAT: str = _read("DJANGO_LOG_FORMAT", str, "plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    SETTINGS_ERRORS.append(("DJANGO_LOG_FORMAT", f"{LOG_FORMAT!r} is not json or plain"))
    LOG_FORMAT = "plain"
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    # The console handler blanks OAuth values (code, state, tokens) in logged URLs: accounts/log_filters.py; and
    # stamps each record with the id of the request (or Celery task) it belongs to.
    "filters": {
        "redact_oauth": {"()": "accounts.log_filters.RedactOAuthParameters"},
        "request_id": {"()": "config.logging.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_oauth", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The development server's request lines (query strings included) go through the console handler too.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "s3transfer": {"level": "WARNING"},
        "jose": {"level": "WARNING"},
        "authlib": {"level": "WARNING"},  # its DEBUG lines carry the PKCE verifier
    },
}
# A Celery worker keeps these handlers (JSON lines) instead of installing its own plain ones.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# --- Moving existing users into the pool (migrations_tools) --------------------------------------------------
# Read through migrations_tools/conf.py; rates are requests per second per Cognito quota category.
COGNITO_MIGRATION: dict[str, Any] = {
    "RATE": _read("COGNITO_MIGRATION_RATE", float, 25.0),
    "READ_RATE": _read("COGNITO_MIGRATION_READ_RATE", float, 60.0),
    "UPDATE_RATE": _read("COGNITO_MIGRATION_UPDATE_RATE", float, 20.0),
    "WORKERS": _read("COGNITO_MIGRATION_WORKERS", int, 8),
    "PHONE_REGION": _read("COGNITO_MIGRATION_PHONE_REGION", str, "US"),
    "SUPPRESS_WELCOME": _read_bool("COGNITO_MIGRATION_SUPPRESS_WELCOME", True),
    "LAZY_MIGRATION": _read_bool("COGNITO_MIGRATION_LAZY", True),
    "TRIGGER_SECRET": _read("COGNITO_MIGRATION_TRIGGER_SECRET", str, ""),
}
