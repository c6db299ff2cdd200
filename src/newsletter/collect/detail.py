"""Detail pages: an Item from a listing enriched from its own page.

No network I/O here: ``parse_detail(content, url=, source=, item=, today=)`` -> a
new, enriched ``Item``.

Precedence, field by field: the source's detail selector; then schema.org
JSON-LD; then what the listing already gave; then OpenGraph / meta / ``<time>``
/ ``<title>`` to fill what is still empty. For an event with no structured
date, the French text of the date and hours elements is read (see frdates), and
the page body as a last resort.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime

from bs4 import BeautifulSoup, Tag

from newsletter.collect import frdates
from newsletter.collect.metadata import page_metadata
from newsletter.collect.scrape import (
    SUMMARY_LENGTH,
    PageEmpty,
    image_of,
    link_of,
    machine_date,
    node_text,
    parse_iso,
    paris_today,
    select_one,
    set_when,
    soup_of,
)
from newsletter.collect.sources import Source
from newsletter.models import Item
from newsletter.normalize import PARIS, absolute_url, clean_text, truncate


_REGISTRATION_TEXT = re.compile(r"inscri|s'inscrire|réserv", re.I)


def _content_root(soup: BeautifulSoup) -> Tag:
    for selector in ("main", "article", "[role=main]", "body"):
        node = soup.select_one(selector)
        if node is not None:
            return node
    return soup


def _main_content(content: bytes | str, headers: dict[str, str] | None) -> Tag:
    """The page's main content, without navigation, header, footer, forms and scripts."""
    root = _content_root(soup_of(content, headers))
    for tag in root.find_all(["script", "style", "noscript", "nav", "header", "footer", "form", "aside"]):
        tag.decompose()
    return root


_NEWSLETTER_TEXT = re.compile(r"(?i)newsletter|lettre d.information")


def parse_detail(
    content: bytes | str,
    *,
    url: str,
    source: Source,
    item: Item,
    today: date | None = None,
    headers: dict[str, str] | None = None,
) -> Item:
    """A copy of ``item`` enriched from its detail page (see the module docstring for precedence).

    Event fields (start, end, location, registration_url, registration_deadline,
    places, places_limited, audience, contact) are filled for every kind when the
    page gives them. ``extra["all_day"]`` tells whether start/end carry hours;
    ``extra["attendance_mode"]`` is "online"/"offline"/"mixed" when JSON-LD says.
    """
    today = today or paris_today()
    if not (content or b"").strip():
        raise PageEmpty(f"{source.name}: the detail page {url} is empty")
    soup = soup_of(content, headers)
    meta = page_metadata(soup, url)
    detail = source.detail or {}
    found = {name: select_one(soup, sel, name, source) for name, sel in detail.items()}
    new = dataclasses.replace(item, extra=dict(item.extra), outlets=list(item.outlets), merged=list(item.merged))
    is_event = item.kind == "event"

    new.title = node_text(found.get("title")) or meta["title"] or item.title or meta["og_title"] or meta["page_title"] or ""
    summary = node_text(found.get("summary")) or meta["description"] or item.summary or meta["og_description"] or ""
    new.summary = truncate(summary, SUMMARY_LENGTH)
    image, image_alt = image_of(found.get("image"), url)
    if image:
        new.image, new.image_alt = image, image_alt
    elif meta["image"] and (meta["type"] in ("event", "article") or not item.image):
        same = meta["image"] == item.image
        new.image, new.image_alt = meta["image"], meta["image_alt"] or (item.image_alt if same else None)
    new.canonical_url = meta["canonical_url"] or item.canonical_url
    if new.published is None and meta["published"]:
        new.published = meta["published"]
    elif meta["type"] == "article" and meta["published"]:
        new.published = meta["published"]

    # When.
    main_cache: list[Tag] = []

    def main() -> Tag:
        if not main_cache:
            main_cache.append(_main_content(content, headers))
        return main_cache[0]

    def body() -> str:
        return clean_text(main().get_text(" "))

    date_text = node_text(found.get("date"))
    hours_text = node_text(found.get("hours"))
    machine = parse_iso(machine_date(found.get("date")))
    dated = False
    if machine:
        dated = True
        if is_event:
            new.start, new.end, new.extra["all_day"] = machine[0], None, machine[1]
            if hours_text:
                _add_hours(new, hours_text)
        else:
            new.published = machine[0]
    if not dated and date_text:
        when = frdates.parse_event_when(f"{date_text} {hours_text}", today=today)
        if when:
            dated = True
            if is_event:
                set_when(new, when)
            elif new.published is None:
                new.published = when.start
    if not dated and meta["start"] and is_event:
        dated = True
        new.start, new.end, new.extra["all_day"] = meta["start"], meta["end"], meta["all_day"]
        if hours_text and meta["all_day"]:
            _add_hours(new, hours_text)
    if not dated and is_event:
        if new.start is not None:
            if hours_text and new.extra.get("all_day", True):
                _add_hours(new, hours_text)
        elif meta["times"]:
            (start, all_day), *rest = meta["times"]
            new.start, new.extra["all_day"] = start, all_day
            later = [t for t, _ in rest if t > start]
            new.end = later[0] if later else None
        else:
            when = frdates.parse_event_when(f"{body()} {hours_text}", today=today)
            if when:
                set_when(new, when)
    if not is_event and new.published is None and meta["times"]:
        new.published = meta["times"][0][0]

    # Where, who, how to register.
    new.location = node_text(found.get("location")) or meta["location"] or item.location
    if meta["attendance_mode"]:
        new.extra["attendance_mode"] = meta["attendance_mode"]
    if not new.location and meta["online"]:
        new.location = "En ligne"
    new.audience = node_text(found.get("audience")) or item.audience
    new.contact = node_text(found.get("contact")) or item.contact or meta["organizer"]
    registration_node = found.get("registration")
    href = link_of(registration_node)
    if href is None and is_event and not meta["registration_url"] and not item.registration_url:
        for link in main().find_all("a", href=True):
            text = node_text(link)
            if _REGISTRATION_TEXT.search(text) and not _NEWSLETTER_TEXT.search(text):
                href = link_of(link)
                if href:
                    break
    new.registration_url = (
        absolute_url(url, href) if href else meta["registration_url"] or item.registration_url
    )

    deadline_text = node_text(found.get("deadline")) or node_text(registration_node)
    deadline = frdates.parse_deadline(deadline_text, today=today) if deadline_text else None
    if deadline is None and is_event:
        deadline = frdates.parse_deadline(body(), today=today)
    if deadline:
        new.registration_deadline = deadline
    places_text = node_text(found.get("places"))
    if not places_text and is_event:
        places_text = body()
    limited, places = frdates.parse_places(places_text)
    if meta["places"] is not None:
        limited, places = True, places or meta["places"]
    if limited:
        new.places_limited = True
        new.places = places if places is not None else item.places
    return new


def _add_hours(item: Item, hours_text: str) -> None:
    """Give an all-day start the hours read from ``hours_text``."""
    ranges = frdates.parse_hours(hours_text)
    if not ranges or item.start is None:
        return
    day = item.start.astimezone(PARIS).date()
    item.start = datetime.combine(day, ranges[0][0], tzinfo=PARIS)
    end_day = item.end.astimezone(PARIS).date() if item.end else day
    item.end = datetime.combine(end_day, ranges[-1][1], tzinfo=PARIS)
    item.extra["all_day"] = False
