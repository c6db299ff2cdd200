"""Collector: conditional GET with state, error categories, parallelism bounds, attention flag."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from httpserver import free_port

from httpserver import LocalServer
from newsletter.collect.collector import (
    FetchOutcome,
    MemoryStateStore,
    SourceState,
    collect_all,
    collect_source,
    fetch_source,
    is_transient,
    needs_attention,
    parse_source,
)
from newsletter.collect.fetch import Fetcher, FetchError
from newsletter.models import (
    ERROR_CATEGORIES,
    ERROR_CONNECTION,
    ERROR_HTTP_STATUS,
    ERROR_INVALID_SOURCE,
    ERROR_NOT_A_FEED,
    ERROR_PARSE,
    ERROR_SELECTOR_EMPTY,
    ERROR_TIMEOUT,
    ERROR_TOO_LARGE,
    SourceError,
)
from newsletter.collect.sources import Source

FEEDS = Path(__file__).parent / "data" / "feeds"
RSS = (FEEDS / "rss20.xml").read_bytes()
ATOM = (FEEDS / "atom10.xml").read_bytes()
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


def feed_source(url: str, name: str = "IREV – agenda", kind: str = "article", **kwargs) -> Source:
    return Source(name=name, kind=kind, type="feed", url=url, **kwargs)


closed_port = free_port


class Peak:
    """Route handlers sharing counters: per-route and overall peak concurrency."""

    def __init__(self, hold: float):
        self.hold = hold
        self.lock = threading.Lock()
        self.current: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.total = 0
        self.total_peak = 0

    def handler(self, group: str, body: bytes = RSS):
        def handle(request):
            with self.lock:
                self.current[group] = self.current.get(group, 0) + 1
                self.peak[group] = max(self.peak.get(group, 0), self.current[group])
                self.total += 1
                self.total_peak = max(self.total_peak, self.total)
            time.sleep(self.hold)
            with self.lock:
                self.current[group] -= 1
                self.total -= 1
            return 200, dict(RSS_TYPE), body

        return handle


def test_collect_source_gives_items_with_source_fields(server):
    url = server.add("/agenda.xml", RSS, headers=RSS_TYPE)
    result = collect_source(feed_source(url, category="egalite"), Fetcher())
    assert result.ok and not result.not_modified
    assert [i.title for i in result.items][:1] == ["Journée de qualification : discriminations & droit commun"]
    # relative link resolved against the feed's own URL
    assert result.items[0].url == server.url("/agenda/journee-discriminations-droit-commun")
    assert {i.source for i in result.items} == {"IREV – agenda"}
    assert {i.category for i in result.items} == {"egalite"}
    assert result.elapsed > 0


def test_relative_links_resolve_against_the_final_url_after_redirect(server):
    server.add("/feeds/agenda.xml", RSS, headers=RSS_TYPE)
    url = server.add("/rss", redirect_to="/feeds/agenda.xml", status=301)
    result = collect_source(feed_source(url), Fetcher())
    assert result.items[0].url == server.url("/agenda/journee-discriminations-droit-commun")


def test_second_run_is_conditional_and_reuses_items_from_state(server):
    url = server.add("/agenda.xml", RSS, headers=RSS_TYPE, etag='"agenda-v1"',
                     last_modified="Mon, 03 Nov 2025 08:30:00 GMT")
    state = MemoryStateStore()
    src = feed_source(url)
    first = collect_all([src], fetcher=Fetcher(), state=state)[0]
    assert first.ok and not first.not_modified and len(first.items) == 3
    assert state.get(src.name).etag == '"agenda-v1"'
    second = collect_all([src], fetcher=Fetcher(), state=state)[0]
    assert second.ok and second.not_modified
    assert [i.to_dict() for i in second.items] == [i.to_dict() for i in first.items]
    hit = server.hits("/agenda.xml")[1].headers
    assert hit["if-none-match"] == '"agenda-v1"'
    assert hit["if-modified-since"] == "Mon, 03 Nov 2025 08:30:00 GMT"
    # A third run after a 304 still has the items.
    third = collect_all([src], fetcher=Fetcher(), state=state)[0]
    assert third.not_modified and len(third.items) == 3


def test_fetch_and_parse_are_separate_steps(server):
    url = server.add("/a.xml", ATOM, etag='"1"')
    src = feed_source(url)
    state = MemoryStateStore()
    outcome = fetch_source(src, Fetcher(), state)
    assert isinstance(outcome, FetchOutcome) and outcome.response.content == ATOM
    assert len(server.hits("/a.xml")) == 1
    result = parse_source(src, outcome, state=state)
    assert len(result.items) == 2 and result.etag == '"1"'
    assert len(server.hits("/a.xml")) == 1  # parsing did no I/O


def test_fetch_source_raises_fetch_error_for_the_main_url(server):
    url = server.add("/gone", b"", status=404)
    with pytest.raises(FetchError) as info:
        fetch_source(feed_source(url), Fetcher())
    assert info.value.error.http_status == 404


def _categories(server: LocalServer) -> dict[str, tuple[Source, str]]:
    big = b"<rss>" + b"x" * 50_000 + b"</rss>"
    return {
        "timeout": (feed_source(server.add("/slow", RSS, delay=1.0), "lent"), ERROR_TIMEOUT),
        "refused": (feed_source(f"http://127.0.0.1:{closed_port()}/rss", "fermé"), ERROR_CONNECTION),
        "404": (feed_source(server.add("/missing", b"no", status=404), "absent"), ERROR_HTTP_STATUS),
        "500": (feed_source(server.add("/boom", b"no", status=500), "en panne"), ERROR_HTTP_STATUS),
        "big": (feed_source(server.add("/big", big), "énorme"), ERROR_TOO_LARGE),
        "html": (
            feed_source(server.add("/page", b"<!doctype html><html><body>Accueil</body></html>",
                                   headers={"Content-Type": "text/html"}), "page"),
            ERROR_NOT_A_FEED,
        ),
        "broken": (
            feed_source(server.add("/broken.json", b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
                                   headers={"Content-Type": "application/feed+json"}), "cassé"),
            ERROR_PARSE,
        ),
        "missing file": (feed_source("/nonexistent/dir/feed.xml", "fichier"), ERROR_INVALID_SOURCE),
    }


def test_each_failure_has_its_category_and_never_stops_the_others(server):
    cases = _categories(server)
    good = feed_source(server.add("/good.xml", RSS, headers=RSS_TYPE), "bon")
    sources = [good] + [src for src, _ in cases.values()] + [feed_source(server.add("/a.xml", ATOM), "bon 2")]
    fetcher = Fetcher(timeout=(1, 0.3), max_bytes=20_000)
    results = collect_all(sources, fetcher=fetcher, state=MemoryStateStore())
    assert [r.source for r in results] == [s.name for s in sources]  # order kept
    assert results[0].ok and len(results[0].items) == 3
    assert results[-1].ok and len(results[-1].items) == 2
    for (label, (src, category)), result in zip(cases.items(), results[1:-1]):
        assert result.error is not None, label
        assert result.error.category == category, (label, result.error)
        assert result.error.category in ERROR_CATEGORIES
        assert result.items == []
    by_name = {r.source: r for r in results}
    assert by_name["absent"].error.http_status == 404 and not is_transient(by_name["absent"].error)
    assert by_name["en panne"].error.http_status == 500 and is_transient(by_name["en panne"].error)
    assert is_transient(by_name["lent"].error) and is_transient(by_name["fermé"].error)


def test_is_transient():
    assert is_transient(SourceError(ERROR_HTTP_STATUS, "x", http_status=429))
    assert is_transient(SourceError(ERROR_HTTP_STATUS, "x", http_status=502))
    assert not is_transient(SourceError(ERROR_HTTP_STATUS, "x", http_status=404))
    assert not is_transient(SourceError(ERROR_NOT_A_FEED, "x"))


def test_selector_empty_for_a_page_source(server):
    url = server.add("/agenda.html", b"<html><body><p>Refonte du site en cours</p></body></html>",
                     headers={"Content-Type": "text/html; charset=utf-8"})
    src = Source(name="IREV – agenda (page)", kind="event", type="page", url=url,
                 selectors={"item": ".event-card", "title": "h3", "link": "a"})
    result = collect_source(src, Fetcher())
    assert result.error is not None and result.error.category == ERROR_SELECTOR_EMPTY
    assert ".event-card" in result.error.message


def test_page_source_follows_detail_pages_and_detail_failures_are_warnings(server):
    listing = """<html><body>
      <div class="event-card"><h3>Journée discriminations et droit commun</h3><a href="/agenda/journee">Lire</a></div>
      <div class="event-card"><h3>Quartiers 2030</h3><a href="/agenda/quartiers-2030">Lire</a></div>
    </body></html>"""
    detail = """<html><body><h1>Journée discriminations et droit commun</h1>
      <p class="place">Lille, 135 boulevard Paul Painlevé</p></body></html>"""
    url = server.add("/agenda.html", listing, headers={"Content-Type": "text/html; charset=utf-8"})
    server.add("/agenda/journee", detail, headers={"Content-Type": "text/html; charset=utf-8"})
    server.add("/agenda/quartiers-2030", b"down", status=503)
    src = Source(name="agenda", kind="event", type="page", url=url, follow=True,
                 selectors={"item": ".event-card", "title": "h3", "link": "a"},
                 detail={"location": ".place"})
    result = collect_source(src, Fetcher())
    assert result.ok, result.error
    assert len(result.items) == 2
    assert len(server.hits("/agenda/journee")) == 1
    assert any("quartiers-2030" in w and "503" in w for w in result.warnings)
    assert result.items[0].location and "Paul Painlevé" in result.items[0].location


def test_parse_error_keeps_previous_validators_and_items(server):
    state = MemoryStateStore()
    src = feed_source(server.url("/f.xml"))
    server.add("/f.xml", RSS, etag='"v1"')
    assert collect_all([src], fetcher=Fetcher(), state=state)[0].ok
    server.add("/f.xml", b"<!doctype html><html>maintenance</html>", etag='"v2"')
    broken = collect_all([src], fetcher=Fetcher(), state=state)[0]
    assert broken.error.category == ERROR_NOT_A_FEED
    kept = state.get(src.name)
    assert kept.etag == '"v1"' and len(kept.items) == 3 and kept.consecutive_failures == 1


def test_repeated_failure_flags_the_source(server):
    state = MemoryStateStore()
    src = feed_source(server.add("/down", b"", status=500), "IREV – en panne")
    for run in range(1, 4):
        result = collect_all([src], fetcher=Fetcher(), state=state)[0]
        assert state.get(src.name).consecutive_failures == run
        assert needs_attention(state, src.name) is (run >= 3)
        assert result.needs_attention is (run >= 3)
    server.add("/down", RSS)
    recovered = collect_all([src], fetcher=Fetcher(), state=state)[0]
    assert recovered.ok and not recovered.needs_attention
    assert state.get(src.name).consecutive_failures == 0
    assert not needs_attention(state, src.name)
    assert needs_attention(state, src.name, threshold=0) is True
    assert needs_attention(None, src.name) is False


def test_not_modified_without_state_is_not_an_error(server):
    url = server.add("/x", RSS, etag='"e"')
    state = MemoryStateStore()
    state._states["s"] = SourceState(etag='"e"', items=[])
    result = collect_source(feed_source(url, "s"), Fetcher(), state)
    assert result.ok and result.not_modified and result.items == []


def test_per_host_bound_with_many_sources_on_one_host(server):
    peak = Peak(hold=0.2)
    sources = [feed_source(server.add(f"/s{n}.xml", handler=peak.handler("a")), f"s{n}") for n in range(20)]
    results = collect_all(sources, fetcher=Fetcher(per_host=4), max_workers=16)
    assert all(r.ok for r in results)
    assert peak.peak["a"] == 4


def test_several_hosts_run_in_parallel_without_starving():
    peak = Peak(hold=0.25)
    with LocalServer() as a, LocalServer() as b:
        # All of host A first: a naive pool would fill every worker with A's sources.
        sources = [feed_source(a.add(f"/a{n}", handler=peak.handler("a")), f"a{n}") for n in range(12)]
        sources += [feed_source(b.add(f"/b{n}", handler=peak.handler("b")), f"b{n}") for n in range(4)]
        start = time.monotonic()
        results = collect_all(sources, fetcher=Fetcher(per_host=4), max_workers=8)
        elapsed = time.monotonic() - start
    assert all(r.ok for r in results)
    assert peak.peak == {"a": 4, "b": 4}
    assert peak.total_peak == 8
    # 3 rounds of host A (12 / 4), host B alongside: far less than 16 sequential holds.
    assert elapsed < 16 * 0.25 / 2


def test_item_round_trips_through_the_state_dict():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from newsletter.models import Item

    paris = ZoneInfo("Europe/Paris")
    item = Item(kind="event", title="Journée discriminations", url="https://www.irev.fr/a",
                published=datetime(2025, 11, 3, 9, 30, tzinfo=paris),
                start=datetime(2025, 12, 5, 9, 0, tzinfo=paris), outlets=["IREV"],
                extra={"tags": ["droit commun"], "n": {"a": 1}})
    data = item.to_dict()
    assert data["start"] == "2025-12-05T09:00:00+01:00"
    data["extra"]["tags"].append("x")
    assert item.extra["tags"] == ["droit commun"]  # a copy, not the item's own list
    assert Item.from_dict(item.to_dict()) == item
    odd = {**item.to_dict(), "teaser": "kept in extra"}
    assert Item.from_dict(odd).extra["teaser"] == "kept in extra"
    with pytest.raises(ValueError, match="start"):
        Item.from_dict({**item.to_dict(), "start": "le 5 décembre"})
    with pytest.raises(ValueError, match="url"):
        Item.from_dict({"title": "sans lien"})


def test_items_kept_on_304_are_fresh_copies(server):
    # Later stages edit items (category, outlets, extra): that must not leak
    # into the state a later 304 reads from.
    url = server.add("/agenda.xml", RSS, headers=RSS_TYPE, etag='"v1"')
    state = MemoryStateStore()
    src = feed_source(url)
    first = collect_all([src], fetcher=Fetcher(), state=state)[0]
    second = collect_all([src], fetcher=Fetcher(), state=state)[0]
    assert second.not_modified
    edited = second.items[0]
    edited.title = "changé"
    edited.outlets.append("Le Courrier picard")
    edited.extra["note"] = "ajoutée"
    third = collect_all([src], fetcher=Fetcher(), state=state)[0]
    assert third.not_modified
    assert [i.to_dict() for i in third.items] == [i.to_dict() for i in first.items]
    assert third.items[0] is not edited and third.items[0].outlets == []


def test_parse_source_reads_state_when_the_outcome_carries_none(server):
    # An outcome built elsewhere (e.g. after crossing a process boundary) has no
    # previous state attached: the 304 items then come from the store.
    url = server.add("/a.xml", ATOM, etag='"1"')
    src = feed_source(url)
    state = MemoryStateStore()
    assert collect_all([src], fetcher=Fetcher(), state=state)[0].ok
    outcome = fetch_source(src, Fetcher(), state)
    assert outcome.not_modified
    bare = FetchOutcome(source=outcome.source, response=outcome.response)
    result = parse_source(src, bare, state=state)
    assert result.not_modified and len(result.items) == 2
    assert [i.url for i in result.items] == [i.url for i in parse_source(src, outcome, state=state).items]


class CountingStore(MemoryStateStore):
    def __init__(self):
        super().__init__()
        self.recorded: list[str] = []

    def record(self, source_name, result):
        self.recorded.append(source_name)
        return super().record(source_name, result)


def test_mixed_304s_and_changes_are_each_parsed_and_recorded_once():
    # Workers fetch before rebuilding a 304's items: every source must still
    # end with its own items, recorded exactly once, in the order given.
    with LocalServer() as a, LocalServer() as b:
        servers = [a, b]
        sources = []
        for n in range(12):
            srv = servers[n % 2]
            url = srv.add(f"/f{n}.xml", RSS if n % 3 else ATOM, headers=RSS_TYPE, etag=f'"{n}-v1"', delay=0.02)
            sources.append(feed_source(url, f"s{n}"))
        state = CountingStore()
        first = collect_all(sources, fetcher=Fetcher(per_host=2), state=state, max_workers=3)
        assert all(r.ok and not r.not_modified for r in first)
        for n in range(0, 12, 4):  # a third of the sources change: new body, new ETag
            srv = servers[n % 2]
            srv.add(f"/f{n}.xml", ATOM if n % 3 else RSS, headers=RSS_TYPE, etag=f'"{n}-v2"', delay=0.02)
        state.recorded.clear()
        second = collect_all(sources, fetcher=Fetcher(per_host=2), state=state, max_workers=3)
    assert sorted(state.recorded) == sorted(s.name for s in sources)
    assert [r.source for r in second] == [s.name for s in sources]
    for n, (before, after) in enumerate(zip(first, second)):
        assert after.ok, after.error
        if n % 4 == 0:
            assert not after.not_modified and after.etag == f'"{n}-v2"'
            assert len(after.items) != len(before.items)  # the other feed now
        else:
            assert after.not_modified and after.etag == f'"{n}-v1"'
            assert [i.to_dict() for i in after.items] == [i.to_dict() for i in before.items]
        assert 0 < after.elapsed < 5


def test_item_from_dict_fast_path_equals_the_constructor():
    from newsletter.models import Item

    full = Item(kind="press", title="Titre", url="https://presse.example/a", outlet="La Gazette").to_dict()
    partial = {"title": "Titre", "url": "https://presse.example/a", "kind": "press", "outlet": "La Gazette"}
    fast, slow = Item.from_dict(full), Item.from_dict(partial)
    assert fast == slow
    assert vars(fast) == vars(slow)
    fast.merged.append("x")
    assert Item.from_dict(full).merged == []  # no list shared between items
