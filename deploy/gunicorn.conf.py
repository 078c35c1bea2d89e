"""gunicorn's configuration for production: ``gunicorn -c deploy/gunicorn.conf.py config.wsgi``.

Every value can be changed from the environment (names below). Why these values:

- Workers from the CPU count (``2 * CPUs + 1``, gunicorn's own advice), sync workers: one request at a time
  each. Not gthread: in gunicorn 23 a gthread worker told to stop drops a connection it accepted but had not yet
  read, so a graceful restart could lose a request (tests/production/test_serving.py restarts under load). A
  synchronous Lambda invocation holds its worker for up to the function's timeout: size ``WEB_CONCURRENCY`` for
  the long invocations you expect, or register long functions as events. Nothing a request needs lives in a
  worker (sessions, revocations, token sets, rate limits are in the database or Redis), so more workers or more
  machines change no answer.
- ``timeout`` above the Lambda timeout ceiling the dashboard allows (900 s, ``dashboard.models.LambdaFunction``)
  plus its read margin (``DASHBOARD["READ_TIMEOUT_MARGIN"]``, 5 s): gunicorn never kills a worker waiting for a
  slow function the registry allows. tests/production/test_serving.py checks the figures against the code.
- Graceful restarts: ``kill -HUP <master>`` starts new workers and lets the old ones finish their requests for up
  to ``graceful_timeout``; ``max_requests`` (with jitter) recycles workers one at a time the same way.
- Logs to stderr as JSON lines (config/logging.py): access lines carry the request id from the ``X-Request-ID``
  response header and only the path, never the query string (it may hold an OAuth code).
"""

from __future__ import annotations

import multiprocessing
import os

LAMBDA_TIMEOUT_CEILING = 900  # seconds: the largest timeout dashboard.models.LambdaFunction accepts
LAMBDA_READ_TIMEOUT_MARGIN = 5  # seconds: dashboard.conf READ_TIMEOUT_MARGIN's default

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))  # more than 1 makes gunicorn use gthread workers
timeout = int(os.environ.get("GUNICORN_TIMEOUT", LAMBDA_TIMEOUT_CEILING + LAMBDA_READ_TIMEOUT_MARGIN + 25))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", timeout))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# Heartbeat files in memory: a container's /tmp may be an overlay on a slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# Addresses of the proxy in front (gunicorn then believes its X-Forwarded-* for wsgi.url_scheme and REMOTE_ADDR).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(m)s %(U)s %(s)s %(B)s %(M)sms "%(a)s"'
_format = os.environ.get("DJANGO_LOG_FORMAT", "json")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": _format, "stream": "ext://sys.stderr"},
        "error_console": {"class": "logging.StreamHandler", "formatter": _format, "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}
