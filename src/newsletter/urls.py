"""Canonical URLs: one address per page, whatever link a feed or a share gave.

Rules applied by :func:`canonical_url`:

* a page's own ``<link rel="canonical">`` / ``og:url`` (passed as
  ``page_canonical``, resolved against the URL) wins over the link we followed,
  so that ``/node/123`` and its readable alias count as one page;
* scheme and host lower-cased, ``http`` upgraded to ``https``, a leading
  ``www.`` dropped, default ports dropped;
* tracking parameters removed (:data:`TRACKING_PARAMS` and any name starting
  with one of :data:`TRACKING_PREFIXES`), remaining parameters sorted;
* fragment dropped, empty path segments collapsed, trailing slash dropped
  (the site root is ``https://host/``).

Anything that is not an http(s) URL (a local path used by the sample site, a
``mailto:``) is returned stripped and without fragment, otherwise unchanged.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

# Exact names of query parameters that only track the reader, lower-case.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "hsctatracking",
        "mkt_tok",
        "xtor",
        "xts",
        "xtref",
        "at_medium",
        "at_campaign",
        "at_source",
        "at_content",
        "at_term",
        "at_platform",
        "ref_src",
        "ref_url",
        "cmpid",
        "ncid",
        "ito",
        "_ga",
        "_gl",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wt.mc_id",
        "s_cid",
        "spm",
    }
)
# Any parameter whose name starts with one of these is tracking too.
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "matomo_", "piwik_", "at_", "hsa_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SLASHES = re.compile(r"/{2,}")


def is_tracking_param(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


_PLAIN_PATH = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=._~-]*")
_HOST_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-"
_PLAIN_PATH_CHARS = _HOST_CHARS + "/:@!$&'()*+,;=_~"


class _QuoteTable(dict):
    """``str.translate`` table: each character as ``quote()`` writes it in a path
    (kept as it is when safe, else its UTF-8 bytes percent-encoded), computed once."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        got = char if char in _PLAIN_PATH_CHARS else quote(char, safe="")
        if len(self) < 10_000:
            self[code] = got
        return got


_QUOTED = _QuoteTable()


def _only_tracking(query: str) -> bool:
    """True when ``query`` is printable ASCII without space or fragment and every
    parameter in it is a tracking one, named without escapes (urllib would drop them all)."""
    if not query.isascii() or not query.isprintable() or " " in query or "#" in query:
        return False
    for piece in query.split("&"):
        name = piece.split("=", 1)[0]
        if "%" in name or "+" in name or (piece and not is_tracking_param(name)):
            return False
    return True


def _simple_canonical(url: str) -> str | None:
    """:func:`canonical_url` of an http(s) URL with a plain host (no port or
    credentials), a printable path without fragment, escape, backslash or space
    (accented letters are quoted as urllib's path would be) and no query but
    tracking parameters, by string methods (dedupe canonicalises 100k URLs);
    None for any other URL (and an empty host), which urllib then reads. An
    URL with surrounding spaces gives None too."""
    head = url[:8].lower()
    if head == "https://":
        rest = url[8:]
    elif head[:7] == "http://":
        rest = url[7:]
    else:
        return None
    if "?" in rest:  # a query of tracking parameters only (a shared link) is dropped
        rest, _, query = rest.partition("?")
        if not _only_tracking(query):
            return None
    slash = rest.find("/")
    host, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    # str.strip(chars) leaves nothing when every character is one of chars
    if not host or host.strip(_HOST_CHARS):
        return None
    if path.strip(_PLAIN_PATH_CHARS):  # other characters: no query, fragment, escape, space or control
        if "%" in path or "?" in path or "#" in path or "\\" in path or " " in path or not path.isprintable():
            return None
        path = path.translate(_QUOTED)  # quote() character by character: the same output, ~3x faster
    host = host.lower().rstrip(".")
    if not host:
        return None
    if host.startswith("www."):
        host = host[4:]
    if "//" in path:
        path = _SLASHES.sub("/", path)
    if len(path) > 1 and path[-1] == "/":
        path = path.rstrip("/")
    return f"https://{host}{path or '/'}"


def _normalise_path(path: str) -> str:
    # Decode then re-encode so that "%C3%A9", "é" and "%c3%a9" give one form.
    if not _PLAIN_PATH.fullmatch(path):
        path = quote(unquote(path), safe="/:@!$&'()*+,;=-._~")
    path = _SLASHES.sub("/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    return path or "/"


def canonical_url(url: str, page_canonical: str | None = None) -> str:
    """Return the canonical form of ``url`` (or of the page's own canonical link).

    Raises ValueError naming the URL when it is empty or an http(s) URL has no host.
    """
    tried = None  # the string the fast path already declined
    if not page_canonical and type(url) is str:
        fast = _simple_canonical(url)  # most URLs (dedupe canonicalises 100k): same result as below
        if fast is not None:
            return fast
        tried = url
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"canonical_url: empty URL {url!r}")
    url = url.strip()
    if page_canonical and page_canonical.strip():
        candidate = urljoin(url, page_canonical.strip())
        if urlsplit(candidate).scheme.lower() in ("http", "https") and urlsplit(candidate).hostname:
            url = candidate
    if url != tried:  # stripped, or the page's canonical link: the fast path has not seen it
        fast = _simple_canonical(url)
        if fast is not None:
            return fast
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url.split("#", 1)[0]
    netloc = parts.netloc.lower()
    if "@" in netloc or "[" in netloc:  # credentials or IPv6: let urllib parse
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"canonical_url: {url!r} has an invalid port") from exc
    else:
        host, _, port_text = netloc.partition(":")
        port = None
        if port_text:
            if not port_text.isdigit() or int(port_text) > 65535:
                raise ValueError(f"canonical_url: {url!r} has an invalid port")
            port = int(port_text)
    host = host.rstrip(".")
    if not host:
        raise ValueError(f"canonical_url: {url!r} has no host")
    if host.startswith("www."):
        host = host[4:]
    netloc = f"[{host}]" if ":" in host else host
    if port and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    query = ""
    if parts.query:
        query_pairs = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)
        ]
        query_pairs.sort()
        query = urlencode(query_pairs, quote_via=quote, safe="/:@!$'()*,;-._~")
    return urlunsplit(("https", netloc, _normalise_path(parts.path), query, ""))


def strip_tracking(url: str) -> str:
    """The link to give readers: ``url`` without tracking parameters, otherwise as it was.

    Unlike :func:`canonical_url` (an identity), this keeps scheme, host,
    ``www.``, path, parameter order and fragment, so the link still works on
    sites that need them.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not is_tracking_param(k)]
    if len(kept) == len(pairs):
        return url
    query = urlencode(kept, quote_via=quote, safe="/:@!$'()*,;-._~")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


WEB_SCHEMES = ("http", "https")


def web_url_problem(url: str) -> str | None:
    """Why ``url`` is not a web address the fetcher may read (None when it is one)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if not parts.scheme:
        return "not a web address (a path without a base URL; only http:// and https:// are read)"
    if parts.scheme.lower() not in WEB_SCHEMES:
        return f"not a web address ({parts.scheme}: URLs are refused; only http:// and https:// are read)"
    if not parts.hostname:
        return "URL has no host"
    return None
