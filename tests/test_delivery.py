"""Delivery to subscribers through a real local SMTP server (aiosmtpd), read back."""

from __future__ import annotations

import re
import ssl
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from deliverytools import PUBLIC_URL, SECRET, Recorder, approved_draft, delivery_env, start_smtp

from newsletter.deliver import subscribers as subs
from newsletter.deliver.engine import SENT, SKIPPED, UNCERTAIN, delivery_counts, send_draft
from newsletter.deliver.messenger import DeliveryError, FatalError, SMTPMessenger
from newsletter.deliver.tokens import read_token
from newsletter.outbox import drafts as outbox
from newsletter.settings import Settings
from newsletter.store import Store, send_log, send_runs


@pytest.fixture(params=[False, True], ids=["one-command-at-a-time", "pipelining"])
def smtp(request):
    controller, handler = start_smtp(Recorder(pipelining=request.param))
    yield controller, handler
    controller.stop()


def _setup(monkeypatch, controller=None, **extra):
    delivery_env(monkeypatch, controller, **extra)
    settings = Settings.from_env()
    store = Store(settings.database_url)
    return settings, store


@pytest.fixture(autouse=True)
def _every_database(database_url):
    """Every delivery test runs on SQLite and on PostgreSQL (conftest.database_url sets NEWSLETTER_DATABASE_URL)."""
    return database_url


def _add(store, *addresses):
    return [subs.add(store, a, name=n, consent_source="test")[0] for a, n in addresses]


def test_each_subscriber_gets_one_private_message_with_every_header(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller)
    alice, bob, carol, dan = _add(
        store, ("alice@example.org", "Alice Dupré"), ("Bob@Example.org", None), ("carol@example.org", None),
        ("dan@example.org", None),
    )
    subs.change_status(store, carol.id, subs.UNSUBSCRIBED, actor="test")
    subs.change_status(store, dan.id, subs.BOUNCED, actor="test")
    draft = approved_draft(settings.outbox, store)

    result = send_draft(settings, store, draft.id)

    assert (result.sent, result.skipped, result.failed, result.uncertain) == (2, 0, 0, 0)
    assert store.draft_status(draft.id) == outbox.SENT
    assert sorted(r for _, rcpts, _ in handler.messages for r in rcpts) == ["Bob@example.org", "alice@example.org"]
    msgs = {m["To"].addresses[0].addr_spec: m for m in handler.parsed()}
    assert all(len(rcpts) == 1 for _, rcpts, _ in handler.messages)
    m = msgs["alice@example.org"]
    assert str(m["To"]) == "Alice Dupré <alice@example.org>"
    assert m["Subject"] == "La lettre de l'IREV – décembre 2026"
    assert m["From"] == "IREV <contact@irev.fr>"
    assert m.get_content_type() == "multipart/alternative"
    html = m.get_body(("html",)).get_content()
    text = m.get_body(("plain",)).get_content()
    assert "« guillemets »" in html and ".ligne qui commence par un point" in html
    links = re.findall(r"<([^>]+)>", m["List-Unsubscribe"])
    assert links[0].startswith(PUBLIC_URL + "/desabonnement/")
    assert links[1].startswith("mailto:desabonnement@irev.fr")
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert m["List-Id"] and "irev.fr" in m["List-Id"]
    assert links[0] in html and links[0] in text and "{{unsubscribe_url}}" not in html + text
    sid, _ = read_token(SECRET, links[0].rsplit("/", 1)[1])
    assert sid == alice.id
    bob_link = re.findall(r"<([^>]+)>", msgs["Bob@example.org"]["List-Unsubscribe"])[0]
    assert bob_link != links[0]
    assert m["Date"].datetime.tzinfo is not None
    ids = {x["Message-ID"] for x in msgs.values()}
    assert len(ids) == 2 and all(i.endswith("@irev.fr>") for i in ids)
    raw = handler.messages[0][2]
    assert raw.isascii()  # UTF-8 only through MIME encodings
    assert [h.key for h in store.history()] == ["https://www.irev.fr/agenda/qualification"]
    with pytest.raises(outbox.TransitionError):
        send_draft(settings, store, draft.id)
    assert len(handler.messages) == 2


def test_file_transport_writes_one_eml_per_subscriber_in_the_draft_folder(monkeypatch):
    settings, store = _setup(monkeypatch)
    _add(store, ("a@example.org", None), ("b@example.org", None))
    draft = approved_draft(settings.outbox, store)
    result = send_draft(settings, store, draft.id)
    files = sorted(p.name for p in (draft.path / "mail").glob("*.eml"))
    assert files == ["a@example.org.eml", "b@example.org.eml"]
    assert result.sent == 2


def test_no_secret_key_refuses_to_send_and_changes_nothing(monkeypatch):
    settings, store = _setup(monkeypatch, NEWSLETTER_SECRET_KEY="")
    _add(store, ("a@example.org", None))
    draft = approved_draft(settings.outbox, store)
    with pytest.raises(DeliveryError, match="NEWSLETTER_SECRET_KEY"):
        send_draft(settings, store, draft.id)
    assert store.draft_status(draft.id) == outbox.APPROVED


def test_server_refusing_some_recipients_records_them_and_never_mails_the_others_twice(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller, NEWSLETTER_BOUNCE_THRESHOLD="1")
    people = _add(store, *[(f"p{i}@example.org", None) for i in range(20)])
    handler.rcpt_hook = lambda addr: "550 5.1.1 No such user" if addr == "p7@example.org" else None
    draft = approved_draft(settings.outbox, store)
    result = send_draft(settings, store, draft.id)
    assert (result.sent, result.failed) == (19, 1)
    assert result.failed_addresses[0][0] == "p7@example.org" and "550" in result.failed_addresses[0][1]
    assert store.draft_status(draft.id) == outbox.SENT
    assert subs.get_by_id(store, people[7].id).status == subs.BOUNCED
    assert "p7@example.org" not in handler.by_recipient()
    # the next issue goes to the 19 only
    handler.rcpt_hook = None
    second = approved_draft(settings.outbox, store)
    assert send_draft(settings, store, second.id).sent == 19
    assert handler.by_recipient() == {f"p{i}@example.org": 2 for i in range(20) if i != 7}


def test_bounce_counts_up_to_the_threshold(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller, NEWSLETTER_BOUNCE_THRESHOLD="2")
    (p,) = _add(store, ("full@example.org", None))
    handler.rcpt_hook = lambda addr: "552 5.2.2 Mailbox full"
    send_draft(settings, store, approved_draft(settings.outbox, store).id)
    assert subs.get_by_id(store, p.id).status == subs.ACTIVE
    send_draft(settings, store, approved_draft(settings.outbox, store).id)
    assert subs.get_by_id(store, p.id).status == subs.BOUNCED


def test_transient_refusal_is_retried_with_backoff(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller)
    _add(store, ("grey@example.org", None), ("ok@example.org", None))
    seen = []

    def greylist(addr):
        seen.append(addr)
        return "451 4.7.1 Greylisted, try again" if addr == "grey@example.org" and seen.count(addr) < 3 else None

    handler.rcpt_hook = greylist
    result = send_draft(settings, store, approved_draft(settings.outbox, store).id)
    assert result.sent == 2 and seen.count("grey@example.org") == 3
    assert handler.by_recipient() == {"grey@example.org": 1, "ok@example.org": 1}


def test_transient_refusal_exhausted_is_deferred_and_the_next_send_delivers_it(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller, NEWSLETTER_SEND_RETRIES="2")
    _add(store, ("grey@example.org", None), ("ok@example.org", None))
    handler.rcpt_hook = lambda addr: "450 4.2.0 Later" if addr == "grey@example.org" else None
    draft = approved_draft(settings.outbox, store)
    first = send_draft(settings, store, draft.id)
    assert (first.sent, first.deferred) == (1, 1)
    assert store.draft_status(draft.id) == outbox.FAILED
    handler.rcpt_hook = None
    second = send_draft(settings, store, draft.id)
    assert (second.sent, second.deferred) == (2, 0)
    assert store.draft_status(draft.id) == outbox.SENT
    assert handler.by_recipient() == {"grey@example.org": 1, "ok@example.org": 1}


def test_server_dropping_the_connection_reconnects_and_mails_everyone_once(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller)
    _add(store, *[(f"p{i}@example.org", None) for i in range(10)])
    dropped = []

    def drop_once(addr):
        if addr == "p4@example.org" and not dropped:
            dropped.append(addr)
            return "DROP"
        return None

    handler.rcpt_hook = drop_once
    result = send_draft(settings, store, approved_draft(settings.outbox, store).id)
    assert dropped and result.sent == 10 and result.uncertain == 0
    assert handler.by_recipient() == {f"p{i}@example.org": 1 for i in range(10)}


def test_connection_lost_after_the_data_is_uncertain_and_only_resent_on_request(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller)
    _add(store, *[(f"p{i}@example.org", None) for i in range(5)])
    handler.data_hook = lambda env: "DROP" if env.rcpt_tos == ["p2@example.org"] and not handler.by_recipient().get(
        "p2@example.org") else None
    draft = approved_draft(settings.outbox, store)
    result = send_draft(settings, store, draft.id)
    assert result.uncertain == 1 and result.uncertain_addresses == ["p2@example.org"]
    assert result.sent == 4 and store.draft_status(draft.id) == outbox.SENT
    assert handler.by_recipient()["p2@example.org"] == 1  # the server did get it: not mailed again
    handler.data_hook = None
    again = send_draft(settings, store, draft.id, resend_uncertain=True)
    assert again.uncertain == 0 and again.sent == 5
    assert handler.by_recipient()["p2@example.org"] == 2
    assert store.draft_status(draft.id) == outbox.SENT


def test_unreachable_server_leaves_the_draft_failed_and_a_retry_resumes(monkeypatch, smtp):
    from httpserver import free_port
    from newsletter.deliver.messenger import DeliveryConnectionError

    controller, handler = smtp
    settings, store = _setup(monkeypatch, NEWSLETTER_TRANSPORT="smtp", NEWSLETTER_SMTP_HOST="127.0.0.1",
                             NEWSLETTER_SMTP_PORT=str(free_port()), NEWSLETTER_SEND_RETRIES="2")
    _add(store, ("a@example.org", None), ("b@example.org", None))
    draft = approved_draft(settings.outbox, store)
    with pytest.raises(DeliveryConnectionError):
        send_draft(settings, store, draft.id)
    assert store.draft_status(draft.id) == outbox.FAILED
    assert delivery_counts(store, draft.id)["queued"] == 2
    settings2 = Settings.from_env({**__import__("os").environ, "NEWSLETTER_SMTP_PORT": str(controller.port)})
    assert send_draft(settings2, store, draft.id).sent == 2
    assert store.draft_status(draft.id) == outbox.SENT


def test_unsubscribed_during_a_send_is_not_mailed(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller, NEWSLETTER_SEND_RATE="50")
    people = _add(store, *[(f"p{i}@example.org", None) for i in range(10)])

    def on_message(n, envelope):
        if n == 1:
            subs.change_status(store, people[-1].id, subs.UNSUBSCRIBED, actor="test")

    handler.on_message = on_message
    result = send_draft(settings, store, approved_draft(settings.outbox, store).id)
    assert result.sent == 9 and result.skipped == 1
    assert "p9@example.org" not in handler.by_recipient()


def test_rate_per_second_is_respected(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller, NEWSLETTER_SEND_RATE="20")
    _add(store, *[(f"p{i}@example.org", None) for i in range(11)])
    t0 = time.monotonic()
    send_draft(settings, store, approved_draft(settings.outbox, store).id)
    assert time.monotonic() - t0 >= 0.5  # 11 messages at 20/s: 10 intervals of 50 ms


def test_several_connections_share_the_work_and_mail_everyone_once(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller, NEWSLETTER_SMTP_CONNECTIONS="3")
    _add(store, *[(f"p{i}@example.org", None) for i in range(30)])
    result = send_draft(settings, store, approved_draft(settings.outbox, store).id)
    assert result.sent == 30
    assert handler.by_recipient() == {f"p{i}@example.org": 1 for i in range(30)}


def test_a_live_sender_keeps_others_away_and_a_dead_or_expired_one_does_not(monkeypatch, smtp):
    import os
    import socket

    from sqlalchemy import insert, update

    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller)
    _add(store, ("a@example.org", None))
    draft = approved_draft(settings.outbox, store)
    live = f"{socket.gethostname()}:{os.getppid()}:live"
    in_a_minute = datetime.now(timezone.utc) + timedelta(minutes=1)
    with store.engine.begin() as conn:
        conn.execute(insert(send_runs).values(draft_id=draft.id, holder=live, lease_expires_at=in_a_minute,
                                              lease_version=1, started_at=datetime.now(timezone.utc)))
    with pytest.raises(outbox.SendInProgress, match="un autre envoi est en cours"):
        send_draft(settings, store, draft.id)
    assert handler.messages == [] and store.draft_status(draft.id) == outbox.APPROVED
    # a holder on another machine whose lease expired is taken over
    with store.engine.begin() as conn:
        conn.execute(update(send_runs).values(holder="other-host:1:x",
                                              lease_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert send_draft(settings, store, draft.id).sent == 1


def test_resume_of_a_draft_left_sending_by_a_dead_process(monkeypatch, smtp):
    """What `kill -9` leaves: draft `sending`, a row in flight, a lease held by a dead pid."""
    import socket
    import subprocess

    from sqlalchemy import update

    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller)
    _add(store, *[(f"p{i}@example.org", None) for i in range(4)])
    draft = approved_draft(settings.outbox, store)
    send_draft(settings, store, draft.id)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with store.engine.begin() as conn:  # rewind: p2 in flight, p3 still queued
        conn.execute(update(send_log).where(send_log.c.email == "p2@example.org").values(status="sending"))
        conn.execute(update(send_log).where(send_log.c.email == "p3@example.org").values(status="queued"))
        conn.execute(update(send_runs).values(holder=f"{socket.gethostname()}:{dead.pid}:x",
                                              lease_expires_at=datetime.now(timezone.utc) + timedelta(hours=1)))
        from newsletter.store import drafts as drafts_table
        conn.execute(update(drafts_table).where(drafts_table.c.id == draft.id).values(status="sending"))
    before = handler.by_recipient()
    result = send_draft(settings, store, draft.id)
    assert result.uncertain_addresses == ["p2@example.org"] and store.draft_status(draft.id) == outbox.SENT
    after = handler.by_recipient()
    assert after["p3@example.org"] == before["p3@example.org"] + 1
    assert after["p2@example.org"] == before["p2@example.org"]
    assert any("reprise" in (e["note"] or "") for e in store.draft_events(draft.id))


def _self_signed(tmp_path, name: str, ip: str | None = None):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    alt = [x509.DNSName(name)] + ([x509.IPAddress(ipaddress.ip_address(ip))] if ip else [])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2)).add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class AuthRecorder(Recorder):
    def __init__(self):
        super().__init__()
        self.auth_attempts = []


def _tls_server(tmp_path, name, ip=None):
    cert, key = _self_signed(tmp_path, name, ip)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = AuthRecorder()

    def authenticator(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        handler.auth_attempts.append(auth_data)
        return AuthResult(success=True)

    controller, handler = start_smtp(handler, tls_context=context, require_starttls=True,
                                     authenticator=authenticator, auth_require_tls=True)
    return controller, handler, cert


def test_starttls_with_an_untrusted_certificate_is_refused_before_the_password(monkeypatch, tmp_path):
    controller, handler, _ = _tls_server(tmp_path, "evil.example")
    try:
        settings, store = _setup(monkeypatch, controller, NEWSLETTER_SMTP_SECURITY="starttls",
                                 NEWSLETTER_SMTP_USER="irev", NEWSLETTER_SMTP_PASSWORD="s3cret")
        _add(store, ("a@example.org", None))
        draft = approved_draft(settings.outbox, store)
        with pytest.raises(FatalError, match="certificat TLS refusé"):
            send_draft(settings, store, draft.id)
        assert handler.auth_attempts == [] and handler.messages == []
        assert store.draft_status(draft.id) == outbox.FAILED
        assert delivery_counts(store, draft.id)["queued"] == 1
    finally:
        controller.stop()


def test_starttls_with_a_trusted_certificate_logs_in_and_sends(monkeypatch, tmp_path):
    controller, handler, cert = _tls_server(tmp_path, "localhost", "127.0.0.1")
    try:
        settings, store = _setup(monkeypatch, controller, NEWSLETTER_SMTP_SECURITY="starttls",
                                 NEWSLETTER_SMTP_CA_FILE=str(cert),
                                 NEWSLETTER_SMTP_USER="irev", NEWSLETTER_SMTP_PASSWORD="s3cret")
        _add(store, ("a@example.org", None), ("b@example.org", None))
        assert send_draft(settings, store, approved_draft(settings.outbox, store).id).sent == 2
        assert len(handler.auth_attempts) == 1  # one connection for both messages
        assert handler.by_recipient() == {"a@example.org": 1, "b@example.org": 1}
    finally:
        controller.stop()


def test_login_is_refused_over_an_unencrypted_connection_to_another_host():
    messenger = SMTPMessenger("smtp.example.org", 587, user="irev", password="s3cret", security="none")
    with pytest.raises(FatalError, match="non chiffrée"):
        messenger.deliver("contact@irev.fr", "a@example.org", None)
    assert SMTPMessenger("smtp.example.org", 465).security == "tls"


def test_dkim_signature_covers_list_unsubscribe_and_verifies(monkeypatch, smtp, tmp_path):
    import base64

    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller, NEWSLETTER_DKIM_KEY_FILE=str(key_file),
                             NEWSLETTER_DKIM_SELECTOR="lettre2026")
    _add(store, ("a@example.org", None))
    send_draft(settings, store, approved_draft(settings.outbox, store).id)
    raw = handler.messages[0][2]
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record if name == b"lettre2026._domainkey.irev.fr." else None)
    signed = re.search(rb"h=([^;]+);", raw.replace(b"\r\n ", b"").replace(b"\r\n\t", b"")).group(1).lower()
    assert b"list-unsubscribe" in signed and b"list-unsubscribe-post" in signed
    tampered = raw.replace(b"desabonnement/", b"desabonnement/x", 1)
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)


def test_list_address_mode_sends_one_message_without_personal_links(monkeypatch, smtp):
    controller, handler = smtp
    settings, store = _setup(monkeypatch, controller, NEWSLETTER_MAIL_TO="liste@listes.example.org",
                             NEWSLETTER_SECRET_KEY="", NEWSLETTER_PUBLIC_URL="")
    draft = approved_draft(settings.outbox, store)
    assert send_draft(settings, store, draft.id).sent == 1
    (m,) = handler.parsed()
    assert str(m["To"]) == "liste@listes.example.org"
    assert "{{unsubscribe_url}}" in m.get_body(("html",)).get_content()  # left for the mailing service
