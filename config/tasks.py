"""Project-level tasks."""

from celery import shared_task


@shared_task(name="config.ping")
def ping() -> str:
    """Round trip through the broker and a worker; used by health checks and the Celery smoke test."""
    return "pong"
