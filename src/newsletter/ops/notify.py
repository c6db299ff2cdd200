"""Mail to the operator (NEWSLETTER_OPERATOR_EMAIL) when something needs them.

Sent through the configured transport (file or SMTP, see
:mod:`newsletter.deliver.messenger`), like the newsletter itself. Without an
operator address nothing is sent. A notification that cannot be sent is
logged, never raised: it must not hide the failure it reports.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Iterable

from newsletter.settings import Settings
from newsletter.store import utcnow

log = logging.getLogger("newsletter.ops.notify")


def build_notification(settings: Settings, subject: str, lines: Iterable[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[newsletter] {subject}"
    msg["From"] = settings.mail_from
    msg["To"] = settings.operator_email or ""
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(idstring="operator")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def notify_operator(settings: Settings, subject: str, lines: Iterable[str], *, messenger: Any = None) -> str | None:
    """Send one mail to the operator; return where it went, None if not sent."""
    if not settings.operator_email:
        log.info("no NEWSLETTER_OPERATOR_EMAIL: not sending %r", subject)
        return None
    from newsletter.deliver.messenger import messenger_from_settings

    msg = build_notification(settings, subject, lines)
    try:
        return (messenger or messenger_from_settings(settings)).send(msg)
    except Exception as exc:  # never hide the failure being reported
        log.warning("could not notify the operator (%s): %s", settings.operator_email, exc)
        return None


def run_failed(
    settings: Settings, *, what: str, run_name: str, reason: str, run_url: str | None, parameters: dict | None = None
) -> str | None:
    """A monthly or delivery run failed: say which, why, and where to look."""
    lines = [f"The {what} run {run_name!r} failed.", "", f"Why: {reason}"]
    if parameters:
        lines += ["", "Parameters:"] + [f"  {k} = {v}" for k, v in parameters.items()]
    if run_url:
        lines += ["", f"In the Prefect UI: {run_url}"]
    return notify_operator(settings, f"{what} run failed: {run_name}", lines)


def failing_sources(settings: Settings, draft: Any, *, threshold: int, run_url: str | None = None) -> str | None:
    """Sources that failed ``threshold`` runs in a row or more (from the draft's manifest)."""
    failed = [f for f in (draft.manifest.get("sources") or {}).get("failed", []) if f.get("needs_attention")]
    if not failed:
        return None
    lines = [f"{len(failed)} source(s) failed {threshold} runs in a row or more (draft {draft.id}):", ""]
    lines += [f"  - {f['source']}: {f.get('category', '')} – {f.get('message', '')}" for f in failed]
    lines += ["", "Check their URL in sources.yaml, or disable them (enabled: false)."]
    if run_url:
        lines += ["", f"In the Prefect UI: {run_url}"]
    names = ", ".join(f["source"] for f in failed)
    return notify_operator(settings, f"sources failing repeatedly: {names}", lines)
