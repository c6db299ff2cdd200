"""What listing, detail and metadata scraping share: errors, parsing HTML, reading nodes.

No network I/O here. ``soup_of`` parses bytes with the charset the headers give;
``select``/``select_one`` run a source's CSS selector, raising ``SelectorInvalid``
naming the source and field; ``node_text``, ``link_of``, ``image_of``,
``machine_date`` read one node; ``parse_iso`` reads an ISO 8601 (or RFC 2822)
date in Europe/Paris.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time
from email.message import Message
from typing import Any

from bs4 import BeautifulSoup, Tag
from soupsieve import SelectorSyntaxError

from newsletter.collect import frdates
from newsletter.collect.sources import Source
from newsletter.models import Item
from newsletter.normalize import PARIS, absolute_url, aware, clean_text

log = logging.getLogger(__name__)

SUMMARY_LENGTH = 300


class PageError(Exception):
    """A page cannot be scraped. Subclasses say why."""


class PageEmpty(PageError):
    """The page body is empty."""


class SelectorError(PageError):
    """A source's CSS selector is the problem. ``field`` is the selector's key."""

    def __init__(self, message: str, *, selector: str, field: str, source: str | None = None):
        super().__init__(message)
        self.selector = selector
        self.field = field
        self.source = source


class SelectorEmpty(SelectorError):
    """The item selector matched nothing: the site was probably redesigned."""


class SelectorInvalid(SelectorError):
    """The selector is not valid CSS."""



def _charset(headers: dict[str, str] | None) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "content-type" and value:
            msg = Message()
            msg["content-type"] = value
            charset = msg.get_param("charset")
            return str(charset).strip() if charset else None
    return None


def soup_of(content: bytes | str, headers: dict[str, str] | None = None) -> BeautifulSoup:
    if isinstance(content, str):
        return BeautifulSoup(content, "lxml")
    encoding = _charset(headers)
    if encoding:
        try:
            "".encode(encoding)
        except LookupError:
            log.warning("unknown charset %r in Content-Type; detecting instead", encoding)
            encoding = None
    return BeautifulSoup(content, "lxml", from_encoding=encoding)


def select(root: Tag, selector: str, field: str, source: Source) -> list[Tag]:
    try:
        return root.select(selector)
    except SelectorSyntaxError as exc:
        raise SelectorInvalid(
            f"{source.name}: selector {selector!r} for {field!r} is not valid CSS ({exc.args[0]})",
            selector=selector,
            field=field,
            source=source.name,
        ) from None


def select_one(root: Tag, selector: str | None, field: str, source: Source) -> Tag | None:
    if not selector:
        return None
    found = select(root, selector, field, source)
    return found[0] if found else None


def node_text(node: Tag | None) -> str:
    if node is None:
        return ""
    return clean_text(node.get_text(" "))


def link_of(node: Tag | None) -> str | None:
    """The href of ``node`` if it is a link, else of the first link inside it."""
    if node is None:
        return None
    candidates = [node] if node.name == "a" else []
    for link in [*candidates, *node.find_all("a", href=True)]:
        href = str(link.get("href") or "").strip()
        if href and not href.startswith("#") and not _NOT_A_PAGE.match(href):
            return href
    return None


_NOT_A_PAGE = re.compile(r"(?i)(javascript|mailto|tel|data):")


def image_of(node: Tag | None, base: str) -> tuple[str | None, str | None]:
    """(absolute src, alt) of ``node`` if it is an <img>, else of the first <img> inside it."""
    if node is None:
        return None, None
    img = node if node.name == "img" else node.find("img")
    if img is None:
        return None, None
    src = img.get("src") or img.get("data-src")
    if not src and img.get("srcset"):
        src = str(img["srcset"]).split(",")[0].split()[0]
    if not src or str(src).startswith("data:"):
        return None, None
    alt = img.get("alt")
    return absolute_url(base, str(src)), (clean_text(str(alt)) if alt is not None else None)


def machine_date(node: Tag | None) -> str | None:
    """A machine-readable date carried by ``node`` (``<time datetime>``, ``content``)."""
    if node is None:
        return None
    for candidate in [node, *node.find_all("time")]:
        for attr in ("datetime", "content"):
            value = candidate.get(attr)
            if value and re.match(r"\d{4}-\d{2}-\d{2}", str(value).strip()):
                return str(value).strip()
    return None


def parse_iso(value: Any) -> tuple[datetime, bool] | None:
    """(aware datetime in Europe/Paris, date-only?) from an ISO 8601 string, else None.

    Non-ISO strings ("Fri, 05 Dec 2025 10:00:00 +0100") go through dateparser.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=PARIS), True
        parsed = datetime.fromisoformat(text)
    except ValueError:
        import dateparser  # slow import, rarely needed

        parsed = dateparser.parse(
            text, settings={"TIMEZONE": "Europe/Paris", "REQUIRE_PARTS": ["day", "month", "year"]}
        )
        if parsed is None:
            return None
    return aware(parsed).astimezone(PARIS), False


def paris_today() -> date:
    return datetime.now(PARIS).date()


def set_when(item: Item, when: frdates.EventWhen) -> None:
    item.start, item.end = when.start, when.end
    item.extra["all_day"] = when.all_day
