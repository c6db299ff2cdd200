"""The one call the ``deliver`` flow makes: send an approved draft, report counts.

A thin wrapper over :func:`newsletter.deliver.engine.send_draft`: one message
per subscriber, a send log committed around each one, resumable (a retried
run, or a run after a worker crash, resumes from the log and never mails a
recipient twice). ``progress(done, total)`` is called while sending.
"""

from __future__ import annotations

import errno
from typing import Callable

from newsletter.settings import Settings
from newsletter.store import Store

ProgressFn = Callable[[int, int], None]

# Exceptions worth retrying the whole delivery for: the mail server could not
# be reached or dropped the connection. Anything else (refused recipients, a
# draft changed after approval) needs a person.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT, errno.ENETUNREACH, errno.EHOSTUNREACH}
)


def is_connection_error(exc: BaseException | None) -> bool:
    import smtplib

    from newsletter.deliver.messenger import DeliveryConnectionError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DeliveryConnectionError):
            return True
        if isinstance(exc, CONNECTION_ERRORS + (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
            return True
        if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def send_approved(
    settings: Settings, store: Store, draft_id: str, *, actor: str = "prefect", progress: ProgressFn | None = None
) -> dict[str, int]:
    """Send ``draft_id`` (approved, or failed and being retried); return counts.

    Counts: sent, skipped (already sent by an earlier attempt), failed,
    uncertain (the server may or may not have taken them).
    """
    from newsletter.deliver.engine import send_draft
    from newsletter.pipeline import publish_draft_web

    def report(totals: dict[str, int]) -> None:
        if progress:
            done = sum(totals.get(k, 0) for k in ("sent", "skipped", "failed", "deferred", "uncertain"))
            progress(done, totals.get("total", 0) or done)

    summary = send_draft(
        settings,
        store,
        draft_id,
        actor=actor,
        publish=lambda d: publish_draft_web(d, settings.archive, store, actor=actor),
        progress=report,
    )
    return {
        "sent": summary.sent,
        "skipped": summary.skipped,
        "failed": summary.failed + summary.deferred,
        "uncertain": summary.uncertain,
    }
