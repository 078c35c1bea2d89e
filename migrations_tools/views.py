"""The endpoint the user-migration Lambda trigger calls (``credentials.py`` does the work)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import credentials
from .trigger.handler import SIGNATURE_HEADER, TIMESTAMP_HEADER


@csrf_exempt  # signed with a shared secret instead; no browser session is involved
@require_POST
def trigger_check(request: HttpRequest) -> JsonResponse:
    try:
        # The signature first: an unsigned request is refused before it is counted against anyone's rate.
        checked = credentials.verify(
            request.body,
            request.headers.get(TIMESTAMP_HEADER, ""),
            request.headers.get(SIGNATURE_HEADER, ""),
        )
        credentials.limit_client(str(request.META.get("REMOTE_ADDR", "")))
        answer = credentials.check(checked)
    except credentials.TriggerError as error:
        response = JsonResponse({"code": error.code}, status=error.status)
        if error.retry_after:
            response["Retry-After"] = str(error.retry_after)
        return response
    return JsonResponse(answer)
