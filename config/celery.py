"""The project's Celery application; settings come from Django's ``CELERY_*`` settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The user admin's task for large selections (accounts/admin_tasks.py).
app.autodiscover_tasks(related_name="admin_tasks")
