"""The monthly newsletter flow: collect, curate, render, queue for approval.

Thin on purpose: every step is a function of the ``newsletter`` package.
Retries sit on I/O only (fetching a source), and only for transient errors:
timeouts, connection resets, 429 and 5xx (honouring Retry-After). A 404 or a
parse error is not retried. Approval that takes days happens in the outbox,
not in a paused flow: the flow ends once the draft is queued.
"""

from __future__ import annotations

import time
from datetime import date

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows import artifacts
from flows.alerts import after_monthly, notify_monthly_failure
from newsletter import pipeline
from newsletter.ops.lease import hold_collection
from newsletter.collect.collector import fetch_source, parse_source, record_result
from newsletter.collect.fetch import FetchError, Fetcher
from newsletter.models import ERROR_CONNECTION, SourceError, SourceResult
from newsletter.settings import Settings
from newsletter.collect.sources import Source
from newsletter.store import Store

MAX_RETRY_AFTER = 120.0  # seconds: never sleep longer than this on a Retry-After


def _exception_of(state) -> BaseException | None:
    data = getattr(state, "data", None)
    if isinstance(data, BaseException):
        return data
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # pragma: no cover - depends on result storage
        return exc
    return result if isinstance(result, BaseException) else None


def retry_if_transient(task, task_run, state) -> bool:
    """Prefect retry condition: retry a fetch only when the error is transient."""
    exc = _exception_of(state)
    return isinstance(exc, FetchError) and exc.error.transient


@task(
    name="fetch-source",
    task_run_name="fetch {source.name}",
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=retry_if_transient,
    # No timeout_seconds: a thread cannot be interrupted. The Fetcher bounds
    # each request itself (connect/read timeouts and a total time limit).
    cache_policy=NO_CACHE,
)
def fetch_task(source: Source, fetcher: Fetcher, store: Store):
    try:
        return fetch_source(source, fetcher, store)
    except FetchError as exc:
        if exc.error.transient and exc.error.retry_after:
            # Honour Retry-After before Prefect's own delay starts counting.
            time.sleep(min(exc.error.retry_after, MAX_RETRY_AFTER))
        raise


@task(name="parse-sources", cache_policy=NO_CACHE)
def parse_task(
    sources: list[Source], outcomes: list, store: Store, today: date, threshold: int
) -> list[SourceResult]:
    """Parse what was fetched (no I/O, no retries) and record each source's state."""
    results = []
    for source, outcome in zip(sources, outcomes):
        if isinstance(outcome, SourceResult):  # the fetch failed for good
            result = outcome
        else:
            result = parse_source(source, outcome, state=store, today=today)
        results.append(record_result(store, result, threshold=threshold))
    return results


@task(name="curate", cache_policy=NO_CACHE)
def curate_task(results, cfg, store: Store):
    return pipeline.curate_step(results, cfg, store.history())


@task(name="render", cache_policy=NO_CACHE)
def render_task(issue, cfg):
    return pipeline.render_step(issue, cfg)


@task(name="queue-draft", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def queue_task(settings, store, cfg, results, curation, output):
    return pipeline.queue_step(settings, store, cfg, results, curation, output)


@flow(
    name="monthly-newsletter",
    task_runner=ThreadPoolTaskRunner(max_workers=16),
    log_prints=False,
    on_failure=[notify_monthly_failure],
)
def monthly_newsletter(
    sources: str = str(pipeline.DEFAULT_SOURCES),
    month: str | None = None,
    today: str | None = None,
) -> str:
    """Collect the month's items and queue a newsletter draft. Returns the draft id."""
    logger = get_run_logger()
    first, day = pipeline.resolve_dates(month, today)
    settings = Settings.from_env()
    store = Store(settings.database_url)
    lease = hold_collection(store, first)  # one collection per month at a time, across workers
    cfg = pipeline.load_run_config(sources, month=first, today=day)
    enabled = cfg.sources.enabled
    fetcher = Fetcher()
    logger.info("Collecting %d sources for %s", len(enabled), f"{first:%Y-%m}")
    futures = [fetch_task.submit(source, fetcher, store) for source in enabled]
    outcomes = []
    for source, future in zip(enabled, futures):
        state = future.wait() or future.state
        if state.is_completed():
            outcomes.append(future.result())
            continue
        exc = _exception_of(state)
        error = exc.error if isinstance(exc, FetchError) else SourceError(ERROR_CONNECTION, str(exc or state.message))
        logger.warning("Source %r failed: %s", source.name, error)
        outcomes.append(SourceResult(source=source.name, kind=source.kind, error=error))
    results = parse_task(enabled, outcomes, store, day, settings.failure_threshold)
    curation = curate_task(results, cfg, store)
    output = render_task(curation.issue, cfg)
    draft = queue_task(settings, store, cfg, results, curation, output)
    logger.info("Draft %s queued in %s", draft.id, draft.path)
    print(pipeline.run_summary(draft))
    artifacts.monthly_report(draft, settings)
    after_monthly(draft, settings)
    lease.release()
    return draft.id


if __name__ == "__main__":
    monthly_newsletter()
