"""Unsubscribe pages: the router on a minimal app (TestClient), then end to end through uvicorn."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest
from deliverytools import SECRET, approved_draft, delivery_env, start_smtp
from fastapi import FastAPI
from fastapi.testclient import TestClient

from newsletter.deliver import subscribers as subs
from newsletter.deliver.engine import send_draft
from newsletter.deliver.tokens import make_token
from newsletter.settings import Settings
from newsletter.store import Store
from newsletter.web.unsubscribe import router


def make_app(settings, store) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    app.state.store = store
    app.include_router(router)
    return app


@pytest.fixture
def ctx(monkeypatch):
    delivery_env(monkeypatch)
    settings = Settings.from_env()
    store = Store(settings.database_url)
    sub, _ = subs.add(store, "zoe@example.org", name="Zoé")
    return settings, store, sub, TestClient(make_app(settings, store))


def test_get_shows_a_french_confirmation_page_and_changes_nothing(ctx):
    settings, store, sub, client = ctx
    token = make_token(SECRET, sub.id, sub.email)
    r = client.get(f"/desabonnement/{token}")
    assert r.status_code == 200
    assert 'lang="fr"' in r.text and "zoe@example.org" in r.text
    assert "Confirmer mon désabonnement" in r.text and f'action="/desabonnement/{token}"' in r.text
    assert subs.get_by_id(store, sub.id).status == subs.ACTIVE


def test_one_click_post_unsubscribes_at_once_and_answers_200_again(ctx):
    settings, store, sub, client = ctx
    token = make_token(SECRET, sub.id, sub.email)
    r = client.post(f"/desabonnement/{token}", content="List-Unsubscribe=One-Click",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    assert r.status_code == 200 and "set-cookie" not in r.headers
    assert subs.get_by_id(store, sub.id).status == subs.UNSUBSCRIBED
    assert subs.events(store, sub.id)[-1]["note"] == "un clic (RFC 8058)"
    again = client.post(f"/desabonnement/{token}", content="List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert again.status_code == 200
    assert "n'est plus abonnée" in client.get(f"/desabonnement/{token}").text


def test_the_confirmation_button_unsubscribes(ctx):
    settings, store, sub, client = ctx
    token = make_token(SECRET, sub.id, sub.email)
    page = client.get(f"/desabonnement/{token}").text
    action = re.search(r'action="([^"]+)"', page).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page))
    r = client.post(action, data=fields)
    assert r.status_code == 200 and "Désabonnement confirmé" in r.text
    assert subs.get_by_id(store, sub.id).status == subs.UNSUBSCRIBED


def test_forged_altered_or_expired_tokens_are_refused_and_change_nothing(ctx):
    settings, store, sub, client = ctx
    good = make_token(SECRET, sub.id, sub.email)
    other, _ = subs.add(store, "autre@example.org")
    forged = make_token("not-the-secret", sub.id, sub.email)
    altered = good.replace(f"{sub.id:012d}", f"{other.id:012d}")
    wrong_address = make_token(SECRET, sub.id, "autre@example.org")
    for bad in (forged, altered, wrong_address, good[:-2], "x"):
        for method in ("get", "post"):
            r = getattr(client, method)(f"/desabonnement/{bad}")
            assert r.status_code == 400, (bad, method)
    assert "n'est pas valable" in r.text
    assert subs.get_by_id(store, sub.id).status == subs.ACTIVE
    assert subs.get_by_id(store, other.id).status == subs.ACTIVE


def test_expired_token_gets_400(monkeypatch):
    delivery_env(monkeypatch, NEWSLETTER_UNSUBSCRIBE_MAX_AGE_DAYS="1")
    settings = Settings.from_env()
    store = Store(settings.database_url)
    sub, _ = subs.add(store, "old@example.org")
    import itsdangerous.timed as timed

    real = timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(timed.TimestampSigner, "get_timestamp", lambda self: real(self) - 2 * 86400)
    token = make_token(SECRET, sub.id, sub.email)
    monkeypatch.setattr(timed.TimestampSigner, "get_timestamp", real)
    client = TestClient(make_app(settings, store))
    r = client.post(f"/desabonnement/{token}", content="List-Unsubscribe=One-Click")
    assert r.status_code == 400 and "expiré" in r.text
    assert subs.get_by_id(store, sub.id).status == subs.ACTIVE


def test_end_to_end_link_from_a_received_message_through_a_real_server(monkeypatch):
    import uvicorn
    from httpserver import free_port

    controller, handler = start_smtp()
    port = free_port()
    try:
        delivery_env(monkeypatch, controller, NEWSLETTER_PUBLIC_URL=f"http://127.0.0.1:{port}")
        settings = Settings.from_env()
        store = Store(settings.database_url)
        subs.add(store, "ana@example.org")
        subs.add(store, "ben@example.org")
        send_draft(settings, store, approved_draft(settings.outbox, store).id)
        server = uvicorn.Server(uvicorn.Config(make_app(settings, store), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            msg = next(m for m in handler.parsed() if m["To"].addresses[0].addr_spec == "ana@example.org")
            url = re.findall(r"<(http[^>]+)>", msg["List-Unsubscribe"])[0]
            assert url in msg.get_body(("html",)).get_content()
            page = httpx.get(url)
            assert page.status_code == 200 and "ana@example.org" in page.text
            forged = url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb")
            assert httpx.post(forged, content="List-Unsubscribe=One-Click").status_code == 400
            assert subs.get(store, "ana@example.org").status == subs.ACTIVE
            r = httpx.post(url, content="List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status_code == 200 and not r.is_redirect
            assert subs.get(store, "ana@example.org").status == subs.UNSUBSCRIBED
            assert subs.get(store, "ben@example.org").status == subs.ACTIVE
        finally:
            server.should_exit = True
            thread.join(10)
        # the next issue does not go to her
        with handler.lock:
            handler.messages.clear()
        send_draft(settings, store, approved_draft(settings.outbox, store).id)
        assert handler.by_recipient() == {"ben@example.org": 1}
    finally:
        controller.stop()
