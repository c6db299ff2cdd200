"""Operations without a Prefect server: approval triggers delivery, the operator is told, retries."""

from __future__ import annotations

import email
import json
import smtplib
import threading
from datetime import date
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from httpserver import free_port

from newsletter.cli import main
from newsletter.deliver.messenger import DeliveryError
from newsletter.ops import notify
from newsletter.ops.delivery import is_connection_error
from newsletter.outbox.drafts import APPROVED, create_draft, load_draft
from newsletter.settings import Settings
from newsletter.store import Store

FILES = {"newsletter.html": "<html lang='fr'><body>Bonjour</body></html>", "newsletter.txt": "Bonjour", "social.json": "[]"}
DEPLOYMENT_ID = "5f0e6c1e-0000-4000-8000-000000000001"
RUN_ID = "8a1d7f3e-0000-4000-8000-000000000002"


class FakePrefectAPI:
    """The two endpoints after_approval calls, recording what it sent."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict | None]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, data):
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                api.calls.append(("GET", self.path, None))
                if self.path == "/api/deployments/name/deliver-newsletter/deliver":
                    self._reply(200, {"id": DEPLOYMENT_ID, "name": "deliver"})
                else:
                    self._reply(404, {"detail": "Deployment not found"})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.calls.append(("POST", self.path, body))
                if self.path == f"/api/deployments/{DEPLOYMENT_ID}/create_flow_run":
                    self._reply(201, {"id": RUN_ID, "parameters": body["parameters"]})
                else:
                    self._reply(404, {"detail": "not found"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def prefect_api():
    api = FakePrefectAPI()
    yield api
    api.close()


@pytest.fixture
def pending(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "outbox"))
    settings = Settings.from_env()
    store = Store(settings.database_url)
    draft = create_draft(settings.outbox, store, month=date(2026, 12, 1), files=dict(FILES), manifest={"subject": "Lettre"})
    return settings, store, draft


def test_without_a_prefect_api_approval_only_approves(pending, monkeypatch, capsys):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    settings, store, draft = pending
    assert main(["outbox", "approve", draft.id, "--actor", "marie"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"Brouillon {draft.id} validé."
    assert load_draft(settings.outbox, draft.id, store).status == APPROVED


def test_approving_triggers_the_deliver_deployment_and_records_the_run(pending, prefect_api, monkeypatch, capsys):
    monkeypatch.setenv("PREFECT_API_URL", prefect_api.url)
    settings, store, draft = pending
    assert main(["outbox", "approve", draft.id, "--actor", "marie"]) == 0
    assert f"Envoi lancé par Prefect (exécution {RUN_ID})" in capsys.readouterr().out
    (post,) = [c for c in prefect_api.calls if c[0] == "POST"]
    assert post[2]["parameters"] == {"draft_id": draft.id, "actor": "marie"}
    manifest = json.loads((draft.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == APPROVED
    assert [e["to"] for e in manifest["events"]] == ["pending", "approved", "approved"]
    assert RUN_ID in manifest["events"][-1]["note"]
    assert RUN_ID in store.draft_events(draft.id)[-1]["note"]


def test_an_unreachable_prefect_api_keeps_the_approval_and_says_how_to_send(pending, monkeypatch, capsys):
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    settings, store, draft = pending
    assert main(["outbox", "approve", draft.id]) == 0
    err = capsys.readouterr().err
    assert "injoignable" in err and f"newsletter outbox send {draft.id}" in err
    assert load_draft(settings.outbox, draft.id, store).status == APPROVED


def test_a_failed_run_mails_the_operator_through_the_file_transport(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("NEWSLETTER_OPERATOR_EMAIL", "exploitation@irev.fr")
    settings = Settings.from_env()
    where = notify.run_failed(
        settings, what="monthly", run_name="vagabond-lion", reason="UserError: sources.yaml: no such file",
        run_url="http://127.0.0.1:4200/runs/flow-run/abc", parameters={"month": "2026-12"},
    )
    assert where and where.startswith("fichier")
    (eml,) = (tmp_path / "mail").glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "exploitation@irev.fr"
    assert "vagabond-lion" in msg["Subject"]
    body = msg.get_content()
    assert "sources.yaml: no such file" in body and "http://127.0.0.1:4200/runs/flow-run/abc" in body


def test_no_operator_address_no_mail(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.delenv("NEWSLETTER_OPERATOR_EMAIL", raising=False)
    assert notify.run_failed(Settings.from_env(), what="monthly", run_name="x", reason="y", run_url=None) is None
    assert not (tmp_path / "mail").exists()


def test_only_sources_past_the_threshold_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("NEWSLETTER_OPERATOR_EMAIL", "exploitation@irev.fr")
    settings = Settings.from_env()

    class Draft:
        id = "2026-12-x"
        manifest = {"sources": {"failed": [
            {"source": "ANCT", "category": "http_status", "message": "HTTP 404", "needs_attention": True},
            {"source": "CGET", "category": "timeout", "message": "no answer", "needs_attention": False},
        ]}}

    assert notify.failing_sources(settings, Draft(), threshold=3)
    (eml,) = (tmp_path / "mail").glob("*.eml")
    body = email.message_from_bytes(eml.read_bytes(), policy=policy.default).get_content()
    assert "ANCT" in body and "HTTP 404" in body and "CGET" not in body
    Draft.manifest["sources"]["failed"][0]["needs_attention"] = False
    assert notify.failing_sources(settings, Draft(), threshold=3) is None


def test_connection_errors_are_told_from_refusals():
    def wrapped(cause):
        try:
            raise DeliveryError("serveur SMTP") from cause
        except DeliveryError as exc:
            return exc

    assert is_connection_error(wrapped(ConnectionRefusedError(111, "Connection refused")))
    assert is_connection_error(wrapped(smtplib.SMTPServerDisconnected("gone")))
    assert is_connection_error(wrapped(TimeoutError("timed out")))
    assert not is_connection_error(DeliveryError("destinataires refusés par 127.0.0.1:25 : a@example.org"))
    assert not is_connection_error(wrapped(smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no")})))
    assert not is_connection_error(wrapped(PermissionError(13, "Permission denied")))


@pytest.mark.prefect
def test_the_deliver_flow_retries_on_connection_errors_only(prefect_harness, monkeypatch):
    import flows.deliver as deliver

    calls = []

    def failing(exc):
        def send(settings, store, draft_id, *, actor, progress=None):
            calls.append(draft_id)
            raise exc

        return send

    monkeypatch.setattr(deliver, "send_task", deliver.send_task.with_options(retry_delay_seconds=0))
    monkeypatch.setattr(deliver, "send_approved", failing(DeliveryError("destinataires refusés par 127.0.0.1:25")))
    state = deliver.deliver("d1", return_state=True)
    assert state.is_failed() and len(calls) == 1

    calls.clear()
    try:
        raise DeliveryError("serveur SMTP 127.0.0.1:25") from ConnectionRefusedError(111, "refused")
    except DeliveryError as exc:
        down = exc
    monkeypatch.setattr(deliver, "send_approved", failing(down))
    state = deliver.deliver("d1", return_state=True)
    assert state.is_failed() and len(calls) == 4  # the first try and three retries
