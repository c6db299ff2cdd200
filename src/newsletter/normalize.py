"""Text, URL and date normalisation shared by the feed and page parsers."""

from __future__ import annotations

import codecs
import html
import re
from datetime import datetime
from email.message import Message
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import nh3
from bs4.dammit import EncodingDetector

PARIS = ZoneInfo("Europe/Paris")
_WS = re.compile(r"\s+")
# C0 and C1 control characters and DEL, but not tab, newline and carriage
# return (which are whitespace): a backspace or an escape in a feed title must
# never reach a template, an MJML file or a calendar file.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Control characters in a link, raw or percent-encoded (%0A, %1b, %7F…).
_LINK_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]|%(?:[01][0-9a-fA-F]|7[fF])")


# Opening or closing tags of block-level elements: their boundary separates
# words ("<p>a.</p><p>B</p>" is "a. B"); inline tags (b, i, a, span…) do not.
_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:p|div|br|hr|li|dd|dt|dl|h[1-6]|tr|td|th|table|blockquote|pre|ul|ol|section"
    r"|article|header|footer|nav|aside|main|figure|figcaption|address)(?=[\s/>])"
    r"""(?:[^>"']|"[^"]*"|'[^']*')*>""",
    re.I,
)


def clean_text(value: str | None) -> str:
    """Markup removed, entities decoded, whitespace collapsed: safe plain text.

    Block-level elements (paragraphs, line breaks, list items, headings, table
    cells…) are separated by a space; inline ones are not.
    """
    if not value:
        return ""
    if "<" in value:
        value = _BLOCK_TAG.sub(" ", value)
    text = nh3.clean(_CONTROL.sub("", value), tags=set(), attributes={})
    text = html.unescape(text)
    return _WS.sub(" ", strip_controls(text)).strip()


def strip_controls(value: str) -> str:
    """``value`` without control characters (tab, newline and CR kept)."""
    return _CONTROL.sub("", value)


def clean_link(value: str | None) -> str:
    """A link without whitespace or control characters, raw or percent-encoded."""
    if not value:
        return ""
    return _LINK_CONTROL.sub("", value.strip()).replace(" ", "%20")


SUBSCRIBER_SCHEMES = ("http", "https", "mailto")


def link_problem(url: str, *, mailto: bool = False) -> str | None:
    """Why ``url`` may not reach a subscriber: only http(s) web addresses, and
    ``mailto:`` where ``mailto`` is True. None when it may."""
    from newsletter.urls import web_url_problem

    if mailto and url[:7].lower() == "mailto:":
        return None if len(url) > 7 and "@" in url else "empty mailto: link"
    return web_url_problem(url)


# Item fields holding text shown to the subscriber, and links.
ITEM_TEXT_FIELDS = ("title", "summary", "image_alt", "outlet", "location", "audience", "contact", "category")
ITEM_LINK_FIELDS = ("canonical_url", "image", "registration_url")


def normalize_item(item) -> list[str]:
    """Strip control characters from every text and link of ``item`` (an
    ``models.Item``), in place, and drop its optional links that may not reach
    a subscriber. Returns the problems found (one message per dropped link).

    Raises ValueError when the item's own link is not an http(s) address: the
    caller drops the item.
    """
    problems: list[str] = []
    for name in ITEM_TEXT_FIELDS:
        value = getattr(item, name, None)
        if isinstance(value, str):
            setattr(item, name, _WS.sub(" ", strip_controls(value)).strip() if name != "summary"
                    else strip_controls(value))
    item.outlets = [strip_controls(o) for o in item.outlets if isinstance(o, str)]
    url = clean_link(item.url)
    problem = link_problem(url) if url else "no link"
    if problem:
        raise ValueError(f"link {item.url!r}: {problem}")
    item.url = url
    for name in ITEM_LINK_FIELDS:
        value = getattr(item, name, None)
        if value is None:
            continue
        link = clean_link(str(value))
        problem = link_problem(link, mailto=(name == "registration_url")) if link else None
        if problem or not link:
            if problem:
                problems.append(f"{name} {value!r} dropped: {problem}")
            setattr(item, name, None)
        else:
            setattr(item, name, link)
    merged = []
    for value in item.merged:
        link = clean_link(str(value))
        problem = link_problem(link) if link else "empty"
        if problem:
            problems.append(f"merged link {value!r} dropped: {problem}")
        else:
            merged.append(link)
    item.merged = merged
    for key, value in list(item.extra.items()):
        if isinstance(value, str):
            item.extra[key] = strip_controls(value)
    return problems


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


# --- Encodings -------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels that in practice mean windows-1252 (the WHATWG encoding standard maps
# them so): its extra characters (€, œ, curly quotes) are common in French text.
_LATIN1_LABELS = {"iso8859-1", "latin-1", "iso-8859-1", "ascii", "us-ascii", "cp819"}


def _codec_name(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name in _LATIN1_LABELS or label in _LATIN1_LABELS:
        return "cp1252"
    return name


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value, if any."""
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    charset = msg.get_param("charset")
    return str(charset) if charset else None


def sniff_bom(content: bytes) -> tuple[str | None, int]:
    """(codec, BOM length) when ``content`` starts with a byte order mark."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name, len(bom)
    return None, 0


def decode_html(content: bytes, http_charset: str | None = None) -> str:
    """Decode an HTML or XML document to text, getting the encoding right.

    Order of evidence: a byte order mark; then, when the bytes are valid UTF-8
    and not plain ASCII, UTF-8 (a document that decodes as UTF-8 is UTF-8
    whatever a stale header or declaration says); then the HTTP charset, then
    the charset the document declares (XML declaration or ``<meta>``), each
    used only if it decodes the bytes cleanly; then windows-1252. Latin-1 labels
    are read as windows-1252. Never raises on undecodable bytes: the last
    resort replaces them.
    """
    if not content:
        return ""
    bom_codec, bom_len = sniff_bom(content)
    if bom_codec:
        return content[bom_len:].decode(bom_codec, errors="replace")
    http_codec = _codec_name(http_charset)
    if http_codec and http_codec.startswith(("utf-16", "utf-32")):
        try:
            return content.decode(http_codec)
        except UnicodeDecodeError:
            pass
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not text.isascii() or http_codec is None or http_codec == "utf-8":
            return text
    declared = _codec_name(
        EncodingDetector.find_declared_encoding(content[:4096], is_html=True, search_entire_document=False)
    )
    for codec in dict.fromkeys(c for c in (http_codec, declared, "cp1252") if c):
        try:
            return content.decode(codec)
        except UnicodeDecodeError:
            continue
    return content.decode("cp1252", errors="replace")
