"""Template side of the unlock: ``{% pii value target %}`` shows a masking token, or its clear value while the
signed-in user holds a live unlock of ``target`` that disclosed it; ``{% pii_unlock_control target %}`` is the
button (or the way to permission or a better plan).

Reveals are looked up once per request and object (``request._pii_reveals``); without a live unlock the lookup is a
single Redis read and no SQL query.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Model
from django.http import HttpRequest
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from apps.privacy.selectors import pii_reveal_map, pii_unlock_state
from apps.privacy.targets import TOKEN_PATTERN

register = template.Library()


def _reveals(request: HttpRequest | None, target: Any) -> dict[str, str]:
    # A page that passes no target (an undefined variable renders as "") reveals nothing.
    if request is None or not isinstance(target, Model) or target.pk is None:
        return {}
    cache: dict[tuple[str, Any], dict[str, str]] = request.__dict__.setdefault("_pii_reveals", {})
    key = (target._meta.label_lower, target.pk)
    if key not in cache:
        cache[key] = pii_reveal_map(user=request.user, target=target)
    return cache[key]


def reveal_text(value: Any, reveals: dict[str, str]) -> SafeString:
    """``value`` escaped, with each token ``reveals`` knows replaced by its clear value, marked as disclosed."""
    text = str(conditional_escape("" if value is None else value))
    if not reveals:
        return mark_safe(text)  # noqa: S308 - escaped above

    def replace(match: Any) -> str:
        token = match.group(0)
        if token not in reveals:
            return str(token)
        return str(format_html('<mark class="pii-clear" title="{}">{}</mark>', token, reveals[token]))

    return mark_safe(TOKEN_PATTERN.sub(replace, text))  # noqa: S308 - every part escaped above or by format_html


@register.simple_tag(takes_context=True)
def pii(context: template.Context, value: Any, target: Any) -> SafeString:
    """The value as stored (tokens), or with the tokens ``target``'s live unlock disclosed shown in clear."""
    return reveal_text(value, _reveals(context.get("request"), target))


@register.inclusion_tag("privacy/partials/unlock_control.html", takes_context=True)
def pii_unlock_control(context: template.Context, target: Model) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "request": request,
        "target": target,
        "target_type": target._meta.label_lower,
        "state": pii_unlock_state(user=user, target=target) if user is not None else None,
        "next": request.get_full_path() if request is not None else "",
        "csrf_token": context.get("csrf_token"),
    }
