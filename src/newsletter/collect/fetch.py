"""HTTP fetching for sources: timeouts, size cap, User-Agent, bounded
redirects, conditional GET and a per-host concurrency bound.

``Fetcher.fetch`` returns the bytes (or a not-modified answer) and raises
``FetchError`` carrying a ``models.SourceError`` for everything else, so the
caller never has to know about requests' exception hierarchy.

Only web addresses are fetched: an ``http``/``https`` URL with a host. Any
other URL (``file:``, ``ftp:``, ``javascript:``, ``data:``, a bare path), and a
redirect to one, is refused with an ``invalid_source`` error naming it: nothing
is ever read from disk. Every fetch has a wall-clock deadline (``max_time``)
that also holds against a server trickling a body byte by byte.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from newsletter import USER_AGENT
from newsletter.urls import web_url_problem
from newsletter.models import (
    ERROR_CONNECTION,
    ERROR_HTTP_STATUS,
    ERROR_INVALID_SOURCE,
    ERROR_TIMEOUT,
    ERROR_TOO_LARGE,
    SourceError,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5.0, 20.0)
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_PER_HOST = 4
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A fetch failed; ``error`` is the ``SourceError`` (category, message, status)."""

    def __init__(self, error: SourceError):
        super().__init__(str(error))
        self.error = error


@dataclass
class FetchResponse:
    url: str
    final_url: str
    status: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    elapsed: float = 0.0

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay in seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def host_key(url: str) -> str:
    """The key of the per-host bound: scheme-less ``host:port``."""
    parts = urlsplit(url)
    return (parts.netloc or "").lower()


class _RefusedRedirect(requests.exceptions.RequestException):
    """A redirect to something that is not a web address."""


def environment_matters() -> bool:
    """True when the environment holds per-request settings requests would use:
    proxies or a .netrc file (the CA bundle is read once by ``Fetcher``)."""
    if getproxies() or os.environ.get("NETRC"):
        return True
    home = Path.home()
    return (home / ".netrc").exists() or (home / "_netrc").exists()


def _err(category: str, message: str, **kwargs) -> FetchError:
    return FetchError(SourceError(category=category, message=message, **kwargs))


class Fetcher:
    """Fetch URLs politely. Thread-safe: one requests.Session per thread, all
    sharing one connection pool (a urllib3 PoolManager, which is thread-safe),
    so keep-alive connections to a host are reused by every thread.

    ``per_host`` bounds concurrent requests to one ``host:port`` across all
    threads using this fetcher; ``max_bytes`` caps the (decoded) body, checked
    while streaming; ``max_time`` bounds the whole transfer (the read timeout
    only bounds each socket read).
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        per_host: int = DEFAULT_PER_HOST,
        user_agent: str = USER_AGENT,
        max_time: float = 120.0,
    ):
        if per_host < 1:
            raise ValueError(f"per_host must be at least 1, got {per_host}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.per_host = per_host
        self.user_agent = user_agent
        self.max_time = max_time
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        # One adapter (= one urllib3 PoolManager) for every thread's session:
        # at most ``per_host`` requests run on a host at once (semaphores), so
        # ``per_host`` pooled connections per host are enough to reuse them all.
        self._adapter = HTTPAdapter(pool_connections=64, pool_maxsize=per_host, max_retries=0)
        # requests scans the whole environment (proxies, no_proxy, CA bundle,
        # .netrc) on every request. Read the CA bundle once here, and let
        # sessions skip the scan when no proxy or .netrc is configured.
        self._trust_env = environment_matters()
        self._ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")

    # -- plumbing --------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.max_redirects = self.max_redirects
            session.trust_env = self._trust_env
            if self._ca_bundle:
                session.verify = self._ca_bundle  # what trust_env would have done
            session.headers["User-Agent"] = self.user_agent
            session.headers["Accept"] = (
                "application/rss+xml, application/atom+xml, application/feed+json, "
                "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
            )
            session.mount("http://", self._adapter)
            session.mount("https://", self._adapter)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _semaphore(self, key: str) -> threading.BoundedSemaphore:
        with self._lock:
            sem = self._semaphores.get(key)
            if sem is None:
                sem = self._semaphores[key] = threading.BoundedSemaphore(self.per_host)
            return sem

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._adapter.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- public ----------------------------------------------------------
    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResponse:
        """GET ``url`` (http or https only). Raises FetchError on any failure.

        With ``etag``/``last_modified`` the request is conditional; a 304
        answer gives ``not_modified=True`` and empty content.
        """
        problem = web_url_problem(url)
        if problem:
            raise _err(ERROR_INVALID_SOURCE, f"{url}: {problem}")
        with self._semaphore(host_key(url)):
            return self._get(url, etag=etag, last_modified=last_modified)

    def _get(self, url: str, *, etag: str | None, last_modified: str | None) -> FetchResponse:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        start = time.monotonic()
        try:
            resp = self._session().get(
                url,
                headers=headers,
                timeout=self.timeout,
                stream=True,
                allow_redirects=True,
                hooks={"response": _refuse_non_web_redirect},
            )
        except _RefusedRedirect as exc:
            raise _err(ERROR_INVALID_SOURCE, f"{url}: {exc}") from None
        except requests.exceptions.TooManyRedirects:
            raise _err(
                ERROR_HTTP_STATUS, f"{url}: more than {self.max_redirects} redirects", http_status=None
            ) from None
        except requests.exceptions.Timeout as exc:
            raise _err(ERROR_TIMEOUT, f"{url}: {_timeout_text(exc, self.timeout)}") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise _err(ERROR_INVALID_SOURCE, f"{url}: invalid URL ({exc})") from None
        except requests.exceptions.RequestException as exc:
            raise _err(ERROR_CONNECTION, f"{url}: {_connection_text(exc)}") from None
        with resp:
            resp_headers = {k.lower(): v for k, v in resp.headers.items()}
            new_etag = resp_headers.get("etag")
            new_lm = resp_headers.get("last-modified")
            if resp.status_code == 304:
                # A 304 has no body: consuming it hands the connection back to
                # the pool for the next request (closing it would not).
                _ = resp.content
                return FetchResponse(
                    url=url,
                    final_url=resp.url,
                    status=304,
                    content=b"",
                    headers=resp_headers,
                    not_modified=True,
                    etag=new_etag or etag,
                    last_modified=new_lm or last_modified,
                    elapsed=time.monotonic() - start,
                )
            if resp.status_code >= 400:
                reason = resp.reason or ""
                raise _err(
                    ERROR_HTTP_STATUS,
                    f"{url}: HTTP {resp.status_code} {reason}".rstrip(),
                    http_status=resp.status_code,
                    retry_after=parse_retry_after(resp_headers.get("retry-after")),
                )
            if 300 <= resp.status_code < 400:
                raise _err(
                    ERROR_HTTP_STATUS,
                    f"{url}: HTTP {resp.status_code} redirect without a usable Location",
                    http_status=resp.status_code,
                )
            declared = resp_headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise _err(
                    ERROR_TOO_LARGE,
                    f"{url}: Content-Length {declared} bytes, over the {self.max_bytes}-byte cap",
                )
            content = self._read_body(url, resp, start)
        return FetchResponse(
            url=url,
            final_url=resp.url,
            status=resp.status_code,
            content=content,
            headers=resp_headers,
            not_modified=False,
            etag=new_etag,
            last_modified=new_lm,
            elapsed=time.monotonic() - start,
        )

    def _read_body(self, url: str, resp: requests.Response, start: float) -> bytes:
        """The (decoded) body, read one socket read at a time so that the
        deadline (``max_time`` from ``start``) holds even when the server
        trickles bytes: each read waits at most what is left of it."""
        deadline = start + self.max_time
        raw = resp.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        chunks: list[bytes] = []
        total = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _err(ERROR_TIMEOUT, f"{url}: transfer took over {self.max_time:g} s")
            if sock is not None:
                try:
                    sock.settimeout(min(self.timeout[1], remaining))
                except OSError:
                    sock = None
            try:
                chunk = raw.read1(_CHUNK, decode_content=True)
            except (urllib3.exceptions.ReadTimeoutError, socket.timeout, TimeoutError):
                if time.monotonic() >= deadline:
                    raise _err(ERROR_TIMEOUT, f"{url}: transfer took over {self.max_time:g} s") from None
                raise _err(ERROR_TIMEOUT, f"{url}: no answer within {self.timeout[1]:g} s") from None
            except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError) as exc:
                raise _err(ERROR_CONNECTION, f"{url}: {_connection_text(exc)}") from None
            if not chunk:
                break
            total += len(chunk)
            if total > self.max_bytes:
                raise _err(ERROR_TOO_LARGE, f"{url}: body over the {self.max_bytes}-byte cap")
            chunks.append(chunk)
        return b"".join(chunks)


def _refuse_non_web_redirect(resp: requests.Response, *args, **kwargs) -> None:
    """requests response hook: stop before following a redirect to a non-web URL."""
    if resp.is_redirect:
        target = urljoin(resp.url, resp.headers.get("location", ""))
        problem = web_url_problem(target)
        if problem:
            resp.close()
            raise _RefusedRedirect(f"redirected to {target}, {problem}")


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    return "timed out" in str(exc).lower()


def _timeout_text(exc: BaseException, timeout: tuple[float, float]) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {timeout[0]:g} s"
    return f"no answer within {timeout[1]:g} s"


def _connection_text(exc: BaseException) -> str:
    text = str(exc)
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "getaddrinfo" in lowered:
        return "host name not found"
    if "reset" in lowered:
        return "connection reset"
    if "ssl" in lowered or "certificate" in lowered:
        return f"TLS error ({text[:200]})"
    return f"connection failed ({text[:200]})"
