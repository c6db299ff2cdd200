"""Listing and detail page scraping: per-source CSS selectors, page metadata as fallback.

No network I/O here: the collect step fetches the bytes and calls

- ``parse_listing(content, url=, source=, headers=)`` -> ``ListingResult``, a
  ``list[Item]`` that also carries ``.warnings`` (per-field selectors that
  matched nothing in any item); raises ``SelectorEmpty`` when the item selector
  matches nothing (the site was redesigned), ``SelectorInvalid`` for a selector
  that is not valid CSS, ``PageEmpty`` for an empty body;
- ``parse_detail(content, url=, source=, item=, today=)`` -> a new, enriched ``Item``;
- ``parse_metadata(content, url)`` -> dict of what the page says about itself
  (schema.org JSON-LD, OpenGraph, ``<time datetime>``, canonical link).

Precedence on a detail page, field by field: the source's detail selector; then
schema.org JSON-LD; then what the listing already gave; then OpenGraph / meta /
``<time>`` / ``<title>`` to fill what is still empty. For an event with no
structured date, the French text of the date and hours elements is read (see
frdates), and the page body as a last resort.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from datetime import date, datetime, time
from email.message import Message
from typing import Any

from bs4 import BeautifulSoup, Tag
from soupsieve import SelectorSyntaxError

from newsletter.collect import frdates
from newsletter.models import Item
from newsletter.normalize import PARIS, absolute_url, aware, clean_text, truncate
from newsletter.collect.sources import Source

log = logging.getLogger(__name__)

SUMMARY_LENGTH = 300
LISTING_FIELDS = ("title", "link", "date", "summary", "image")


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


class ListingResult(list):
    """The items of a listing page (a plain ``list[Item]``) plus ``warnings``."""

    def __init__(self, items: list[Item] = (), warnings: list[str] | None = None):
        super().__init__(items)
        self.warnings: list[str] = list(warnings or [])

    @property
    def items(self) -> list[Item]:
        return list(self)


# --------------------------------------------------------------------------- helpers


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


def _soup(content: bytes | str, headers: dict[str, str] | None = None) -> BeautifulSoup:
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


def _select(root: Tag, selector: str, field: str, source: Source) -> list[Tag]:
    try:
        return root.select(selector)
    except SelectorSyntaxError as exc:
        raise SelectorInvalid(
            f"{source.name}: selector {selector!r} for {field!r} is not valid CSS ({exc.args[0]})",
            selector=selector,
            field=field,
            source=source.name,
        ) from None


def _select_one(root: Tag, selector: str | None, field: str, source: Source) -> Tag | None:
    if not selector:
        return None
    found = _select(root, selector, field, source)
    return found[0] if found else None


def _text(node: Tag | None) -> str:
    if node is None:
        return ""
    return clean_text(node.get_text(" "))


def _link_of(node: Tag | None) -> str | None:
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


def _image_of(node: Tag | None, base: str) -> tuple[str | None, str | None]:
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


def _machine_date(node: Tag | None) -> str | None:
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


def _today() -> date:
    return datetime.now(PARIS).date()


# --------------------------------------------------------------------------- metadata


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


def _metadata(soup: BeautifulSoup, url: str) -> dict[str, Any]:
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
    return _metadata(_soup(content, headers), url)


# --------------------------------------------------------------------------- listing


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
    today = today or _today()
    if not (content or b"").strip():
        raise PageEmpty(f"{source.name}: the page {url} is empty")
    soup = _soup(content, headers)
    selectors = source.selectors or {}
    item_selector = selectors.get("item")
    if not item_selector:
        raise SelectorInvalid(
            f"{source.name}: no selectors.item to find items with",
            selector="",
            field="item",
            source=source.name,
        )
    elements = _select(soup, item_selector, "item", source)
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
            node = _select_one(element, selectors[name], name, source)
            if node is None and name == "link" and element.name == "a":
                node = element
            found[name] = node
            if node is not None:
                matched[name] += 1
        link_node = found.get("link") or (element if element.name == "a" else None)
        href = _link_of(link_node) or _link_of(element)
        link = absolute_url(url, href) if href else None
        title = _text(found.get("title")) if "title" in matched else ""
        if not title and link_node is not None:
            title = _text(link_node)
        image, image_alt = _image_of(found.get("image"), url) if "image" in matched else (None, None)
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
            summary=truncate(_text(found.get("summary")), SUMMARY_LENGTH),
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
    machine = parse_iso(_machine_date(node))
    text = _text(node)
    if item.kind == "event":
        if machine:
            item.start = machine[0]
            item.extra["all_day"] = machine[1]
            return
        when = frdates.parse_event_when(text, today=today)
        if when:
            _set_when(item, when)
        return
    if machine:
        item.published = machine[0]
        return
    day = frdates.parse_date(text, today=today, past=True)
    if day:
        item.published = datetime.combine(day, time(0), tzinfo=PARIS)


def _set_when(item: Item, when: frdates.EventWhen) -> None:
    item.start, item.end = when.start, when.end
    item.extra["all_day"] = when.all_day


# --------------------------------------------------------------------------- detail

_REGISTRATION_TEXT = re.compile(r"inscri|s'inscrire|réserv", re.I)


def _content_root(soup: BeautifulSoup) -> Tag:
    for selector in ("main", "article", "[role=main]", "body"):
        node = soup.select_one(selector)
        if node is not None:
            return node
    return soup


def _main_content(content: bytes | str, headers: dict[str, str] | None) -> Tag:
    """The page's main content, without navigation, header, footer, forms and scripts."""
    root = _content_root(_soup(content, headers))
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
    today = today or _today()
    if not (content or b"").strip():
        raise PageEmpty(f"{source.name}: the detail page {url} is empty")
    soup = _soup(content, headers)
    meta = _metadata(soup, url)
    detail = source.detail or {}
    found = {name: _select_one(soup, sel, name, source) for name, sel in detail.items()}
    new = dataclasses.replace(item, extra=dict(item.extra), outlets=list(item.outlets), merged=list(item.merged))
    is_event = item.kind == "event"

    new.title = _text(found.get("title")) or meta["title"] or item.title or meta["og_title"] or meta["page_title"] or ""
    summary = _text(found.get("summary")) or meta["description"] or item.summary or meta["og_description"] or ""
    new.summary = truncate(summary, SUMMARY_LENGTH)
    image, image_alt = _image_of(found.get("image"), url)
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

    date_text = _text(found.get("date"))
    hours_text = _text(found.get("hours"))
    machine = parse_iso(_machine_date(found.get("date")))
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
                _set_when(new, when)
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
                _set_when(new, when)
    if not is_event and new.published is None and meta["times"]:
        new.published = meta["times"][0][0]

    # Where, who, how to register.
    new.location = _text(found.get("location")) or meta["location"] or item.location
    if meta["attendance_mode"]:
        new.extra["attendance_mode"] = meta["attendance_mode"]
    if not new.location and meta["online"]:
        new.location = "En ligne"
    new.audience = _text(found.get("audience")) or item.audience
    new.contact = _text(found.get("contact")) or item.contact or meta["organizer"]
    registration_node = found.get("registration")
    href = _link_of(registration_node)
    if href is None and is_event and not meta["registration_url"] and not item.registration_url:
        for link in main().find_all("a", href=True):
            text = _text(link)
            if _REGISTRATION_TEXT.search(text) and not _NEWSLETTER_TEXT.search(text):
                href = _link_of(link)
                if href:
                    break
    new.registration_url = (
        absolute_url(url, href) if href else meta["registration_url"] or item.registration_url
    )

    deadline_text = _text(found.get("deadline")) or _text(registration_node)
    deadline = frdates.parse_deadline(deadline_text, today=today) if deadline_text else None
    if deadline is None and is_event:
        deadline = frdates.parse_deadline(body(), today=today)
    if deadline:
        new.registration_deadline = deadline
    places_text = _text(found.get("places"))
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
