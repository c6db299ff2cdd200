"""Parse feed bytes (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed) into Items.

Two XML paths produce the same Items:

* a fast path with lxml for well-formed RSS (``<rss>`` root) and Atom 1.0;
* feedparser for everything else: RSS 1.0 (RDF), Atom 0.3, ill-formed feeds,
  feeds with HTML entities, odd encodings.

Both paths reduce an entry to the same raw fields (``_RawEntry``) and share one
builder, so normalisation (safe text, truncation, absolute URLs, Paris dates,
Google Alerts unwrapping, outlet naming) is written once.

``parse_feed`` raises ``NotAFeed`` when the bytes are not a feed at all (an
HTML page, nothing, JSON that is not a JSON Feed) and ``FeedParseError`` when
they are a feed broken beyond recovery.
"""

from __future__ import annotations

import html.entities
import json
import logging
import re
import threading
from calendar import timegm
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterable
from urllib.parse import parse_qs, urljoin, urlsplit

import feedparser
from feedparser.datetimes import _parse_date as _feedparser_date
from lxml import etree

from newsletter.collect.frdates import MONTHS, fold
from newsletter.models import Item
from newsletter.normalize import PARIS, aware, charset_from_content_type, clean_text, decode_html, truncate
from newsletter.collect.sources import Source

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
JSONFEED_PREFIX = "https://jsonfeed.org/version/"
DEFAULT_SUMMARY_LENGTH = 300
TITLE_FROM_SUMMARY_LENGTH = 100


class NotAFeed(Exception):
    """The bytes are not a feed (HTML page, empty body, unrelated JSON or XML)."""


class FeedParseError(Exception):
    """The bytes look like a feed but are broken beyond recovery."""


@dataclass
class _RawEntry:
    """What both parsing paths extract from one entry, before normalisation."""

    title: str | None
    link: str | None
    date_text: str | None
    date_fallback: datetime | None  # feedparser's own reading (UTC) when ours fails
    summary_html: str | None
    image: str | None
    source_title: str | None


@dataclass
class RawFeed:
    """A parsed feed before normalisation: its title, home page link and entries."""

    title: str | None
    home: str | None
    entries: list[_RawEntry]

    def __post_init__(self) -> None:
        if not (self.home or "").startswith(("http://", "https://")):
            self.home = None


# --- entry point -------------------------------------------------------------


def parse_feed(
    content: bytes, *, url: str, source: Source, headers: dict | None = None
) -> list[Item]:
    """Items of the feed in ``content`` fetched from ``url`` for ``source``.

    ``headers`` are the HTTP response headers (any case); their charset counts
    when decoding. Raises NotAFeed or FeedParseError.
    """
    raw = parse_raw(content, url=url, headers=headers)
    return build_items(raw.entries, feed_title=raw.title, url=item_base(url, raw), source=source)


def item_base(url: str, raw: RawFeed) -> str:
    """What relative item links resolve against: the feed's URL, or for a
    local file the home page the feed declares."""
    if url.startswith(("http://", "https://")) or not raw.home:
        return url
    return raw.home


def parse_raw(content: bytes, *, url: str, headers: dict | None = None, fast: bool = True) -> RawFeed:
    """The feed's raw fields. ``fast=False`` forces feedparser for XML.

    For a local file (``url`` not http(s)) relative links are left relative
    for ``build_items`` to resolve against the feed's home page.
    """
    label, url = url, (url if url.startswith(("http://", "https://")) else "")
    if not content or not content.strip():
        raise NotAFeed(f"{label}: empty document")
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    content_type = headers.get("content-type") or ""
    head = content[:512].lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    if head[:1] in (b"{", b"[") or "json" in content_type.lower():
        return _parse_json_feed(content, url=url, label=label, content_type=content_type)
    text = decode_html(content, charset_from_content_type(content_type))
    if _looks_like_html(text):
        raise NotAFeed(f"{label}: an HTML page, not a feed")
    data = _as_utf8_xml(text)
    if fast:
        try:
            result = _parse_fast(data, url=url)
        except etree.XMLSyntaxError:
            pass
        else:
            return result or _parse_feedparser(data, url=url, label=label, text=text)
        # Ill-formed: the usual culprits are bare '&' and HTML entities. Escape
        # them and retry lxml, so that '&lang=fr' in a link stays '&lang=fr'
        # (feedparser's lenient parser would read '&lang' as the entity 〈).
        repaired = _repair_xml(data)
        if repaired is not None:
            try:
                result = _parse_fast(repaired, url=url)
            except etree.XMLSyntaxError:
                result = None
            if result is not None:
                return result
            data = repaired
    return _parse_feedparser(data, url=url, label=label, text=text)


# Either a CDATA section (left alone) or an '&' with what follows it.
_AMP_OR_CDATA = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|&(?:(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);)?", re.S
)
_XML_ENTITIES = frozenset((b"amp", b"lt", b"gt", b"quot", b"apos"))


def _entity_fix(match: re.Match) -> bytes:
    token = match.group(0)
    if token[:1] == b"<":  # CDATA: '&' is literal there
        return token
    ref = match.group(1)
    if ref is None:  # a bare '&'
        return b"&amp;"
    if ref[:1] == b"#":
        try:
            code = int(ref[2:], 16) if ref[1:2] in (b"x", b"X") else int(ref[1:])
            chr(code).encode("utf-8")
        except (ValueError, OverflowError, UnicodeEncodeError):
            return b"&amp;" + token[1:]
        return token
    if ref in _XML_ENTITIES:
        return token
    value = html.entities.html5.get(ref.decode("ascii") + ";")
    if value is None:  # unknown name: keep it as literal text
        return b"&amp;" + token[1:]
    return "".join(f"&#{ord(c)};" for c in value).encode("ascii")


def _repair_xml(data: bytes) -> bytes | None:
    """``data`` with bare '&' escaped and HTML entities turned into character
    references; None when there is nothing to change."""
    if b"&" not in data:
        return None
    repaired = _AMP_OR_CDATA.sub(_entity_fix, data)
    return repaired if repaired != data else None


# --- fast path (lxml) ----------------------------------------------------------

_XML_PARSER_KW = dict(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, encoding="utf-8"
)
_local = threading.local()


def _xml_parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(**_XML_PARSER_KW)
    return parser


def _parse_fast(data: bytes, *, url: str) -> RawFeed | None:
    """Parse well-formed RSS or Atom 1.0; None when another path must handle it."""
    root = etree.fromstring(data, parser=_xml_parser())
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            return None
        return RawFeed(
            _text(channel.find("title")),
            _rss_link(channel),
            [_rss_entry(el, url) for el in channel.iterfind("item")],
        )
    if root.tag == f"{{{ATOM_NS}}}feed":
        base = safe_join(url, root.get(XML_BASE) or "") or url
        title = _atom_text(root.find(f"{{{ATOM_NS}}}title"))
        home = None
        for el in root.iterfind(f"{{{ATOM_NS}}}link"):
            if (el.get("rel") or "alternate") == "alternate" and el.get("href"):
                home = safe_join(base, el.get("href"))
                break
        else:  # like feedparser: an id that is a URL stands for the home page
            home = _text(root.find(f"{{{ATOM_NS}}}id"))
        return RawFeed(title, home, [_atom_entry(el, base) for el in root.iterfind(f"{{{ATOM_NS}}}entry")])
    return None


def _text(el: Any) -> str | None:
    if el is None:
        return None
    value = "".join(el.itertext()).strip()
    return value or None


def _atom_text(el: Any) -> str | None:
    """Text of an Atom text construct; XHTML content kept as markup."""
    if el is None:
        return None
    if el.get("type") == "xhtml":
        div = el.find("{http://www.w3.org/1999/xhtml}div")
        node = div if div is not None else el
        parts = [node.text or ""]
        for child in node:
            parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
        value = "".join(parts).strip()
    else:
        value = (el.text or "").strip()
    return value or None


def _rss_link(el: Any) -> str | None:
    """The link of an RSS channel or item: ``<link>`` text, else its ``href``
    attribute (Atom style), else an ``atom:link`` with rel="alternate"."""
    for link in el.iterfind("link"):
        value = _text(link) or (link.get("href") or "").strip()
        if value:
            return value
    for link in el.iterfind(f"{{{ATOM_NS}}}link"):
        if (link.get("rel") or "alternate") == "alternate" and (link.get("href") or "").strip():
            return link.get("href").strip()
    return None


def _rss_entry(item: Any, base: str) -> _RawEntry:
    link = _rss_link(item)
    if not link:
        guid = item.find("guid")
        if guid is not None and (guid.get("isPermaLink") or "true").lower() != "false":
            link = _text(guid)
    summary = _text(item.find("description")) or _text(item.find(f"{{{CONTENT_NS}}}encoded"))
    date = _text(item.find("pubDate")) or _text(item.find(f"{{{DC_NS}}}date"))
    images = []
    for enc in item.iterfind("enclosure"):
        images.append((enc.get("url"), enc.get("type"), None))
    media = [(m.get("url"), m.get("type"), m.get("medium")) for m in item.iter(f"{{{MEDIA_NS}}}content")]
    thumbs = [t.get("url") for t in item.iter(f"{{{MEDIA_NS}}}thumbnail")]
    return _RawEntry(
        title=_text(item.find("title")),
        link=link,
        date_text=date,
        date_fallback=None,
        summary_html=summary,
        image=_pick_image(images, media, thumbs, summary, base),
        source_title=_text(item.find("source")),
    )


def _atom_entry(entry: Any, base: str) -> _RawEntry:
    base = safe_join(base, entry.get(XML_BASE) or "") or base
    link = None
    images = []
    for el in entry.iterfind(f"{{{ATOM_NS}}}link"):
        rel = el.get("rel") or "alternate"
        if rel == "alternate" and link is None:
            link = el.get("href")
        elif rel == "enclosure":
            images.append((el.get("href"), el.get("type"), None))
    if link is None:  # like feedparser: an id that is a web address is the link
        entry_id = _text(entry.find(f"{{{ATOM_NS}}}id"))
        if entry_id and entry_id.startswith(("http://", "https://")):
            link = entry_id
    summary = _atom_text(entry.find(f"{{{ATOM_NS}}}summary")) or _atom_text(
        entry.find(f"{{{ATOM_NS}}}content")
    )
    date = _text(entry.find(f"{{{ATOM_NS}}}published")) or _text(entry.find(f"{{{ATOM_NS}}}updated"))
    media = [(m.get("url"), m.get("type"), m.get("medium")) for m in entry.iter(f"{{{MEDIA_NS}}}content")]
    thumbs = [t.get("url") for t in entry.iter(f"{{{MEDIA_NS}}}thumbnail")]
    src = entry.find(f"{{{ATOM_NS}}}source")
    return _RawEntry(
        title=_atom_text(entry.find(f"{{{ATOM_NS}}}title")),
        link=safe_join(base, link) if link else None,
        date_text=date,
        date_fallback=None,
        summary_html=summary,
        image=_pick_image(images, media, thumbs, summary, base),
        source_title=_atom_text(src.find(f"{{{ATOM_NS}}}title")) if src is not None else None,
    )


# --- feedparser path -------------------------------------------------------------


def _parse_feedparser(data: bytes, *, url: str, label: str, text: str) -> RawFeed:
    parsed = feedparser.parse(
        data,
        response_headers={"content-type": "application/xml; charset=utf-8", "content-location": url},
    )
    entries = parsed.get("entries") or []
    version = parsed.get("version") or ""
    if not entries:
        if not version:
            if _looks_like_feed(text):
                reason = parsed.get("bozo_exception")
                raise FeedParseError(f"{label}: broken feed ({reason or 'unreadable'})")
            raise NotAFeed(f"{label}: no RSS, Atom or JSON Feed document found")
        if parsed.get("bozo") and not _has_entry_tag(text) and not parsed.feed.get("title"):
            raise FeedParseError(f"{label}: broken feed ({parsed.get('bozo_exception')})")
    feed = parsed.feed
    return RawFeed(feed.get("title") or None, feed.get("link") or None, [_fp_entry(e, url) for e in entries])


def _fp_entry(entry: Any, base: str) -> _RawEntry:
    summary = entry.get("summary")
    if not summary and entry.get("content"):
        summary = entry["content"][0].get("value")
    date_text = entry.get("published") or entry.get("updated")
    struct = entry.get("published_parsed") or entry.get("updated_parsed")
    fallback = datetime.fromtimestamp(timegm(struct), tz=timezone.utc) if struct else None
    images = [(e.get("href"), e.get("type"), None) for e in entry.get("enclosures") or []]
    media = [(m.get("url"), m.get("type"), m.get("medium")) for m in entry.get("media_content") or []]
    thumbs = [t.get("url") for t in entry.get("media_thumbnail") or []]
    source = entry.get("source") or {}
    return _RawEntry(
        title=entry.get("title") or None,
        link=entry.get("link") or None,
        date_text=date_text,
        date_fallback=fallback,
        summary_html=summary or None,
        image=_pick_image(images, media, thumbs, summary, base),
        source_title=source.get("title") or None,
    )


# --- JSON Feed ---------------------------------------------------------------------


def _parse_json_feed(content: bytes, *, url: str, label: str, content_type: str) -> RawFeed:
    try:
        data = json.loads(decode_html(content, charset_from_content_type(content_type) or "utf-8"))
    except ValueError as exc:
        if b"jsonfeed.org" in content[:2048]:
            raise FeedParseError(f"{label}: broken JSON Feed ({exc})") from None
        raise NotAFeed(f"{label}: not a feed (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(JSONFEED_PREFIX):
        raise NotAFeed(f"{label}: JSON document that is not a JSON Feed (no jsonfeed.org version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedParseError(f"{label}: JSON Feed without an 'items' list")
    entries = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            log.warning("%s: JSON Feed item #%d is not an object; skipped", label, index + 1)
            continue
        summary = item.get("summary") or item.get("content_html") or item.get("content_text")
        image = item.get("image") or item.get("banner_image")
        entries.append(
            _RawEntry(
                title=_str(item.get("title")),
                link=_str(item.get("url")) or _str(item.get("external_url")),
                date_text=_str(item.get("date_published")) or _str(item.get("date_modified")),
                date_fallback=None,
                summary_html=_str(summary),
                image=image.strip() if isinstance(image, str) and image.strip() else None,
                source_title=None,
            )
        )
    return RawFeed(_str(data.get("title")), _str(data.get("home_page_url")), entries)


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


# --- shared helpers ----------------------------------------------------------------

_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.I)
_IMAGE_EXT = re.compile(r"\.(jpe?g|png|gif|webp|avif)(\?|$)", re.I)


def _pick_image(
    enclosures: Iterable[tuple[str | None, str | None, str | None]],
    media: Iterable[tuple[str | None, str | None, str | None]],
    thumbs: Iterable[str | None],
    summary_html: str | None,
    base: str,
) -> str | None:
    candidates: list[str | None] = []
    candidates += [u for u, t, _ in enclosures if u and (t or "").startswith("image/")]
    candidates += [
        u for u, t, m in media
        if u and ((t or "").startswith("image/") or m == "image" or (not t and not m and _IMAGE_EXT.search(u)))
    ]
    candidates += list(thumbs)
    if summary_html:
        match = _IMG_SRC.search(summary_html)
        if match:
            candidates.append(match.group(1))
    for candidate in candidates:
        if candidate and candidate.strip():
            resolved = safe_join(base, candidate.strip())
            if resolved is None:
                continue
            scheme = urlsplit(resolved).scheme
            if scheme in ("http", "https", ""):  # relative: build_items resolves it
                return resolved
    return None


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.S)


def _as_utf8_xml(text: str) -> bytes:
    """The decoded document as UTF-8 bytes with a matching XML declaration."""
    text = text.lstrip("\ufeff")
    text = _XML_DECL.sub("", text, count=1)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + text.lstrip().encode("utf-8", "surrogatepass")


_HTML_START = re.compile(r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)
_FEED_START = re.compile(r"<(?:rss|feed|rdf:RDF|channel)[\s>]", re.I)


def _looks_like_html(text: str) -> bool:
    head = _XML_DECL.sub("", text[:2048].lstrip("\ufeff"), count=1)
    return bool(_HTML_START.match(head)) and not _FEED_START.search(text[:2048])


def _looks_like_feed(text: str) -> bool:
    return bool(_FEED_START.search(text[:4096]))


def _has_entry_tag(text: str) -> bool:
    return bool(re.search(r"<(?:item|entry)[\s>]", text))


# French day and month names as French feeds write them in RFC 822 dates
# ("ven., 05 déc. 2025 09:30:00 +0100"), matched on the folded text (case,
# accents) with or without abbreviation dots. Month names come from frdates.
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FR_DAYS = (
    "lundi", "lun", "mardi", "mar", "mercredi", "mer", "jeudi", "jeu",
    "vendredi", "ven", "samedi", "sam", "dimanche", "dim",
)
_FR_WEEKDAY = re.compile(r"^(?:%s)\.?,?\s+" % "|".join(_FR_DAYS))
_FR_MONTH = re.compile(r"(?<![a-z])(%s)\.?(?![a-z])" % "|".join(sorted(MONTHS, key=len, reverse=True)))


def _english_date(text: str) -> str | None:
    """``text`` with French day and month names put in English, or None when
    it has none."""
    folded = fold(text)
    english = _FR_WEEKDAY.sub("", folded, count=1)
    english = _FR_MONTH.sub(lambda m: _EN_MONTHS[MONTHS[m.group(1)] - 1], english)
    return english if english.lower() != folded else None


_DAY_ONLY = re.compile(r"^(?:[A-Za-z]{3},?\s+)?(\d{1,2} [A-Za-z]{3} \d{4})$")


def _day_only(text: str) -> datetime | None:
    """Midnight Paris time for a date without a time ("05 Dec 2025")."""
    match = _DAY_ONLY.match(text)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%d %b %Y")
    except ValueError:
        return None


def parse_date(text: str | None, fallback: datetime | None = None) -> datetime | None:
    """An aware datetime in Europe/Paris from an RFC 822 or ISO 8601 date.

    Naive dates are taken as Paris time. RFC 822 dates with French day or month
    names are read too. Other formats go through feedparser's date handlers
    (UTC); ``fallback`` is used when nothing reads ``text``.
    """
    value: datetime | None = None
    if text:
        text = text.strip()
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            value = None
        if value is None:
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                value = None
        if value is None:
            english = _english_date(text)
            if english is not None:
                try:
                    value = parsedate_to_datetime(english)
                except (TypeError, ValueError, IndexError):
                    value = None
            value = value or _day_only(english or text)
        if value is None:
            struct = _feedparser_date(english or text)
            if struct:
                value = datetime.fromtimestamp(timegm(struct), tz=timezone.utc)
    if value is None:
        value = fallback
    if value is None:
        return None
    return aware(value).astimezone(PARIS)


def safe_join(base: str, href: str) -> str | None:
    """``urljoin(base, href)``, or None when either is no readable URL
    (e.g. ``http://host[/path``, which urllib rejects as a bad IPv6 address)."""
    try:
        joined = urljoin(base, href)
        urlsplit(joined).hostname  # noqa: B018 - raises on a bad host part
    except ValueError:
        return None
    return joined


def unwrap_redirect(url: str) -> tuple[str, bool]:
    """(real URL, True) for a Google redirect link (``google.*/url?url=…``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, False
    host = (parts.hostname or "").lower()
    if parts.path == "/url" and (host.startswith(("google.", "www.google.")) or ".google." in host):
        query = parse_qs(parts.query)
        for key in ("url", "q"):
            target = (query.get(key) or [""])[0]
            if target.startswith(("http://", "https://")):
                return target, True
    return url, False


def host_outlet(url: str) -> str | None:
    """The link's host without ``www.``: the outlet name of last resort."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    if host.startswith("www."):
        host = host[4:]
    return host or None


def build_items(
    entries: list[_RawEntry], *, feed_title: str | None, url: str, source: Source
) -> list[Item]:
    length = int(source.options.get("summary_length", DEFAULT_SUMMARY_LENGTH))
    feed_outlet = clean_text(feed_title) or None
    items: list[Item] = []
    for raw in entries:
        link = (raw.link or "").strip()
        if not link:
            log.info("%s: entry without a link skipped (%r)", url, (raw.title or "")[:80])
            continue
        joined = safe_join(url, link)
        if joined is None:
            log.info("%s: entry with an unreadable link skipped (%r)", url, link[:80])
            continue
        link, unwrapped = unwrap_redirect(joined)
        image = safe_join(url, raw.image) if raw.image else None
        if not link.startswith(("http://", "https://")):
            log.info("%s: entry with a non-web link skipped (%r)", url, link[:80])
            continue
        summary_text = clean_text(raw.summary_html)
        title = clean_text(raw.title) or truncate(summary_text, TITLE_FROM_SUMMARY_LENGTH)
        if not title:
            log.info("%s: entry without a title or text skipped (%s)", url, link)
            continue
        outlet = None
        if source.kind == "press":
            outlet = (
                source.outlet
                or clean_text(raw.source_title)
                or (None if unwrapped else feed_outlet)
                or host_outlet(link)
            )
        items.append(
            Item(
                kind=source.kind,
                title=title,
                url=link,
                source=source.name,
                published=parse_date(raw.date_text, raw.date_fallback),
                summary=truncate(summary_text, length),
                image=image if image and image.startswith(("http://", "https://")) else None,
                outlet=outlet,
                category=source.category,
            )
        )
    return items


__all__ = [
    "FeedParseError",
    "NotAFeed",
    "RawFeed",
    "build_items",
    "host_outlet",
    "parse_date",
    "parse_feed",
    "parse_raw",
    "safe_join",
    "unwrap_redirect",
]
