"""Delivery: one send() over the file and SMTP transports, to a real local SMTP server."""

from __future__ import annotations

import email
import json
from datetime import date, datetime
from email import policy

import pytest
from httpserver import free_port
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from newsletter.deliver.messenger import DeliveryError, FileMessenger, SMTPMessenger, deliver_draft
from newsletter.models import Issue, Item
from newsletter.normalize import PARIS
from newsletter.outbox.drafts import APPROVED, FAILED, SENT, TransitionError, create_draft, transition
from newsletter.store import Store


class Collector(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


@pytest.fixture
def smtp():
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def store(database_url):
    return Store(database_url)  # SQLite and PostgreSQL (conftest.database_url)


def approved_draft(tmp_path, store):
    event = Item(
        kind="event",
        title="Journée de qualification : prévenir les discriminations",
        url="https://www.irev.fr/agenda/qualification",
        start=datetime(2026, 12, 4, 9, 30, tzinfo=PARIS),
        location="IREV, Lille",
    )
    issue = Issue(month=date(2026, 12, 1), today=date(2026, 12, 1), agenda=[event])
    files = {
        "newsletter.html": "<html lang=\"fr\"><body><h1>La lettre de l'IREV</h1></body></html>",
        "newsletter.txt": "La lettre de l'IREV\n\nAgenda\n",
        "social.json": "[]",
        "issue.json": json.dumps(issue.to_dict()),
    }
    box = tmp_path / "outbox"
    draft = create_draft(
        box,
        store,
        month=date(2026, 12, 1),
        files=files,
        manifest={"subject": "La lettre de l'IREV – décembre 2026", "unsubscribe": "https://www.irev.fr/desabonnement"},
    )
    transition(box, store, draft.id, APPROVED)
    return box, draft


def test_smtp_delivery_reaches_a_real_server_and_records_history(tmp_path, store, smtp):
    controller, handler = smtp
    box, draft = approved_draft(tmp_path, store)
    messenger = SMTPMessenger(controller.hostname, controller.port)
    done = deliver_draft(box, store, draft.id, messenger, sender="IREV <contact@irev.fr>", recipients=["a@example.org"])
    assert done.status == SENT
    assert len(handler.messages) == 1
    msg = email.message_from_bytes(handler.messages[0].as_bytes(), policy=policy.default)
    assert msg["Subject"] == "La lettre de l'IREV – décembre 2026"
    assert msg["List-Unsubscribe"] == "<https://www.irev.fr/desabonnement>"
    types = [part.get_content_type() for part in msg.walk()]
    assert "text/plain" in types and "text/html" in types
    history = store.history()
    assert [h.key for h in history] == ["https://www.irev.fr/agenda/qualification"]
    assert history[0].start.astimezone(PARIS) == datetime(2026, 12, 4, 9, 30, tzinfo=PARIS)


def test_file_transport_writes_an_eml(tmp_path, store):
    box, draft = approved_draft(tmp_path, store)
    mail_dir = tmp_path / "mail"
    deliver_draft(box, store, draft.id, FileMessenger(mail_dir), sender="contact@irev.fr", recipients=["a@example.org"])
    files = list(mail_dir.glob("*.eml"))
    assert len(files) == 1
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["To"] == "a@example.org"
    assert "La lettre de l'IREV" in parsed.get_body(("plain",)).get_content()


def test_unreachable_smtp_leaves_draft_failed_and_retry_works(tmp_path, store, smtp):
    controller, handler = smtp
    box, draft = approved_draft(tmp_path, store)
    closed_port = free_port()
    with pytest.raises(DeliveryError, match="SMTP"):
        deliver_draft(box, store, draft.id, SMTPMessenger("127.0.0.1", closed_port, timeout=2),
                      sender="contact@irev.fr", recipients=["a@example.org"])
    assert store.draft_status(draft.id) == FAILED
    assert store.history() == []
    deliver_draft(box, store, draft.id, SMTPMessenger(controller.hostname, controller.port),
                  sender="contact@irev.fr", recipients=["a@example.org"])
    assert store.draft_status(draft.id) == SENT
    assert len(handler.messages) == 1


def test_a_sent_draft_is_never_sent_twice(tmp_path, store, smtp):
    controller, handler = smtp
    box, draft = approved_draft(tmp_path, store)
    messenger = SMTPMessenger(controller.hostname, controller.port)
    deliver_draft(box, store, draft.id, messenger, sender="contact@irev.fr", recipients=["a@example.org"])
    with pytest.raises(TransitionError):
        deliver_draft(box, store, draft.id, messenger, sender="contact@irev.fr", recipients=["a@example.org"])
    assert len(handler.messages) == 1
