#!/usr/bin/env python
"""The minimal site that installs django-cognito-backend alone (tests/package/test_wheel.py runs it)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minisite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
