"""Text, URL and date normalisation shared by the feed and page parsers."""

from __future__ import annotations

import html
import re
from datetime import datetime
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import nh3

PARIS = ZoneInfo("Europe/Paris")
_WS = re.compile(r"\s+")


def clean_text(value: str | None) -> str:
    """Markup removed, entities decoded, whitespace collapsed: safe plain text."""
    if not value:
        return ""
    text = nh3.clean(value, tags=set(), attributes={})
    text = html.unescape(text)
    return _WS.sub(" ", text).strip()


def truncate(text: str, length: int = 300, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``length`` characters on a word boundary."""
    if len(text) <= length:
        return text
    cut = text[: max(0, length - len(ellipsis))]
    space = cut.rfind(" ")
    if space > length // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + ellipsis


def absolute_url(base: str, href: str | None) -> str | None:
    if not href:
        return None
    return urljoin(base, href.strip())


def aware(value: datetime | None, tz: ZoneInfo = PARIS) -> datetime | None:
    """Attach ``tz`` to a naive datetime; leave aware ones alone."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=tz)
    return value
