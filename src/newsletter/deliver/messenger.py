"""Delivery of an approved draft: one ``send()`` over several transports.

A ``Messenger`` (listmonk's word) takes a ready ``EmailMessage``. Two ship:

- ``FileMessenger`` writes each message as an ``.eml`` file (the default:
  nothing to start, and the operator can open the result in any mail client);
- ``SMTPMessenger`` talks to a real SMTP server (STARTTLS and login optional).

:func:`deliver_draft` is the only caller of the status transitions around a
send: approved → sending → sent (or failed), and it records the sent items in
the history so that the next issue does not repeat them.
"""

from __future__ import annotations

from newsletter.errors import UserError

import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape as html_escape
from pathlib import Path
from typing import Callable, Protocol

from newsletter.outbox import drafts as outbox
from newsletter.files import atomic_write
from newsletter.settings import Settings
from newsletter.store import Store, utcnow


class DeliveryError(UserError):
    pass


class Messenger(Protocol):
    name: str

    def send(self, message: EmailMessage) -> str:
        """Deliver ``message``; return a short French description of where it went."""


class FileMessenger:
    name = "file"

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> str:
        msgid = (message["Message-ID"] or make_msgid()).strip("<>").split("@")[0]
        path = self.directory / f"{msgid}.eml"
        atomic_write(path, message.as_bytes())
        return f"fichier {path}"


class SMTPMessenger:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
    ):
        self.host, self.port = host, port
        self.user, self.password = user, password
        self.starttls, self.timeout = starttls, timeout

    def send(self, message: EmailMessage) -> str:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                refused = smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"serveur SMTP {self.host}:{self.port} : {exc}") from exc
        if refused:
            raise DeliveryError(f"destinataires refusés par {self.host}:{self.port} : {', '.join(refused)}")
        return f"serveur SMTP {self.host}:{self.port}"


def messenger_from_settings(settings: Settings) -> Messenger:
    if settings.transport == "smtp":
        return SMTPMessenger(
            settings.smtp_host,
            settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    return FileMessenger(settings.mail_dir)


def build_message(
    draft: outbox.Draft, *, sender: str, recipients: list[str], unsubscribe_url: str | None = None
) -> EmailMessage:
    """The newsletter email: plain text and HTML alternatives, French subject.

    The branding's unsubscribe placeholder is replaced by ``unsubscribe_url``
    when one is given (sending through plain SMTP); otherwise it is left for
    the mailing service to fill in.
    """
    manifest = draft.manifest
    text = draft.file("newsletter.txt").read_text(encoding="utf-8")
    html = draft.file("newsletter.html").read_text(encoding="utf-8")
    placeholder = manifest.get("unsubscribe")
    unsubscribe = placeholder
    if unsubscribe_url:
        if placeholder:
            text = text.replace(placeholder, unsubscribe_url)
            html = html.replace(placeholder, html_escape(unsubscribe_url))
        unsubscribe = unsubscribe_url
    msg = EmailMessage()
    msg["Subject"] = manifest.get("subject") or f"Lettre d'information – {manifest.get('month', '')}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(utcnow())
    domain = sender.rsplit("@", 1)[-1].strip(">") if "@" in sender else None
    msg["Message-ID"] = make_msgid(idstring=draft.id, domain=domain)
    if unsubscribe and unsubscribe.startswith(("http://", "https://", "mailto:")):
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def deliver_draft(
    outbox_dir: Path,
    store: Store,
    draft_id: str,
    messenger: Messenger,
    *,
    sender: str,
    recipients: list[str],
    actor: str = "cli",
    unsubscribe_url: str | None = None,
    publish: Callable[[outbox.Draft], object] | None = None,
) -> outbox.Draft:
    """Send an approved draft. Status: approved → sending → sent, or failed.

    ``publish`` (e.g. the web archive) runs once the draft is sent; its
    failure is recorded in the draft's history but does not undo the send.
    """
    if not recipients:
        raise DeliveryError("aucun destinataire (NEWSLETTER_MAIL_TO est vide)")
    draft = outbox.transition(outbox_dir, store, draft_id, outbox.SENDING, actor=actor)
    try:
        issue = draft.issue()  # read before anything goes out: the history needs it after
        message = build_message(draft, sender=sender, recipients=recipients, unsubscribe_url=unsubscribe_url)
        where = messenger.send(message)
    except Exception as exc:  # any failure leaves the draft in "failed", ready to retry
        outbox.transition(outbox_dir, store, draft_id, outbox.FAILED, actor=actor, note=str(exc))
        if isinstance(exc, DeliveryError):
            raise
        raise DeliveryError(str(exc)) from exc
    if issue is not None:
        store.record_sent(draft_id, issue.all_items())
    sent = outbox.transition(outbox_dir, store, draft_id, outbox.SENT, actor=actor, note=where)
    if publish is not None:
        try:
            page = publish(sent)
            sent.manifest["published"] = str(page)
        except Exception as exc:  # the mail is gone: report, never undo
            sent.manifest["publish_error"] = str(exc)
    return sent
