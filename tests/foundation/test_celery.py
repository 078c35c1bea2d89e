"""A task round-trips through a real Redis broker and a real Celery worker process."""

from __future__ import annotations

import pytest

from config.tasks import ping
from tests.conftest import CeleryWorker

pytestmark = pytest.mark.celery


def test_ping_task_runs_on_a_real_worker(celery_worker: CeleryWorker) -> None:
    assert ping.delay().get(timeout=60) == "pong"
