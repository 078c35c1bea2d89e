"""Registers the local AWS's sample functions (AuthLambda, ThingLambda, ObservationLambda) in the dashboard.

Idempotent: a function already registered under the same name is left as it is (an admin may have edited it).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from dashboard.demo import SAMPLES
from dashboard.models import LambdaFunction


class Command(BaseCommand):
    help = "Register the sample Lambda functions of the local AWS in the dashboard (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for sample in SAMPLES:
            fields = {k: v for k, v in sample.items() if k != "name"}
            if LambdaFunction.objects.filter(name=sample["name"]).exists():
                self.stdout.write(f"dashboard: {sample['name']} already registered")
                continue
            function = LambdaFunction(name=sample["name"], **fields)
            function.full_clean()
            function.save()
            self.stdout.write(self.style.SUCCESS(f"dashboard: registered {function.name} ({function.function_name})"))
