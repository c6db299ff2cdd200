"""The one call the ``deliver`` flow makes: send an approved draft, report counts.

A thin wrapper over :func:`newsletter.deliver.messenger.deliver_draft` that
the delivery rewrite keeps (per-subscriber send log, resumable: a retried
run resumes from the log). ``progress(done, total)`` is called while sending.
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

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
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
    from newsletter.deliver.messenger import deliver_draft, messenger_from_settings
    from newsletter.pipeline import publish_draft_web

    total = len(settings.mail_to)
    if progress:
        progress(0, total)
    deliver_draft(
        settings.outbox,
        store,
        draft_id,
        messenger_from_settings(settings),
        sender=settings.mail_from,
        recipients=settings.mail_to,
        actor=actor,
        unsubscribe_url=settings.unsubscribe_url,
        publish=lambda d: publish_draft_web(d, settings.archive),
    )
    if progress:
        progress(total, total)
    return {"sent": total, "skipped": 0, "failed": 0, "uncertain": 0}
