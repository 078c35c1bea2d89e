"""A logging filter that blanks OAuth values in logged URLs (the hosted UI's callback carries ``code`` and ``state``).

The development server (``django.server``) and access logs write each request line with its query string; the
filter rewrites ``code``, ``state``, ``nonce``, ``code_verifier`` and token parameters to ``[redacted]`` in the
message and its arguments before any handler formats them. ``LOGGING`` attaches it to the console handler.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMS = re.compile(
    r"(?i)([?&](?:code|state|nonce|code_verifier|id_token|access_token|refresh_token|token)=)[^&\s\"']*"
)


def redact(text: str) -> str:
    return SECRET_PARAMS.sub(r"\1[redacted]", text)


class RedactOAuthParameters(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
