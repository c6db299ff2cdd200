"""Helpers for the delivery tests: a recording aiosmtpd server, an approved draft, subscribers."""

from __future__ import annotations

import email
import json
import threading
from datetime import date, datetime
from email import policy

from aiosmtpd.controller import Controller
from httpserver import free_port

from newsletter.models import Issue, Item
from newsletter.normalize import PARIS
from newsletter.outbox.drafts import APPROVED, create_draft, transition

SECRET = "test-secret-key-0123456789"
PUBLIC_URL = "https://lettre.irev.fr"


class Recorder:
    """aiosmtpd handler keeping every accepted message with its envelope; hooks can refuse or drop."""

    def __init__(self, pipelining: bool = False):
        self.pipelining = pipelining  # offer PIPELINING (RFC 2920) in the EHLO reply, as Postfix does
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()
        self.rcpt_hook = None  # (address) -> reply string or None; "DROP" closes the connection
        self.data_hook = None  # (envelope) -> reply string or None; "DROP" records then closes without reply
        self.on_message = None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_hook is not None:
            reply = self.rcpt_hook(address)
            if reply == "DROP":
                server.transport.close()
                return "250 OK"
            if reply:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self.data_hook(envelope) if self.data_hook is not None else None
        if reply and reply != "DROP":
            return reply
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            n = len(self.messages)
        if self.on_message is not None:
            self.on_message(n, envelope)
        if reply == "DROP":
            server.transport.close()
        return "250 OK"

    def parsed(self):
        return [email.message_from_bytes(raw, policy=policy.default) for _, _, raw in self.messages]

    def by_recipient(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, rcpts, _ in self.messages:
            for r in rcpts:
                out[r] = out.get(r, 0) + 1
        return out


def start_smtp(handler=None, **kwargs):
    handler = handler or Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller, handler


HTML = (
    '<html lang="fr"><head><meta charset="utf-8"></head><body><h1>La lettre de l\'IREV – décembre</h1>'
    + "".join(f"<p>Actualité n° {i} : les quartiers prioritaires, l'été, « guillemets ».</p>\n" for i in range(40))
    + '<p><a href="{{unsubscribe_url}}">Se désinscrire</a></p>\n.ligne qui commence par un point\n</body></html>'
)
TEXT = "La lettre de l'IREV – décembre\n\nAgenda\n\nSe désinscrire de la lettre : {{unsubscribe_url}}\n"


def approved_draft(outbox_dir, store, *, html: str = HTML, text: str = TEXT):
    event = Item(
        kind="event",
        title="Journée de qualification : prévenir les discriminations",
        url="https://www.irev.fr/agenda/qualification",
        start=datetime(2026, 12, 4, 9, 30, tzinfo=PARIS),
        location="IREV, Lille",
    )
    issue = Issue(month=date(2026, 12, 1), today=date(2026, 12, 1), agenda=[event])
    files = {
        "newsletter.html": html,
        "newsletter.txt": text,
        "social.json": "[]",
        "issue.json": json.dumps(issue.to_dict()),
    }
    draft = create_draft(
        outbox_dir,
        store,
        month=date(2026, 12, 1),
        files=files,
        manifest={"subject": "La lettre de l'IREV – décembre 2026", "unsubscribe": "{{unsubscribe_url}}",
                  "centre": "IREV"},
    )
    transition(outbox_dir, store, draft.id, APPROVED)
    return draft


def delivery_env(monkeypatch, controller=None, **extra):
    env = {
        "NEWSLETTER_PUBLIC_URL": PUBLIC_URL,
        "NEWSLETTER_SECRET_KEY": SECRET,
        "NEWSLETTER_MAIL_FROM": "IREV <contact@irev.fr>",
        "NEWSLETTER_UNSUBSCRIBE_MAILTO": "desabonnement@irev.fr",
        "NEWSLETTER_SEND_BACKOFF": "0.01",
    }
    import os

    outbox_dir = os.environ.get("NEWSLETTER_OUTBOX")
    if outbox_dir:  # the web archive is published next to the test's outbox, not in the work tree
        env["NEWSLETTER_ARCHIVE"] = os.path.join(os.path.dirname(outbox_dir), "archive")
    if controller is not None:
        env.update(NEWSLETTER_TRANSPORT="smtp", NEWSLETTER_SMTP_HOST=controller.hostname,
                   NEWSLETTER_SMTP_PORT=str(controller.port))
    env.update(extra)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env
