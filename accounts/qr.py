"""QR codes for authenticator apps, rendered server-side as inline SVG (segno); no script, no external service."""

from __future__ import annotations

import io

import segno
from django.utils.safestring import SafeString, mark_safe


def svg(data: str, *, title: str = "QR code for your authenticator app") -> SafeString:
    """An inline ``<svg>`` of ``data`` (an ``otpauth://`` URI), with a ``<title>`` for screen readers."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", xmldecl=False, svgns=True, title=title, scale=5, border=4)
    return mark_safe(buffer.getvalue().decode("utf-8"))  # noqa: S308 - segno's own markup; the title is ours
