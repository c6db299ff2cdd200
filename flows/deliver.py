"""The delivery flow: send one approved draft, as the ``deliver`` deployment.

Triggered on approval (``newsletter.outbox.hooks.after_approval``) or by hand
(``prefect deployment run deliver-newsletter/deliver -p draft_id=...``).
Retried on connection errors only (the mail server unreachable or dropping
the connection): a retry resumes from the send log. A refused recipient or a
draft changed after approval fails at once and the operator is told.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import artifacts
from flows.alerts import notify_delivery_failure
from newsletter.ops.delivery import is_connection_error, send_approved
from newsletter.settings import Settings
from newsletter.store import Store


def retry_on_connection_error(task, task_run, state) -> bool:
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as err:
        exc = err
    return isinstance(exc, BaseException) and is_connection_error(exc)


@task(
    name="send-draft",
    task_run_name="send {draft_id}",
    retries=3,
    retry_delay_seconds=[10, 60, 300],
    retry_condition_fn=retry_on_connection_error,
    cache_policy=NO_CACHE,
)
def send_task(draft_id: str, actor: str) -> dict[str, int]:
    settings = Settings.from_env()
    progress = artifacts.DeliveryProgress(draft_id)
    counts = send_approved(settings, Store(settings.database_url), draft_id, actor=actor, progress=progress)
    progress.finish(counts)
    return counts


@flow(name="deliver-newsletter", on_failure=[notify_delivery_failure], log_prints=False)
def deliver(draft_id: str, actor: str = "prefect") -> dict[str, int]:
    """Send the approved draft ``draft_id`` with the configured transport; return the counts."""
    counts = send_task(draft_id, actor)
    get_run_logger().info("Draft %s: %s", draft_id, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


if __name__ == "__main__":
    import sys

    deliver(sys.argv[1])
