"""What a page says about itself: schema.org JSON-LD, OpenGraph, ``<time datetime>``, canonical link.

``parse_metadata(content, url, headers=)`` for any page; ``page_metadata(soup, url)``
for a page already parsed (the detail scraper).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from bs4 import BeautifulSoup

from newsletter.collect.scrape import parse_iso, soup_of
from newsletter.normalize import absolute_url, clean_text

log = logging.getLogger(__name__)


def _jsonld_objects(soup: BeautifulSoup) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, ``@graph`` and lists flattened."""
    out: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            out.append(value)
            if "@graph" in value:
                walk(value["@graph"])

    for script in soup.find_all("script", type=re.compile(r"application/ld\+json", re.I)):
        raw = script.string or script.get_text()
        raw = re.sub(r"^\s*<!--|-->\s*$", "", raw.strip())
        if not raw:
            continue
        try:
            walk(json.loads(raw, strict=False))
        except json.JSONDecodeError as exc:
            log.warning("ignoring invalid JSON-LD block (%s)", exc)
    return out


def _types(obj: dict[str, Any]) -> list[str]:
    value = obj.get("@type") or []
    values = value if isinstance(value, list) else [value]
    return [str(v).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for v in values]


def _is_event(obj: dict[str, Any]) -> bool:
    return any(t.endswith("Event") for t in _types(obj))


def _is_article(obj: dict[str, Any]) -> bool:
    return any(t.endswith("Article") or t in ("BlogPosting", "Report") for t in _types(obj))


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _str(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    if value is None:
        return None
    text = clean_text(str(value))
    return text or None


def _image_url(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl") or value.get("@id")
    return str(value) if value else None


def _address(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, str):
        return clean_text(value) or None
    if isinstance(value, dict):
        parts = [value.get("streetAddress"), " ".join(
            p for p in (value.get("postalCode"), value.get("addressLocality")) if p
        )]
        text = ", ".join(clean_text(str(p)) for p in parts if p)
        return text or None
    return None


def _location(value: Any) -> tuple[str | None, bool]:
    """(French location text, online?) from a schema.org ``location``."""
    locations = value if isinstance(value, list) else [value]
    texts: list[str] = []
    online = False
    for loc in locations:
        if isinstance(loc, str):
            texts.append(clean_text(loc))
        elif isinstance(loc, dict):
            if "VirtualLocation" in _types(loc):
                online = True
                continue
            name = _str(loc.get("name"))
            address = _address(loc.get("address"))
            parts = [name] if name else []
            if address and address != name:
                parts.append(address)
            texts.append(", ".join(parts))
    text = " ; ".join(t for t in texts if t)
    return (text or None), online


_ATTENDANCE = {
    "OnlineEventAttendanceMode": "online",
    "OfflineEventAttendanceMode": "offline",
    "MixedEventAttendanceMode": "mixed",
}


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if tag and tag.get("content") and str(tag["content"]).strip():
            return str(tag["content"]).strip()
    return None


def page_metadata(soup: BeautifulSoup, url: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "type": None,
        "title": None,
        "description": None,
        "image": None,
        "image_alt": None,
        "canonical_url": None,
        "published": None,
        "start": None,
        "end": None,
        "all_day": None,
        "location": None,
        "online": False,
        "attendance_mode": None,
        "registration_url": None,
        "organizer": None,
        "places": None,
        "og": {},
        "times": [],
        "page_title": None,
        "jsonld": [],
    }
    objects = _jsonld_objects(soup)
    meta["jsonld"] = objects
    event = next((o for o in objects if _is_event(o)), None)
    article = next((o for o in objects if _is_article(o)), None)
    if event is not None:
        meta["type"] = "event"
        meta["title"] = _str(event.get("name"))
        meta["description"] = _str(event.get("description"))
        meta["image"] = absolute_url(url, _image_url(event.get("image")))
        start = parse_iso(_first(event.get("startDate")))
        end = parse_iso(_first(event.get("endDate")))
        if start:
            meta["start"], meta["all_day"] = start
        if end and start and end[0] >= start[0]:
            meta["end"] = end[0]
        meta["location"], meta["online"] = _location(event.get("location"))
        mode = _str(event.get("eventAttendanceMode"))
        if mode:
            meta["attendance_mode"] = _ATTENDANCE.get(mode.rsplit("/", 1)[-1])
        if meta["online"] and not meta["attendance_mode"]:
            meta["attendance_mode"] = "online"
        offers = _first(event.get("offers"))
        if isinstance(offers, dict):
            meta["registration_url"] = absolute_url(url, _str(offers.get("url")))
            inventory = offers.get("inventoryLevel")
            if isinstance(inventory, dict):
                inventory = inventory.get("value")
            if isinstance(inventory, (int, str)) and str(inventory).isdigit():
                meta["places"] = int(inventory)
        capacity = event.get("maximumAttendeeCapacity")
        if meta["places"] is None and isinstance(capacity, (int, str)) and str(capacity).isdigit():
            meta["places"] = int(capacity)
        organizer = _first(event.get("organizer"))
        if isinstance(organizer, dict):
            parts = [_str(organizer.get("name")), _str(organizer.get("email")), _str(organizer.get("telephone"))]
            meta["organizer"] = " – ".join(p for p in parts if p) or None
        elif organizer:
            meta["organizer"] = _str(organizer)
        meta["canonical_url"] = absolute_url(url, _str(event.get("url")))
    elif article is not None:
        meta["type"] = "article"
        meta["title"] = _str(article.get("headline")) or _str(article.get("name"))
        meta["description"] = _str(article.get("description"))
        meta["image"] = absolute_url(url, _image_url(article.get("image")))
        published = parse_iso(_first(article.get("datePublished"))) or parse_iso(
            _first(article.get("dateCreated"))
        )
        if published:
            meta["published"] = published[0]
        meta["canonical_url"] = absolute_url(url, _str(article.get("url")))

    og = {
        str(tag.get("property") or tag.get("name")): str(tag.get("content")).strip()
        for tag in soup.find_all("meta")
        if str(tag.get("property") or tag.get("name") or "").startswith(("og:", "article:"))
        and tag.get("content")
    }
    meta["og"] = og
    meta["og_title"] = clean_text(og.get("og:title")) or None
    meta["og_description"] = clean_text(og.get("og:description") or _meta(soup, "description")) or None
    meta["og_image"] = absolute_url(url, og.get("og:image") or og.get("og:image:url"))
    meta["og_image_alt"] = clean_text(og.get("og:image:alt")) or None
    if meta["image"] is None and meta["og_image"]:
        meta["image"], meta["image_alt"] = meta["og_image"], meta["og_image_alt"]
    published = parse_iso(og.get("article:published_time"))
    if meta["published"] is None and published:
        meta["published"] = published[0]
    if meta["type"] is None and og.get("og:type"):
        meta["type"] = og["og:type"]

    for node in soup.find_all("time", datetime=True):
        parsed = parse_iso(str(node["datetime"]))
        if parsed:
            meta["times"].append(parsed)

    canonical = soup.select_one('link[rel~="canonical" i][href]')
    if canonical is not None and str(canonical["href"]).strip():
        meta["canonical_url"] = absolute_url(url, str(canonical["href"]))
    elif meta["canonical_url"] is None and og.get("og:url"):
        meta["canonical_url"] = absolute_url(url, og["og:url"])
    if soup.title and soup.title.string:
        meta["page_title"] = clean_text(soup.title.string) or None
    return meta


def parse_metadata(content: bytes | str, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """What a page says about itself, for any page.

    Keys (None when absent): ``type`` ("event", "article" or og:type), ``title``,
    ``description``, ``image``, ``image_alt``, ``canonical_url`` (<link rel=canonical>,
    else og:url, else JSON-LD url), ``published``, ``start``, ``end``, ``all_day``,
    ``location``, ``online``, ``attendance_mode`` ("online"/"offline"/"mixed"),
    ``registration_url``, ``organizer``, ``places``, ``og_title``,
    ``og_description`` (or meta description), ``og_image``, ``og_image_alt``,
    ``page_title``; ``og`` (all og:/article: properties), ``times`` (every
    ``<time datetime>`` as (datetime, date-only?)), ``jsonld`` (raw objects).
    ``title``/``description``/``image``/dates come from JSON-LD (Event first,
    then Article); image and published fall back to OpenGraph.
    """
    return page_metadata(soup_of(content, headers), url)
