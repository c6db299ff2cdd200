"""The monthly newsletter flow: collect, curate, render, queue for approval.

Thin on purpose: every step is a function of the ``newsletter`` package.
Collection is one task running the package's scheduler (``collect_all``: the
global bound NEWSLETTER_MAX_WORKERS, the per-host bound, retries of transient
errors only — timeouts, connection resets, 429 and 5xx, honouring
Retry-After; a 404 or a parse error is not retried). Each source's outcome
(items, 304, error, retries) is logged as it comes and shown as the
``collected-sources`` table artifact. Approval that takes days happens in the
outbox, not in a paused flow: the flow ends once the draft is queued.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows import artifacts
from flows.alerts import after_monthly, notify_monthly_failure
from newsletter import pipeline
from newsletter.collect.collector import DEFAULT_RETRY_DELAYS
from newsletter.ops.lease import hold_collection
from newsletter.settings import Settings
from newsletter.store import Store

RETRY_DELAYS = DEFAULT_RETRY_DELAYS  # seconds before each retry of a transient fetch failure


@task(name="collect", cache_policy=NO_CACHE)
def collect_task(cfg, settings, store):
    logger = get_run_logger()

    def report(result):
        if result.error is not None:
            logger.warning("Source %r failed after %d retries: %s", result.source, result.retries, result.error)
        else:
            logger.info("Source %r: %d items%s%s", result.source, len(result.items),
                        " (not modified)" if result.not_modified else "",
                        f" after {result.retries} retries" if result.retries else "")

    results = pipeline.collect_step(cfg, settings, store, on_result=report, retry_delays=RETRY_DELAYS)
    create_table_artifact(
        key="collected-sources",
        table=pipeline.source_table(results),
        description=f"Sources collected for {cfg.month:%Y-%m} in {cfg.timings.get('collect', 0):.1f} s",
    )
    return results


@task(name="curate", cache_policy=NO_CACHE)
def curate_task(results, cfg, store: Store):
    return pipeline.curate_step(results, cfg, store)


@task(name="render", cache_policy=NO_CACHE)
def render_task(plan, cfg):
    return pipeline.render_step(plan.issue, cfg, plan.edits)


@task(name="queue-draft", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def queue_task(settings, store, cfg, results, curation, plan, output, new_draft=False):
    return pipeline.queue_step(settings, store, cfg, results, curation, plan, output, new_draft=new_draft)


@flow(name="monthly-newsletter", log_prints=False, on_failure=[notify_monthly_failure])
def monthly_newsletter(
    sources: str | None = None,  # None: NEWSLETTER_SOURCES, else the home's sources/sources.yaml
    month: str | None = None,
    today: str | None = None,
    new_draft: bool = False,
) -> str:
    """Collect the month's items and queue a newsletter draft. Returns the draft id."""
    logger = get_run_logger()
    first, day = pipeline.resolve_dates(month, today)
    settings = Settings.from_env()
    store = Store(settings.database_url)
    pipeline.check_month_open(store, first, new_draft=new_draft)  # before collecting anything
    lease = hold_collection(store, first)  # one collection per month at a time, across workers
    cfg = pipeline.load_run_config(sources, month=first, today=day)
    logger.info("Collecting %d sources for %s (%d workers)", len(cfg.sources.enabled), f"{first:%Y-%m}",
                settings.max_workers)
    results = collect_task(cfg, settings, store)
    curation = curate_task(results, cfg, store)
    # the month's pending draft and the officer's edits on it, applied before the one render
    plan = pipeline.prepare_draft(store, cfg, curation, new_draft=new_draft)
    output = render_task(plan, cfg)
    draft = queue_task(settings, store, cfg, results, curation, plan, output, new_draft)
    logger.info("Draft %s queued in %s", draft.id, draft.path)
    print(pipeline.run_summary(draft))
    artifacts.monthly_report(draft, settings)
    after_monthly(draft, settings)
    lease.release()
    return draft.id


if __name__ == "__main__":
    monthly_newsletter()
