"""Collect sources: one source → a ``SourceResult``; many in parallel.

Fetching (I/O, worth retrying) and parsing (CPU, not worth retrying) are
separate steps so that a workflow engine can put retries on I/O only::

    outcome = fetch_source(source, fetcher, state)     # raises FetchError
    result = parse_source(source, outcome, state=state) # never raises

``collect_source`` chains both and never raises; ``collect_all`` runs many
sources in parallel with a global bound (``max_workers``) and a per-host bound
(the fetcher's ``per_host``), records each result in the state store, and
returns results in the order of the sources.

A state store keeps, per source, the ETag/Last-Modified of the last good
answer, the items parsed from it (reused when the source answers 304) and the
number of consecutive failed runs.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Protocol, Sequence

from newsletter.collect.feeds import FeedParseError, NotAFeed, parse_feed
from newsletter.collect.fetch import Fetcher, FetchError, FetchResponse, host_key
from newsletter.models import (
    ERROR_CONNECTION,
    ERROR_INVALID_SOURCE,
    ERROR_NOT_A_FEED,
    ERROR_PARSE,
    ERROR_SELECTOR_EMPTY,
    Item,
    SourceError,
    SourceResult,
)
from newsletter.collect.sources import Source
from newsletter.normalize import normalize_item

log = logging.getLogger(__name__)

DEFAULT_ATTENTION_THRESHOLD = 3
DEFAULT_MAX_DETAILS = 60


# --- state -------------------------------------------------------------------


@dataclass
class SourceState:
    """What the collector remembers about one source between runs."""

    etag: str | None = None
    last_modified: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)  # Item.to_dict() of the last good run


class StateStore(Protocol):
    def get(self, source_name: str) -> SourceState | None: ...

    def record(self, source_name: str, result: SourceResult) -> int:
        """Save the outcome of a run; return the source's consecutive failures."""
        ...


def apply_result(previous: SourceState | None, result: SourceResult) -> SourceState:
    """The state after ``result``: the shared rule every StateStore should follow.

    Success (including 304) saves validators and items and resets the failure
    count; an error keeps the previous validators and items (so a later 304
    never resurrects a failed parse) and counts one more failure.
    """
    state = SourceState(**vars(previous)) if previous else SourceState()
    if result.ok:
        state.consecutive_failures = 0
        state.last_error = None
        if not result.not_modified or result.etag or result.last_modified:
            state.etag = result.etag
            state.last_modified = result.last_modified
        if not (result.not_modified and previous is not None):  # on a 304 the kept items stand
            state.items = [item.to_dict() for item in result.items]
    else:
        state.consecutive_failures += 1
        state.last_error = str(result.error)
    return state


class MemoryStateStore:
    """A thread-safe, in-memory StateStore (tests, benchmarks, one-off runs)."""

    def __init__(self) -> None:
        self._states: dict[str, SourceState] = {}
        self._lock = threading.Lock()

    def get(self, source_name: str) -> SourceState | None:
        with self._lock:
            return self._states.get(source_name)

    def record(self, source_name: str, result: SourceResult) -> int:
        with self._lock:
            state = apply_result(self._states.get(source_name), result)
            self._states[source_name] = state
            return state.consecutive_failures

    def to_dict(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: vars(state).copy() for name, state in self._states.items()}

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, Any]]) -> "MemoryStateStore":
        store = cls()
        store._states = {name: SourceState(**values) for name, values in data.items()}
        return store


def needs_attention(state: StateStore | None, source_name: str, threshold: int = DEFAULT_ATTENTION_THRESHOLD) -> bool:
    """True when the source has failed ``threshold`` runs in a row or more."""
    if state is None:
        return False
    current = state.get(source_name)
    return current is not None and current.consecutive_failures >= threshold


def is_transient(error: SourceError) -> bool:
    """Worth retrying soon: timeouts, connection failures, HTTP 429 and 5xx."""
    return error.transient


# --- fetch step ------------------------------------------------------------------


@dataclass
class FetchOutcome:
    """The bytes of one source: its main response and, for page sources with
    ``follow: true``, the detail pages by URL. Plain data: no I/O left to do."""

    source: str
    response: FetchResponse
    details: dict[str, FetchResponse] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    # The state fetch_source read (validators, kept items): parse_source reuses
    # it on a 304 instead of reading the store a second time.
    previous: SourceState | None = field(default=None, repr=False)

    @property
    def not_modified(self) -> bool:
        return self.response.not_modified


def fetch_source(source: Source, fetcher: Fetcher, state: StateStore | None = None) -> FetchOutcome:
    """Fetch the source's URL (conditionally when its state allows), plus its
    detail pages for a page source with ``follow: true``.

    Raises FetchError when the main URL fails; detail page failures become
    warnings.
    """
    start = time.monotonic()
    previous = state.get(source.name) if state is not None else None
    etag = previous.etag if previous else None
    last_modified = previous.last_modified if previous else None
    response = fetcher.fetch(source.url, etag=etag, last_modified=last_modified)
    outcome = FetchOutcome(source=source.name, response=response, previous=previous)
    if source.type == "page" and source.follow and not response.not_modified:
        _fetch_details(source, fetcher, outcome)
    outcome.elapsed = time.monotonic() - start
    return outcome


def _fetch_details(source: Source, fetcher: Fetcher, outcome: FetchOutcome) -> None:
    from newsletter.collect.listing import parse_listing  # imported late to keep feeds-only use light

    response = outcome.response
    try:
        listing = parse_listing(
            response.content, url=_base_url(source, response), source=source, headers=response.headers
        )
    except Exception:  # noqa: BLE001  # parse_source reports the listing's problem
        return
    limit = int(source.options.get("max_details", DEFAULT_MAX_DETAILS))
    urls = list(dict.fromkeys(item.url for item in listing if item.url))
    if len(urls) > limit:
        outcome.warnings.append(f"{len(urls)} detail pages, only the first {limit} fetched")
        urls = urls[:limit]
    for url in urls:
        try:
            outcome.details[url] = fetcher.fetch(url)
        except FetchError as exc:
            outcome.warnings.append(f"detail page {url}: {exc.error}")


def _base_url(source: Source, response: FetchResponse) -> str:
    """The URL relative links resolve against (the final URL after redirects)."""
    return response.final_url or source.url


# --- parse step --------------------------------------------------------------------


def parse_source(
    source: Source,
    outcome: FetchOutcome,
    *,
    state: StateStore | None = None,
    today: date | None = None,
) -> SourceResult:
    """Items from the fetched bytes (no I/O). Never raises.

    On a 304, the items of the last good run come from ``state`` and the
    result has ``not_modified=True``.
    """
    response = outcome.response
    result = SourceResult(
        source=source.name,
        kind=source.kind,
        warnings=list(outcome.warnings),
        etag=response.etag,
        last_modified=response.last_modified,
        elapsed=outcome.elapsed,
    )
    if response.not_modified:
        result.not_modified = True
        previous = outcome.previous
        if previous is None and state is not None:
            previous = state.get(source.name)
        if previous is None:
            result.warnings.append("not modified, but no items kept from the previous run")
            return result
        try:
            result.items = [Item.from_dict(data) for data in previous.items]
        except (TypeError, ValueError) as exc:
            result.error = SourceError(ERROR_PARSE, f"{source.url}: stored items unreadable ({exc})")
        return result
    base = _base_url(source, response)
    try:
        if source.type == "feed":
            result.items = parse_feed(response.content, url=base, source=source, headers=response.headers)
        else:
            result.items = _parse_page(source, outcome, base, today, result.warnings)
    except NotAFeed as exc:
        result.error = SourceError(ERROR_NOT_A_FEED, str(exc))
    except FeedParseError as exc:
        result.error = SourceError(ERROR_PARSE, str(exc))
    except _PageProblem as exc:
        result.error = SourceError(exc.category, f"{source.url}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a source never ends the run
        log.exception("source %r: unexpected parse failure", source.name)
        result.error = SourceError(ERROR_PARSE, f"{source.url}: {type(exc).__name__}: {exc}")
    if result.error is not None:
        result.items = []
    else:
        normalize_result(result)
    return result


def dropped_entry(item: Item, source: str, stage: str, reason: str) -> dict[str, Any]:
    """One entry of ``SourceResult.dropped`` / the manifest's ``dropped_items``."""
    return {
        "source": source,
        "title": str(getattr(item, "title", "") or "")[:200],
        "url": str(getattr(item, "url", "") or "")[:500],
        "stage": stage,
        "reason": reason,
    }


def normalize_result(result: SourceResult) -> SourceResult:
    """Normalise every item of ``result`` in place (``normalize.normalize_item``):
    control characters stripped, links that may not reach a subscriber dropped
    (a warning naming the item), an item whose own link is not http(s) dropped
    (in ``result.dropped``). Never raises."""
    kept: list[Item] = []
    for item in result.items:
        try:
            problems = normalize_item(item)
        except Exception as exc:  # noqa: BLE001 - one item never spoils the source
            entry = dropped_entry(item, result.source, "collect", str(exc))
            result.dropped.append(entry)
            result.warnings.append(f"item {entry['title']!r} dropped: {exc}")
            log.warning("source %r: item %r dropped: %s", result.source, entry["title"], exc)
            continue
        for problem in problems:
            result.warnings.append(f"item {item.title!r}: {problem}")
            log.warning("source %r: item %r: %s", result.source, item.title, problem)
        kept.append(item)
    result.items = kept
    return result


class _PageProblem(Exception):
    """A scraping exception (scrape.PageError) translated to an error category (``category``)."""

    def __init__(self, category: str, message: str):
        super().__init__(message)
        self.category = category


def _parse_page(
    source: Source, outcome: FetchOutcome, base: str, today: date | None, warnings: list[str]
) -> list[Item]:
    from newsletter.collect.detail import parse_detail
    from newsletter.collect.listing import parse_listing
    from newsletter.collect.scrape import PageError, SelectorEmpty, SelectorInvalid

    response = outcome.response
    try:
        listing = parse_listing(
            response.content, url=base, source=source, headers=response.headers, today=today
        )
    except SelectorEmpty as exc:
        raise _PageProblem(ERROR_SELECTOR_EMPTY, str(exc)) from exc
    except SelectorInvalid as exc:
        raise _PageProblem(ERROR_INVALID_SOURCE, str(exc)) from exc
    except PageError as exc:
        raise _PageProblem(ERROR_PARSE, str(exc)) from exc
    warnings.extend(getattr(listing, "warnings", []))
    items = list(listing)
    if not (source.follow and outcome.details):
        return items
    enriched: list[Item] = []
    for item in items:
        detail = outcome.details.get(item.url)
        if detail is None:
            enriched.append(item)
            continue
        try:
            enriched.append(
                parse_detail(
                    detail.content,
                    url=detail.final_url or item.url,
                    source=source,
                    item=item,
                    today=today,
                    headers=detail.headers,
                )
            )
        except Exception as exc:  # noqa: BLE001 - keep the listing's item
            warnings.append(f"detail page {item.url}: {type(exc).__name__}: {exc}")
            enriched.append(item)
    return enriched


# --- both steps ------------------------------------------------------------------


def _fetch_step(source: Source, fetcher: Fetcher, state: StateStore | None) -> FetchOutcome | SourceResult:
    """``fetch_source``, with a failure turned into an error result. Never raises."""
    start = time.monotonic()
    try:
        return fetch_source(source, fetcher, state)
    except FetchError as exc:
        return SourceResult(source=source.name, kind=source.kind, error=exc.error,
                            elapsed=time.monotonic() - start)
    except Exception as exc:  # noqa: BLE001 - a source never ends the run
        log.exception("source %r: unexpected fetch failure", source.name)
        return SourceResult(
            source=source.name,
            kind=source.kind,
            error=SourceError(ERROR_CONNECTION, f"{source.url}: {type(exc).__name__}: {exc}"),
            elapsed=time.monotonic() - start,
        )


def _parse_step(
    source: Source, fetched: FetchOutcome | SourceResult, state: StateStore | None, today: date | None
) -> SourceResult:
    """``parse_source`` after ``_fetch_step``; ``elapsed`` counts fetching and parsing
    (not any wait in between). Never raises."""
    if isinstance(fetched, SourceResult):
        return fetched
    start = time.monotonic()
    result = parse_source(source, fetched, state=state, today=today)
    result.elapsed = fetched.elapsed + (time.monotonic() - start)
    return result


def collect_source(
    source: Source, fetcher: Fetcher, state: StateStore | None = None, today: date | None = None
) -> SourceResult:
    """Fetch then parse one source. Never raises; does not record into ``state``."""
    return _parse_step(source, _fetch_step(source, fetcher, state), state, today)


def record_result(
    state: StateStore | None,
    result: SourceResult,
    *,
    threshold: int = DEFAULT_ATTENTION_THRESHOLD,
) -> SourceResult:
    """Record ``result`` in ``state``; flag it when the source needs attention.

    A result with dropped items is recorded without its validators (ETag,
    Last-Modified): the next run reads the source in full instead of replaying
    a 304 over items that could not be used.
    """
    if state is None:
        return result
    try:
        failures = state.record(result.source, _as_recorded(result))
    except Exception:  # noqa: BLE001 - losing state must not lose the items
        log.exception("source %r: cannot record state", result.source)
        return result
    result.consecutive_failures = failures
    if failures >= threshold:
        result.needs_attention = True
    return result


DEFAULT_RETRY_DELAYS = (2.0, 10.0, 30.0)  # seconds before the 1st, 2nd, 3rd retry of a transient failure
MAX_RETRY_AFTER = 120.0  # never wait longer than this on a Retry-After


def retry_wait(error: SourceError, attempt: int, delays: Sequence[float]) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based) of a transient
    failure: the configured delay, or the server's Retry-After when longer
    (capped at ``MAX_RETRY_AFTER``)."""
    delay = float(delays[min(attempt, len(delays)) - 1]) if delays else 0.0
    if error.retry_after:
        delay = max(delay, min(float(error.retry_after), MAX_RETRY_AFTER))
    return delay


def _as_recorded(result: SourceResult) -> SourceResult:
    """What is stored for ``result``: without validators when items were dropped."""
    if result.dropped and result.ok:
        return dataclasses.replace(result, not_modified=False, etag=None, last_modified=None)
    return result


def record_results(
    state: StateStore | None, results: Sequence[SourceResult], *, threshold: int = DEFAULT_ATTENTION_THRESHOLD
) -> None:
    """``record_result`` for every result, in one transaction when the store
    has ``record_many`` (the database: one commit instead of one per source)."""
    if state is None:
        return
    record_many = getattr(state, "record_many", None)
    if record_many is None:
        for result in results:
            record_result(state, result, threshold=threshold)
        return
    try:
        failures = record_many([(r.source, _as_recorded(r)) for r in results])
    except Exception:  # noqa: BLE001 - losing state must not lose the items
        log.exception("cannot record the sources' state")
        return
    for result, count in zip(results, failures):
        result.consecutive_failures = count
        result.needs_attention = count >= threshold


def collect_all(
    sources: Sequence[Source],
    *,
    fetcher: Fetcher | None = None,
    state: StateStore | None = None,
    max_workers: int = 16,
    today: date | None = None,
    attention_threshold: int = DEFAULT_ATTENTION_THRESHOLD,
    retries: int = 0,
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    on_result: Callable[[SourceResult], None] | None = None,
) -> list[SourceResult]:
    """Collect every source in parallel; results in the order of ``sources``.

    At most ``max_workers`` sources run at once and at most
    ``fetcher.per_host`` of them on one host: a worker never waits on a busy
    host while another host's source is ready. A worker that gets a 304 while
    other sources wait to be fetched starts the next request first and leaves
    the rebuilding of the kept items to a worker with nothing to fetch (a busy
    host, or the end of the run).

    A transient fetch failure (timeout, connection failure, 429, 5xx) is
    retried up to ``retries`` times, after ``retry_delays`` (or the server's
    Retry-After when longer); no worker sleeps meanwhile: it fetches other
    sources. A 404, a parse error or an invalid URL is never retried.
    ``SourceResult.retries`` says how many retries a source took.
    ``on_result`` is called with each source's result as soon as it is known
    (from a worker thread; it must be thread-safe). Every result is recorded
    in ``state`` at the end, in one transaction when the store allows it.
    Never raises for a source.
    """
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher()
    sources = list(sources)
    results: list[SourceResult | None] = [None] * len(sources)
    queues: dict[str, deque[int]] = {}
    for index, source in enumerate(sources):
        queues.setdefault(host_key(source.url), deque()).append(index)
    order = deque(queues)  # round-robin over hosts
    active: dict[str, int] = {key: 0 for key in queues}
    cond = threading.Condition()
    pending = [len(sources)]  # sources not yet taken (including retries waiting for their time)
    fetching = [0]  # fetches under way
    deferred: deque[tuple[int, FetchOutcome]] = deque()  # 304s whose items are not rebuilt yet
    attempts = [0] * len(sources)  # retries done, per source
    waiting: list[tuple[float, int]] = []  # (monotonic time it may be retried, source index), a heap

    def take() -> tuple[str, int] | None:  # under cond
        now = time.monotonic()
        while waiting and waiting[0][0] <= now:
            _, index = heapq.heappop(waiting)
            queues[host_key(sources[index].url)].appendleft(index)
        for _ in range(len(order)):
            key = order[0]
            order.rotate(-1)
            if queues[key] and active[key] < fetcher.per_host:
                active[key] += 1
                pending[0] -= 1
                fetching[0] += 1
                return key, queues[key].popleft()
        return None

    def finish(index: int, fetched: FetchOutcome | SourceResult) -> None:
        result = _parse_step(sources[index], fetched, state, today)
        result.retries = attempts[index]
        results[index] = result
        if on_result is not None:
            try:
                on_result(results[index])
            except Exception:  # noqa: BLE001 - reporting never loses a result
                log.exception("source %r: on_result callback failed", sources[index].name)

    def worker() -> None:
        job: tuple[str, int] | None = None  # (host key, source index) to fetch next
        while True:
            if job is None:
                with cond:
                    while job is None:
                        job = take()
                        if job is not None:
                            break
                        if deferred:
                            parse = deferred.popleft()
                            break
                        if pending[0] == 0 and fetching[0] == 0:
                            return
                        cond.wait(max(0.0, waiting[0][0] - time.monotonic()) if waiting else None)
                if job is None:
                    finish(*parse)
                    continue
            key, index = job
            job = None
            fetched: FetchOutcome | SourceResult | None = None
            handed_off = False
            try:
                fetched = _fetch_step(sources[index], fetcher, state)
            finally:
                with cond:
                    active[key] -= 1
                    fetching[0] -= 1
                    error = fetched.error if isinstance(fetched, SourceResult) else None
                    if error is not None and error.transient and attempts[index] < retries:
                        attempts[index] += 1
                        wait = retry_wait(error, attempts[index], retry_delays)
                        log.info("source %r: %s; retry %d/%d in %.1f s",
                                 sources[index].name, error, attempts[index], retries, wait)
                        heapq.heappush(waiting, (time.monotonic() + wait, index))
                        pending[0] += 1
                        handed_off = True
                    elif isinstance(fetched, FetchOutcome) and fetched.not_modified:
                        job = take()
                        if job is not None:  # fetch first, rebuild the 304's items later
                            deferred.append((index, fetched))
                            handed_off = True
                    cond.notify_all()
            if fetched is not None and not handed_off:
                finish(index, fetched)

    threads = [
        threading.Thread(target=worker, name=f"collect-{n}", daemon=True)
        for n in range(min(max_workers, len(sources)))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if own_fetcher:
            fetcher.close()
    out: list[SourceResult] = []
    for source, result in zip(sources, results):
        if result is None:  # a worker died in a way collect_source cannot: report, never raise
            result = SourceResult(source=source.name, kind=source.kind,
                                  error=SourceError(ERROR_PARSE, "collector failed for this source"))
        out.append(result)
    record_results(state, out, threshold=attention_threshold)
    return out
