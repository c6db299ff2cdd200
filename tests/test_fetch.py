"""Fetcher: timeouts, size cap, User-Agent, redirects, conditional GET, per-host bound."""

from __future__ import annotations

import gzip
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from httpserver import free_port

from newsletter import USER_AGENT
from newsletter.collect.fetch import Fetcher, FetchError, parse_retry_after
from newsletter.models import (
    ERROR_CONNECTION,
    ERROR_HTTP_STATUS,
    ERROR_INVALID_SOURCE,
    ERROR_TIMEOUT,
    ERROR_TOO_LARGE,
)

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>IREV</title></channel></rss>'


class Concurrency:
    """A route handler that holds each request ``hold`` seconds and records the peak."""

    def __init__(self, hold: float, body: bytes = FEED):
        self.hold = hold
        self.body = body
        self.current = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        time.sleep(self.hold)
        with self.lock:
            self.current -= 1
        return 200, {"Content-Type": "application/rss+xml"}, self.body


closed_port = free_port


def test_fetch_returns_bytes_headers_and_sends_project_user_agent(server):
    url = server.add("/rss.xml", FEED, headers={"Content-Type": "application/rss+xml; charset=utf-8"})
    resp = Fetcher().fetch(url)
    assert resp.status == 200
    assert resp.content == FEED
    assert resp.headers["content-type"].startswith("application/rss+xml")
    assert not resp.not_modified
    ua = server.hits("/rss.xml")[0].headers["user-agent"]
    assert ua == USER_AGENT
    assert "newsletter-pipeline" in ua and "https://" in ua


def test_read_timeout_is_a_timeout_error(server):
    url = server.add("/slow", FEED, delay=1.0)
    with pytest.raises(FetchError) as info:
        Fetcher(timeout=(1, 0.2)).fetch(url)
    assert info.value.error.category == ERROR_TIMEOUT
    assert info.value.error.transient
    assert "/slow" in info.value.error.message


def test_refused_connection_is_a_connection_error():
    url = f"http://127.0.0.1:{closed_port()}/rss.xml"
    with pytest.raises(FetchError) as info:
        Fetcher(timeout=(1, 1)).fetch(url)
    assert info.value.error.category == ERROR_CONNECTION
    assert "refused" in info.value.error.message
    assert info.value.error.transient


@pytest.mark.parametrize("status,transient", [(404, False), (410, False), (500, True), (503, True)])
def test_http_error_status(server, status, transient):
    url = server.add("/feed", b"oops", status=status)
    with pytest.raises(FetchError) as info:
        Fetcher().fetch(url)
    error = info.value.error
    assert error.category == ERROR_HTTP_STATUS
    assert error.http_status == status
    assert error.transient is transient
    assert str(status) in error.message


def test_retry_after_seconds_and_http_date(server):
    url = server.add("/busy", b"", status=429, headers={"Retry-After": "120"})
    with pytest.raises(FetchError) as info:
        Fetcher().fetch(url)
    assert info.value.error.retry_after == 120
    assert info.value.error.transient

    later = datetime.now(timezone.utc) + timedelta(seconds=300)
    url = server.add("/down", b"", status=503, headers={"Retry-After": format_datetime(later, usegmt=True)})
    with pytest.raises(FetchError) as info:
        Fetcher().fetch(url)
    assert 290 <= info.value.error.retry_after <= 301


def test_parse_retry_after_rejects_garbage():
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_body_over_declared_cap_is_too_large(server):
    url = server.add("/big", b"x" * 5000)
    with pytest.raises(FetchError) as info:
        Fetcher(max_bytes=1000).fetch(url)
    assert info.value.error.category == ERROR_TOO_LARGE
    assert not info.value.error.transient


def test_cap_is_enforced_while_streaming_decoded_body(server):
    # 200 kB of zeros gzipped to a few hundred bytes: Content-Length is small,
    # the body is not. The cap must hold on the bytes actually read.
    body = gzip.compress(b"0" * 200_000)
    url = server.add("/bomb", body, headers={"Content-Encoding": "gzip"})
    assert len(body) < 10_000
    with pytest.raises(FetchError) as info:
        Fetcher(max_bytes=10_000).fetch(url)
    assert info.value.error.category == ERROR_TOO_LARGE


def test_redirects_are_followed(server):
    final = server.add("/feed.xml", FEED)
    server.add("/old", redirect_to="/older", status=301)
    server.add("/older", redirect_to=final, status=302)
    resp = Fetcher().fetch(server.url("/old"))
    assert resp.content == FEED
    assert resp.final_url == final
    assert resp.url == server.url("/old")


def test_redirects_are_bounded(server):
    for n in range(10):
        server.add(f"/hop{n}", redirect_to=f"/hop{n + 1}")
    server.add("/hop10", FEED)
    with pytest.raises(FetchError) as info:
        Fetcher(max_redirects=3).fetch(server.url("/hop0"))
    assert info.value.error.category == ERROR_HTTP_STATUS
    assert "redirects" in info.value.error.message
    assert len(server.hits("/hop4")) == 0  # stopped after the bound
    # With enough room the same chain works.
    assert Fetcher(max_redirects=10).fetch(server.url("/hop0")).content == FEED


def test_conditional_get_with_etag(server):
    url = server.add("/rss", FEED, etag='"v1"')
    fetcher = Fetcher()
    first = fetcher.fetch(url)
    assert first.etag == '"v1"' and first.content == FEED
    second = fetcher.fetch(url, etag=first.etag)
    assert second.not_modified and second.status == 304
    assert second.content == b""
    assert second.etag == '"v1"'
    assert server.hits("/rss")[1].headers["if-none-match"] == '"v1"'


def test_conditional_get_with_last_modified(server):
    stamp = "Fri, 05 Dec 2025 08:00:00 GMT"
    url = server.add("/atom", FEED, last_modified=stamp)
    first = Fetcher().fetch(url)
    assert first.last_modified == stamp and first.etag is None
    second = Fetcher().fetch(url, last_modified=stamp)
    assert second.not_modified
    assert second.last_modified == stamp
    assert server.hits("/atom")[1].headers["if-modified-since"] == stamp
    assert "if-modified-since" not in server.hits("/atom")[0].headers


def test_per_host_bound_holds_across_threads(server):
    counter = Concurrency(hold=0.15)
    url = server.add("/c", handler=counter)
    fetcher = Fetcher(per_host=2)
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: fetcher.fetch(url), range(8)))
    assert all(r.status == 200 for r in responses)
    assert counter.peak == 2


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="per_host"):
        Fetcher(per_host=0)
    with pytest.raises(FetchError) as info:
        Fetcher().fetch("http:///nohost")
    assert info.value.error.category == ERROR_INVALID_SOURCE


def test_conditional_requests_reuse_connections_across_threads(server, monkeypatch):
    # A second run is mostly 304s: each must not cost a new TCP connection,
    # whichever worker thread sends it.
    connections = []
    accept = server.httpd.process_request

    def counting(request, client_address):
        connections.append(client_address)
        return accept(request, client_address)

    monkeypatch.setattr(server.httpd, "process_request", counting)
    url = server.add("/rss", FEED, etag='"v1"')
    fetcher = Fetcher(per_host=2)
    assert fetcher.fetch(url).status == 200
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: fetcher.fetch(url, etag='"v1"'), range(12)))
    fetcher.close()
    assert all(a.not_modified and a.status == 304 for a in answers)
    assert len(server.hits("/rss")) == 13
    assert 1 <= len(connections) <= 2  # never more than the per-host bound


def test_proxy_from_the_environment_is_used(server, monkeypatch):
    with_proxy = server  # the proxy receives the absolute URL as its request path
    target = f"http://127.0.0.1:{closed_port()}/feed.xml"
    with_proxy.add(target, FEED)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.base_url)
    resp = Fetcher().fetch(target)
    assert resp.content == FEED
    assert len(with_proxy.hits(target)) == 1


def test_ca_bundle_from_the_environment_is_used(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert Fetcher()._session().verify == str(bundle)
