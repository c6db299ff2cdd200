"""Listing pages: one Item per element a source's ``selectors.item`` matches.

No network I/O here: the collect step fetches the bytes and calls
``parse_listing(content, url=, source=, headers=)`` -> ``ListingResult``, a
``list[Item]`` that also carries ``.warnings`` (per-field selectors that matched
nothing in any item); raises ``SelectorEmpty`` when the item selector matches
nothing (the site was redesigned), ``SelectorInvalid`` for a selector that is
not valid CSS, ``PageEmpty`` for an empty body.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time

from bs4 import Tag

from newsletter.collect import frdates
from newsletter.collect.scrape import (
    SUMMARY_LENGTH,
    PageEmpty,
    SelectorEmpty,
    SelectorInvalid,
    image_of,
    link_of,
    machine_date,
    node_text,
    parse_iso,
    paris_today,
    select,
    select_one,
    set_when,
    soup_of,
)
from newsletter.collect.sources import Source
from newsletter.models import Item
from newsletter.normalize import PARIS, absolute_url, truncate

log = logging.getLogger(__name__)

LISTING_FIELDS = ("title", "link", "date", "summary", "image")


class ListingResult(list):
    """The items of a listing page (a plain ``list[Item]``) plus ``warnings``."""

    def __init__(self, items: list[Item] = (), warnings: list[str] | None = None):
        super().__init__(items)
        self.warnings: list[str] = list(warnings or [])

    @property
    def items(self) -> list[Item]:
        return list(self)



def parse_listing(
    content: bytes | str,
    *,
    url: str,
    source: Source,
    headers: dict[str, str] | None = None,
    today: date | None = None,
) -> ListingResult:
    """One Item per element matched by ``source.selectors["item"]``.

    Raises SelectorEmpty (naming source and selector) when that selector matches
    nothing. A per-field selector that matches nothing in any item becomes a
    warning in ``result.warnings``. Items without a title are skipped (warned).
    """
    today = today or paris_today()
    if not (content or b"").strip():
        raise PageEmpty(f"{source.name}: the page {url} is empty")
    soup = soup_of(content, headers)
    selectors = source.selectors or {}
    item_selector = selectors.get("item")
    if not item_selector:
        raise SelectorInvalid(
            f"{source.name}: no selectors.item to find items with",
            selector="",
            field="item",
            source=source.name,
        )
    elements = select(soup, item_selector, "item", source)
    if not elements:
        raise SelectorEmpty(
            f"{source.name}: selector {item_selector!r} (item) matched nothing on {url}"
            " – the page may have been redesigned",
            selector=item_selector,
            field="item",
            source=source.name,
        )
    matched = {name: 0 for name in LISTING_FIELDS if selectors.get(name)}
    items: list[Item] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for index, element in enumerate(elements, start=1):
        found: dict[str, Tag | None] = {}
        for name in matched:
            node = select_one(element, selectors[name], name, source)
            if node is None and name == "link" and element.name == "a":
                node = element
            found[name] = node
            if node is not None:
                matched[name] += 1
        link_node = found.get("link") or (element if element.name == "a" else None)
        href = link_of(link_node) or link_of(element)
        link = absolute_url(url, href) if href else None
        title = node_text(found.get("title")) if "title" in matched else ""
        if not title and link_node is not None:
            title = node_text(link_node)
        image, image_alt = image_of(found.get("image"), url) if "image" in matched else (None, None)
        if not title and image_alt:
            title = image_alt
        if not title:
            warnings.append(f"{source.name}: item #{index} has no title; skipped")
            continue
        if not link:
            warnings.append(f"{source.name}: item #{index} ({title!r}) has no link; using the page URL")
            link = url
        if link in seen and link != url:
            continue
        seen.add(link)
        item = Item(
            kind=source.kind,
            title=title,
            url=link,
            source=source.name,
            summary=truncate(node_text(found.get("summary")), SUMMARY_LENGTH),
            image=image,
            image_alt=image_alt,
            outlet=source.outlet,
            category=source.category,
        )
        _apply_listing_date(item, found.get("date"), today)
        items.append(item)
    for name, count in matched.items():
        if count == 0:
            warnings.append(
                f"{source.name}: selector {selectors[name]!r} ({name}) matched nothing"
                f" in any of the {len(elements)} items"
            )
    for message in warnings:
        log.warning("%s", message)
    return ListingResult(items, warnings)



def _apply_listing_date(item: Item, node: Tag | None, today: date) -> None:
    if node is None:
        return
    machine = parse_iso(machine_date(node))
    text = node_text(node)
    if item.kind == "event":
        if machine:
            item.start = machine[0]
            item.extra["all_day"] = machine[1]
            return
        when = frdates.parse_event_when(text, today=today)
        if when:
            set_when(item, when)
        return
    if machine:
        item.published = machine[0]
        return
    day = frdates.parse_date(text, today=today, past=True)
    if day:
        item.published = datetime.combine(day, time(0), tzinfo=PARIS)
