"""Settings of the web servers started by ``test_trigger_processes.py``: the site's own, with the trigger on."""

from config.settings import *  # noqa: F403
from config.settings import COGNITO_MIGRATION as _MIGRATION

COGNITO_MIGRATION = {**_MIGRATION, "TRIGGER_SECRET": "test-trigger-secret", "TRIGGER_RATE_PER_CLIENT": 3}
