"""Settings of the gunicorn workers of bench/bench_me_http.py and of the revocation process tests: the test
settings (so the database and the cache come from ``DATABASE_URL`` and ``CACHE_URL`` exactly as in
config/settings.py, persistent connections and cache timeouts included) plus a URL conf with the baseline view,
and ``COGNITO`` keys from the JSON in ``BENCH_COGNITO``."""

import json
import os

from config.test_settings import *  # noqa: F403
from config.test_settings import COGNITO as _COGNITO
from config.test_settings import LOGGING as _LOGGING

ROOT_URLCONF = "bench._bench_urls"
DEBUG = False
COGNITO = {**_COGNITO, **json.loads(os.environ.get("BENCH_COGNITO", "{}"))}
LOGGING = {**_LOGGING, "root": {"handlers": ["console"], "level": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}}
