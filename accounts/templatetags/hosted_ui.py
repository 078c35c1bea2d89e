"""``{% hosted_ui_enabled as hosted_ui %}``: whether the sign-in page offers the hosted UI (COGNITO_DOMAIN set)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def hosted_ui_enabled() -> bool:
    from accounts.hosted import enabled

    return enabled()
