"""Settings of the HTTP benchmark's gunicorn worker (bench/bench_me_http.py): the test settings plus a URL for the
same view without authentication, a file database and the cache the run asks for."""

import json
import os

from config.test_settings import *  # noqa: F403
from config.test_settings import COGNITO as _COGNITO
from config.test_settings import LOGGING as _LOGGING

ROOT_URLCONF = "bench._bench_urls"
DEBUG = False
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["BENCH_DB"],
        # Persistent connections, as a production deployment would configure (DATABASE_CONN_MAX_AGE).
        "CONN_MAX_AGE": 600,
        "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"},
    }
}
if os.environ.get("BENCH_CACHE_URL"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["BENCH_CACHE_URL"]}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
COGNITO = {**_COGNITO, **json.loads(os.environ.get("BENCH_COGNITO", "{}"))}
LOGGING = {**_LOGGING, "root": {"handlers": ["console"], "level": "WARNING"}}
