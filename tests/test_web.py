"""The review web app over HTTP (FastAPI's TestClient): access, CSRF, edits, approval, bad input."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import shutil
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from newsletter.cli import main
from newsletter.outbox import drafts as outbox
from newsletter.outbox.edits import load_edits
from newsletter.pipeline import run_monthly
from newsletter.samples import build_sample_site
from newsletter.settings import Settings
from newsletter.store import Store
from newsletter.web import auth
from newsletter.web.app import MAX_BODY, SESSION_COOKIE, create_app, iter_routes

TODAY = date(2026, 11, 23)
MONTH = TODAY.replace(day=1)
PASSWORD = "un mot de passe solide"


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory):
    """One sample draft (and accounts) per module; each test works on its own copy."""
    from httpserver import LocalServer

    base = tmp_path_factory.mktemp("web-home")
    root = base / "site"
    root.mkdir()
    server = LocalServer(root).start()
    try:
        sources = build_sample_site(root, TODAY, base_url=server.base_url)
        env = {"NEWSLETTER_OUTBOX": str(base / "outbox"), "NEWSLETTER_DATABASE_URL": f"sqlite:///{base / 'db.sqlite'}"}
        settings = Settings.from_env(env)
        draft = run_monthly(sources, month=MONTH, today=TODAY, settings=settings)
    finally:
        server.stop()
    store = Store(settings.database_url)
    for name in ("camille", "alice", "bob"):
        auth.add_user(store, name, PASSWORD, email=f"{name}@example.org")
    store.engine.dispose()
    return base, draft.id


@pytest.fixture
def ctx(sample_home, tmp_path, monkeypatch):
    base, draft_id = sample_home
    shutil.copytree(base / "outbox", tmp_path / "home" / "outbox")
    # the database is in write-ahead-log mode: its -wal/-shm files are part of it
    for name in ("db.sqlite", "db.sqlite-wal", "db.sqlite-shm"):
        if (base / name).exists():
            shutil.copy(base / name, tmp_path / "home" / name)
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "home" / "outbox"))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{tmp_path / 'home' / 'db.sqlite'}")
    settings = Settings.from_env()
    store = Store(settings.database_url)
    return settings, store, outbox.load_draft(settings.outbox, draft_id, store)


# The officer opens the draft the morning it was made (the plan's days are still to come).
OPENED = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
def app(ctx):
    settings, store, _ = ctx
    return create_app(settings, store, clock=lambda: OPENED)


def body(response) -> str:
    """The page's text with HTML entities decoded (apostrophes are escaped in attributes and text)."""
    return html.unescape(response.text)


def token_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    match = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def login(app, name: str = "camille") -> TestClient:
    client = TestClient(app)
    response = client.post("/login", data={"username": name, "password": PASSWORD, "csrftoken": token_of(client)},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def page_fields(client: TestClient, draft_id: str) -> dict[str, str]:
    html = client.get(f"/drafts/{draft_id}").text
    return {
        "csrftoken": re.search(r'name="csrftoken" value="([^"]+)"', html).group(1),
        "version": re.search(r'name="version" value="(\d+)"', html).group(1),
    }


def snapshot(settings, store, draft_id: str) -> tuple:
    folder = settings.outbox / draft_id
    files = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }
    return files, len(store.draft_events(draft_id)), load_edits(store, draft_id).version, store.draft_status(draft_id)


def issue_of(settings, draft_id: str) -> dict:
    return json.loads((settings.outbox / draft_id / "issue.json").read_text(encoding="utf-8"))


def _public_paths() -> set[str]:
    """The unsubscribe pages: public by design (RFC 8058 one-click POST carries no cookie nor token)."""
    from newsletter.web.unsubscribe import router

    return {path for path, _ in iter_routes(router.routes)}


def post_routes(app) -> list[str]:
    return sorted({path for path, methods in iter_routes(app.routes) if "POST" in methods} - _public_paths())


def get_routes(app) -> list[str]:
    return sorted({path for path, methods in iter_routes(app.routes) if "GET" in methods})


def fill(path: str, draft_id: str) -> str:
    return path.replace("{draft_id}", draft_id)


def unsubscribe_paths() -> set[str]:
    import importlib.util

    if importlib.util.find_spec("newsletter.web.unsubscribe") is None:
        return set()
    from newsletter.web.unsubscribe import router

    return {path for path, _ in iter_routes(router.routes)}


# -- access --------------------------------------------------------------------------


def test_every_review_page_sends_an_anonymous_visitor_to_login(app, ctx):
    _, _, draft = ctx
    client = TestClient(app)
    public = {"/login", "/login/link"} | unsubscribe_paths()
    pages = [p for p in get_routes(app) if p not in public]
    assert {"/", "/drafts/{draft_id}", "/drafts/{draft_id}/preview.html"} <= set(pages)
    for path in pages:
        response = client.get(fill(path, draft.id), follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
    # a POST with a valid CSRF token but no session does nothing either
    token = token_of(client)
    for path in post_routes(app):
        if path in public or path == "/logout":
            continue
        response = client.post(fill(path, draft.id), data={"csrftoken": token, "version": "0"},
                               follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    assert client.get("/login").status_code == 200
    assert client.get("/static/review.css").status_code == 200


def test_every_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    fields = page_fields(client, draft.id)
    item = issue_of(settings, draft.id)["agenda"][0]["url"]
    before = snapshot(settings, store, draft.id)
    routes = post_routes(app)
    assert len(routes) >= 14, routes
    for path in routes:
        url = fill(path, draft.id)
        form = {"version": fields["version"], "url": item, "comment": "ok", "editorial": "Piraté",
                "username": "camille", "password": PASSWORD, "direction": "down", "section": "agenda"}
        for token in (None, "", fields["csrftoken"] + "x", "forged.token"):
            data = dict(form) if token is None else dict(form, csrftoken=token)
            response = client.post(url, data=data, follow_redirects=False)
            assert response.status_code == 403, (path, token, response.status_code)
            assert "Action refusée" in body(response) and "rien n'a été" in body(response)
        # a token from another browser (its own cookie) does not fit this one's cookie either
        other = TestClient(app)
        response = client.post(url, data=dict(form, csrftoken=token_of(other)), follow_redirects=False)
        assert response.status_code == 403, path
    assert snapshot(settings, store, draft.id) == before
    assert client.get("/", follow_redirects=False).status_code == 200  # /logout was refused: still logged in


def test_get_requests_change_nothing(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    before = snapshot(settings, store, draft.id)
    for path in get_routes(app):
        client.get(fill(path, draft.id), params={"token": "x"})
    assert snapshot(settings, store, draft.id) == before


def test_login_failures_are_slowed_down_and_messages_are_french(app, ctx):
    client = TestClient(app)
    token = token_of(client)
    response = client.post("/login", data={"username": "camille", "password": "faux", "csrftoken": token})
    assert response.status_code == 401 and "Nom d'utilisateur ou mot de passe incorrect" in body(response)
    for _ in range(auth.FREE_ATTEMPTS - 1):
        client.post("/login", data={"username": "camille", "password": "faux", "csrftoken": token})
    # locked now, even with the right password
    response = client.post("/login", data={"username": "camille", "password": PASSWORD, "csrftoken": token})
    assert response.status_code == 429 and "Trop de tentatives" in body(response)
    assert client.get("/", follow_redirects=False).status_code == 303
    # another account from the same browser is not locked
    assert login(app, "alice").get("/").status_code == 200


def test_session_cookie_is_httponly_lax_and_secure_over_https(ctx):
    settings, store, _ = ctx
    client = login(create_app(settings, store))
    assert client.get("/").status_code == 200
    https = create_app(Settings.from_env({**_env(settings), "NEWSLETTER_PUBLIC_URL": "https://lettre.example.org"}),
                       store)
    client = TestClient(https, base_url="https://testserver")
    token = token_of(client)
    response = client.post("/login", data={"username": "camille", "password": PASSWORD, "csrftoken": token},
                           follow_redirects=False)
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" in cookie.lower()


def _env(settings) -> dict[str, str]:
    return {"NEWSLETTER_OUTBOX": str(settings.outbox), "NEWSLETTER_DATABASE_URL": settings.database_url}


def test_a_one_time_login_link_works_once(app, ctx):
    from newsletter.cli.serve import local_login_url

    settings, store, _ = ctx
    url, name, created = local_login_url(store, "127.0.0.1", 8000, "camille")
    assert name == "camille" and not created
    path = url.split("8000", 1)[1]
    client = TestClient(app)
    page = client.get(path)
    assert page.status_code == 200 and "Se connecter" in body(page)
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    csrf = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    client.get(path)  # showing the page twice spends nothing
    assert client.post("/login/link", data={"token": token, "csrftoken": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/").status_code == 200
    other = TestClient(app)
    response = other.post("/login/link", data={"token": token, "csrftoken": token_of(other)})
    assert response.status_code == 401 and "n'est plus valable" in body(response)


# -- edits -----------------------------------------------------------------------------


def test_the_officer_edits_a_draft_through_the_page(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    issue = issue_of(settings, draft.id)
    first, second = issue["agenda"][0], issue["agenda"][1]

    def post(path, **data):
        response = client.post(f"/drafts/{draft.id}/{path}", data={**page_fields(client, draft.id), **data},
                               follow_redirects=False)
        assert response.status_code == 303, response.text[-2000:]
        return client.get(response.headers["location"])

    page = post("items/move", url=second["url"], section="agenda", direction="up")
    assert "Enregistré" in body(page)
    assert [i["url"] for i in issue_of(settings, draft.id)["agenda"]][:2] == [second["url"], first["url"]]
    post("items/remove", url=first["url"])
    assert first["url"] not in [i["url"] for i in issue_of(settings, draft.id)["agenda"]]
    assert first["url"] not in (settings.outbox / draft.id / "newsletter.html").read_text(encoding="utf-8")
    page = post("items/restore", url=first["url"])
    assert first["url"] in [i["url"] for i in issue_of(settings, draft.id)["agenda"]]
    post("items/feature", url=second["url"], featured="1")
    assert second["url"] in [i["url"] for i in issue_of(settings, draft.id)["featured"]]
    post("items/feature", url=second["url"], featured="0")
    assert second["url"] not in [i["url"] for i in issue_of(settings, draft.id)["featured"]]
    slug, items = next(iter(issue_of(settings, draft.id)["news"].items()))
    target = "sante" if slug != "sante" else "emploi"
    post("items/category", url=items[0]["url"], category=target)
    assert items[0]["url"] in [i["url"] for i in issue_of(settings, draft.id)["news"][target]]
    # the correction is kept in the home for later runs (same URL, same series, training example)
    (correction,) = [c for c in store.corrections() if c["category"] == target]
    assert correction["actor"] == "camille" and correction["title"] == items[0]["title"]
    merged = draft.manifest["curation"]["merged"][0]
    page = post("unmerge", url=merged["absorbed_url"])
    assert "Fusion annulée" in body(page)
    post("editorial", editorial="Bonjour à toutes et à tous.\n\nLe programme : [notre agenda](https://www.irev.fr/agenda).")
    html = (settings.outbox / draft.id / "newsletter.html").read_text(encoding="utf-8")
    text = (settings.outbox / draft.id / "newsletter.txt").read_text(encoding="utf-8")
    assert re.search(r'<a href="https://www\.irev\.fr/agenda[^"]*"[^>]*>notre agenda</a>', html)
    assert "notre agenda (https://www.irev.fr/agenda)" in text
    posts = json.loads((settings.outbox / draft.id / "social.json").read_text(encoding="utf-8"))
    x_post = next(p for p in posts if p["platform"] == "x" and p["kind"] == "announcement")
    from newsletter.outbox.edits import social_key

    post("social", key=social_key(x_post), text="La lettre de novembre est parue https://www.irev.fr/lettre")
    posts = json.loads((settings.outbox / draft.id / "social.json").read_text(encoding="utf-8"))
    edited = next(p for p in posts if social_key(p) == social_key(x_post))
    assert edited["text"].startswith("La lettre de novembre") and edited["length"] == len("La lettre de novembre est parue ") + 23
    events = store.draft_events(draft.id)
    assert {e["actor"] for e in events[1:]} == {"camille"}
    notes = " | ".join(e["note"] or "" for e in events)
    for word in ("monté", "élément retiré", "élément remis", "mis « À la une »", "catégorie", "fusion annulée",
                 "éditorial modifié", "post X"):
        assert word in notes, word
    history = body(client.get(f"/drafts/{draft.id}"))
    assert "éditorial modifié" in history and "camille" in history


def test_the_draft_page_reads_the_taxonomy_once_and_sees_an_edit_at_the_next_load(app, ctx, tmp_path, monkeypatch):
    """The page needs the taxonomy (and its ~1,700 training pages) at each load: read once while the files
    are unchanged; an edit of the home's taxonomy.yaml shows at the next load."""
    from newsletter.curate import classify
    from newsletter.home import packaged_sources

    _, _, draft = ctx
    home = tmp_path / "centre"
    (home / "sources").mkdir(parents=True)
    taxonomy_file = home / "sources" / "taxonomy.yaml"
    text = (packaged_sources() / "taxonomy.yaml").read_text(encoding="utf-8")
    assert "\n  - slug: autres\n" in text
    taxonomy_file.write_text(text, encoding="utf-8")
    monkeypatch.setenv("NEWSLETTER_HOME", str(home))
    reads = []
    load_training = classify.load_training

    def counting(path):
        reads.append(path)
        return load_training(path)

    monkeypatch.setattr(classify, "load_training", counting)
    client = login(app)
    for _ in range(2):
        page = client.get(f"/drafts/{draft.id}")
        assert page.status_code == 200 and '<option value="sante"' in page.text
        assert 'value="budgets-participatifs"' not in page.text
    assert len(reads) == 1
    added = "\n  - slug: budgets-participatifs\n    label: Budgets participatifs\n    hashtags: []\n    keywords: [budget participatif]\n"
    taxonomy_file.write_text(text.replace("\n  - slug: autres\n", added + "  - slug: autres\n"), encoding="utf-8")
    page = client.get(f"/drafts/{draft.id}")
    assert '<option value="budgets-participatifs" >Budgets participatifs</option>' in page.text and len(reads) == 2
    client.get(f"/drafts/{draft.id}")
    assert len(reads) == 2


def _home_with_taxonomy(tmp_path, monkeypatch, text: str) -> Path:
    """A centre's home whose sources/taxonomy.yaml is ``text`` (the draft page reads the home's taxonomy)."""
    home = tmp_path / "centre"
    (home / "sources").mkdir(parents=True)
    path = home / "sources" / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("NEWSLETTER_HOME", str(home))
    return path


def _rubrics_help(doc):
    """The page's "Ce que couvre chaque rubrique" panels: (rubric label, the rest of its line) per rubric."""
    panels = doc.xpath('//details[normalize-space(summary)="Ce que couvre chaque rubrique"]')
    return panels, [[(li.findtext("strong"), li.text_content()[len(li.findtext("strong")):]) for li in d.iter("li")]
                    for d in panels]


def test_the_draft_page_explains_each_rubric_once(app, ctx, tmp_path, monkeypatch):
    """The officer choosing an item's category can read what each rubric covers: once per page in a
    folded panel above the items' sections (not repeated in each of the page's category choices:
    twelve descriptions in each of forty choices would weigh ~140 KB)."""
    import lxml.html

    from newsletter.curate.classify import Taxonomy
    from newsletter.home import packaged_sources

    _, _, draft = ctx
    path = _home_with_taxonomy(tmp_path, monkeypatch, (packaged_sources() / "taxonomy.yaml").read_text(encoding="utf-8"))
    taxonomy = Taxonomy.load(path)
    described = {c.slug: c.description for c in taxonomy.categories}
    assert all(described.values()) and len(described) == 12
    page = login(app).get(f"/drafts/{draft.id}")
    assert page.status_code == 200
    doc = lxml.html.fromstring(page.text)
    panels, rows = _rubrics_help(doc)
    assert len(panels) == 1 and panels[0].get("open") is None  # folded until she opens it
    assert rows[0] == [(c.label, " : " + c.description) for c in taxonomy.categories]
    text = panels[0].text_content()
    assert all(text.count(d) == 1 for d in described.values())
    # in the items' section, before its first rubric
    (section,) = doc.xpath('//section[@id="contenu-lettre"]')
    assert panels[0].getparent() is section and section.index(panels[0]) < section.index(section.find("h3"))
    selects = doc.xpath('//select[@name="category"]')
    assert len(selects) >= 5
    assert all(o.get("title") is None for select in selects for o in select.iter("option"))
    assert all(doc.text_content().count(d) == 1 for d in described.values())  # nowhere else on the page


def test_a_taxonomy_without_descriptions_still_renders_the_draft_page(app, ctx, tmp_path, monkeypatch):
    """A centre's taxonomy written before descriptions existed: the page shows the rubrics' labels alone
    (and the description of the one rubric that has one)."""
    import lxml.html

    from newsletter.home import packaged_sources

    _, _, draft = ctx
    shipped = (packaged_sources() / "taxonomy.yaml").read_text(encoding="utf-8")
    text = re.sub(r"\n    description: >-\n(?:      .*\n)+", "\n", shipped)
    assert "description:" not in text and "\n  - slug: sante\n" in text
    text = text.replace("\n  - slug: sante\n", "\n  - slug: sante\n    description: L'accès aux soins et la prévention.\n")
    _home_with_taxonomy(tmp_path, monkeypatch, text)
    page = login(app).get(f"/drafts/{draft.id}")
    assert page.status_code == 200
    doc = lxml.html.fromstring(page.text)
    panels, rows = _rubrics_help(doc)
    assert len(panels) == 1
    assert ("Santé", " : L'accès aux soins et la prévention.") in rows[0]
    assert [rest for label, rest in rows[0] if label != "Santé"] == [""] * 11
    selects = doc.xpath('//select[@name="category"]')
    assert selects and len(selects[0].findall("option")) == 12


def test_two_editors_saving_different_versions_one_wins_the_other_is_told(app, ctx):
    settings, store, draft = ctx
    alice, bob = login(app, "alice"), login(app, "bob")
    alice_fields, bob_fields = page_fields(alice, draft.id), page_fields(bob, draft.id)
    assert alice_fields["version"] == bob_fields["version"]
    response = alice.post(f"/drafts/{draft.id}/editorial", data={**alice_fields, "editorial": "Le texte d'Alice"},
                          follow_redirects=False)
    assert response.status_code == 303
    before = snapshot(settings, store, draft.id)
    response = bob.post(f"/drafts/{draft.id}/editorial", data={**bob_fields, "editorial": "Le texte de Bob"})
    assert response.status_code == 409
    assert "modifié entre-temps par alice" in body(response) and "l'éditorial a été modifié" in body(response)
    assert "Le texte de Bob" in body(response)  # his text is still in the box, not lost
    assert snapshot(settings, store, draft.id) == before
    assert issue_of(settings, draft.id)["editorial"] == "Le texte d'Alice"
    # approving what he saw is refused too
    response = bob.post(f"/drafts/{draft.id}/approve", data={**bob_fields, "comment": "ok"})
    assert response.status_code == 409 and "depuis que vous l'avez ouvert" in body(response)
    assert store.draft_status(draft.id) == "pending"


# -- bad input ---------------------------------------------------------------------------


def test_an_unknown_draft_is_a_french_404(app, ctx):
    client = login(app)
    for path in ("/drafts/2099-01-inconnu", "/drafts/..%2F..%2Fetc", "/drafts/2099-01-inconnu/preview.html",
                 "/nulle-part"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "introuvable" in body(response).lower() or "n'existe pas" in body(response).lower()
        assert '<html lang="fr">' in body(response)
    token = token_of(client, "/")
    response = client.post("/drafts/2099-01-inconnu/editorial", data={"csrftoken": token, "version": "0",
                                                                       "editorial": "x"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "editorial, message",
    [
        ("Bonjour <script>alert(1)</script>", "code HTML"),
        ('Voir <img src=x onerror="alert(1)">', "code HTML"),
        ("Cliquez onmouseover=alert(1) ici", "ressemble à du code"),
        ("[le site](javascript:alert(1))", "javascript:"),
        ("x" * 5001, "trop long"),
    ],
)
def test_an_editorial_that_could_break_the_email_is_refused(app, ctx, editorial, message):
    settings, store, draft = ctx
    client = login(app)
    before = snapshot(settings, store, draft.id)
    response = client.post(f"/drafts/{draft.id}/editorial", data={**page_fields(client, draft.id),
                                                                  "editorial": editorial})
    assert response.status_code == 400
    assert message in body(response).replace("&#39;", "'")
    assert snapshot(settings, store, draft.id) == before


def test_a_too_long_post_is_refused_with_413_and_changes_nothing(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    before = snapshot(settings, store, draft.id)
    response = client.post(f"/drafts/{draft.id}/editorial",
                           data={**page_fields(client, draft.id), "editorial": "x" * (MAX_BODY + 10)})
    assert response.status_code == 413 and "trop volumineux" in body(response)
    # the same without a Content-Length (streamed body)
    response = client.post(
        f"/drafts/{draft.id}/editorial",
        content=(chunk for chunk in [b"csrftoken=x&editorial=", b"y" * (MAX_BODY + 10)]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert snapshot(settings, store, draft.id) == before


# -- approval, rejection, proof ----------------------------------------------------------------


def test_a_post_over_its_limit_blocks_approval_until_fixed(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    posts = json.loads((settings.outbox / draft.id / "social.json").read_text(encoding="utf-8"))
    x_post = next(p for p in posts if p["platform"] == "x" and p["kind"] == "announcement")
    from newsletter.outbox.edits import social_key

    key = social_key(x_post)
    long_text = "Trop long " * 30  # 300 weighted characters
    response = client.post(f"/drafts/{draft.id}/social", data={**page_fields(client, draft.id), "key": key,
                                                              "text": long_text}, follow_redirects=False)
    assert response.status_code == 303  # saved, but flagged
    page = body(client.get(f"/drafts/{draft.id}"))
    assert "trop long de" in page and "la validation est bloquée" in page
    response = client.post(f"/drafts/{draft.id}/approve", data={**page_fields(client, draft.id), "comment": "ok",
                                                               "override_reason": "je sais"})
    assert response.status_code == 409 and "dépasse la limite" in body(response)
    assert store.draft_status(draft.id) == "pending"
    # the server counts as X does: the counter endpoint says the same
    token = page_fields(client, draft.id)["csrftoken"]
    counted = client.post("/api/social-length", json={"platform": "x", "text": long_text.strip()},
                          headers={"x-csrftoken": token}).json()
    assert counted == {"platform": "x", "length": 299, "limit": 280, "fits": False}
    assert client.post("/api/social-length", json={"platform": "x", "text": "a"}).status_code == 403
    client.post(f"/drafts/{draft.id}/social", data={**page_fields(client, draft.id), "key": key, "action": "reset"})
    response = client.post(f"/drafts/{draft.id}/approve",
                           data={**page_fields(client, draft.id), "comment": "Belle lettre",
                                 "override_reason": "liens externes injoignables depuis les tests"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[-3000:]
    assert store.draft_status(draft.id) == "approved"
    approval = store.draft_events(draft.id)[-1]
    assert approval["actor"] == "camille" and "Belle lettre" in approval["note"]
    assert "Lettre validée" in body(client.get(response.headers["location"]))


def test_reject_needs_a_reason_and_an_edit_returns_an_approved_draft_to_pending(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    response = client.post(f"/drafts/{draft.id}/reject", data={**page_fields(client, draft.id), "comment": ""})
    assert response.status_code == 400 and "raison du refus" in body(response)
    assert store.draft_status(draft.id) == "pending"
    response = client.post(f"/drafts/{draft.id}/reject",
                           data={**page_fields(client, draft.id), "comment": "Trop d'événements passés"},
                           follow_redirects=False)
    assert response.status_code == 303 and store.draft_status(draft.id) == "rejected"
    assert store.draft_events(draft.id)[-1]["note"] == "Trop d'événements passés"
    client.post(f"/drafts/{draft.id}/editorial", data={**page_fields(client, draft.id), "editorial": "Corrigé."})
    assert store.draft_status(draft.id) == "pending"


def test_a_proof_goes_to_the_editor_with_a_bat_subject_and_is_in_the_history(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    before_status = store.draft_status(draft.id)
    response = client.post(f"/drafts/{draft.id}/proof", data=page_fields(client, draft.id), follow_redirects=False)
    assert response.status_code == 303
    mails = list(Path(settings.mail_dir).glob("*.eml"))
    assert len(mails) == 1
    message = message_from_bytes(mails[0].read_bytes(), policy=policy.default)
    assert message["Subject"] == "[BAT] " + draft.manifest["subject"]
    assert message["To"] == "camille@example.org"
    assert {p.get_content_type() for p in message.walk()} >= {"text/plain", "text/html"}
    event = store.draft_events(draft.id)[-1]
    assert event["actor"] == "camille" and "BAT envoyé à camille@example.org" in event["note"]
    assert store.draft_status(draft.id) == before_status
    assert "BAT envoyé" in body(client.get(f"/drafts/{draft.id}"))


def test_the_drafts_list_shows_what_the_officer_needs(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    page = body(client.get("/"))
    assert draft.manifest["subject"] in page and f"/drafts/{draft.id}" in page
    assert "en attente de validation" in page and "novembre 2026" in page
    assert "40 éléments" in page
    assert "non vérifié" in page or "vérification" in page
    assert "pipeline" in page  # who did what last


# -- command line -------------------------------------------------------------------------------


def test_users_commands(ctx, monkeypatch, capsys):
    settings, store, _ = ctx
    monkeypatch.setattr("sys.stdin", io.StringIO("un autre mot de passe\n"))
    assert main(["users", "add", "dominique", "--email", "dominique@example.org", "--password-stdin"]) == 0
    assert auth.authenticate(store, "dominique", "un autre mot de passe", "test") is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("court\n"))
    assert main(["users", "add", "eve", "--password-stdin"]) == 2
    assert "trop court" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("un autre mot de passe\n"))
    assert main(["users", "add", "dominique", "--password-stdin"]) == 2
    assert "existe déjà" in capsys.readouterr().err
    auth.add_user(store, "local", None)
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "dominique".ljust(24) + " dominique@example.org" in out and "camille".ljust(24) + " camille@example.org" in out
    assert "local".ljust(24) + " —  (connexion par lien seulement)" in out
    stored = store.engine.connect().exec_driver_sql("select password_hash from users where name='dominique'").scalar()
    assert stored.startswith("$argon2id$")
    assert main(["users", "remove", "dominique"]) == 0
    assert auth.get_user(store, "dominique") is None
    assert main(["users", "remove", "dominique"]) == 2


def test_a_removed_account_is_logged_out(app, ctx):
    _, store, draft = ctx
    client = login(app, "bob")
    assert client.get("/").status_code == 200
    auth.remove_user(store, "bob")
    assert client.get(f"/drafts/{draft.id}", follow_redirects=False).status_code == 303


# -- the editorial: paragraphs and links, nothing else ------------------------------------------


def test_editorial_links_become_links_and_everything_else_is_escaped():
    from newsletter.render.newsletter import _paragraphs

    paras = _paragraphs("A & B : voir https://www.irev.fr/agenda.\n\n[Le programme](https://irev.fr/p?a=1&b=2) ici")
    assert str(paras[0]["html"]) == 'A &amp; B : voir <a href="https://www.irev.fr/agenda">https://www.irev.fr/agenda</a>.'
    assert paras[0]["text"] == "A & B : voir https://www.irev.fr/agenda."
    assert str(paras[1]["html"]) == '<a href="https://irev.fr/p?a=1&amp;b=2">Le programme</a> ici'
    assert paras[1]["text"] == "Le programme (https://irev.fr/p?a=1&b=2) ici"


def test_the_command_line_refuses_an_editorial_with_html_too(ctx, capsys):
    settings, store, draft = ctx
    before = snapshot(settings, store, draft.id)
    assert main(["outbox", "edit", draft.id, "--editorial", "<b onclick=x>Bonjour</b>"]) == 2
    assert "code HTML" in capsys.readouterr().err
    assert snapshot(settings, store, draft.id) == before


def test_the_public_unsubscribe_routes_need_no_login_and_no_csrf_token(ctx, monkeypatch):
    """The delivery issue's router (newsletter.web.unsubscribe) is open: a mail client POSTs one-click."""
    from fastapi import APIRouter
    from starlette.responses import PlainTextResponse

    from newsletter.web import app as web_app

    settings, store, draft = ctx
    router = APIRouter()
    seen = {}

    @router.get("/desabonnement/{token}")
    async def page(token: str, request: Request):
        seen["state"] = (request.app.state.settings, request.app.state.store)
        return PlainTextResponse("page publique")

    @router.post("/desabonnement/{token}")
    async def one_click(token: str):
        return PlainTextResponse("désinscrit")

    monkeypatch.setattr(web_app, "_unsubscribe_router", lambda: router)
    app = create_app(settings, store)
    client = TestClient(app)
    assert client.get("/desabonnement/abc").text == "page publique"
    assert seen["state"] == (settings, store)
    response = client.post("/desabonnement/abc", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and response.text == "désinscrit"
    # the rest stays closed
    assert client.get(f"/drafts/{draft.id}", follow_redirects=False).status_code == 303
    assert client.post(f"/drafts/{draft.id}/approve", data={"comment": "x"}).status_code == 403


def test_serve_on_loopback_makes_a_link_only_account_for_the_local_user(ctx, monkeypatch):
    from newsletter.cli import serve

    _, store, _ = ctx
    monkeypatch.setattr("newsletter.cli.default_actor", lambda: "officier-local")
    url, name, created = serve.local_login_url(store, "127.0.0.1", 8123)
    assert (name, created) == ("officier-local", True) and url.startswith("http://127.0.0.1:8123/login/link?token=")
    account = auth.get_user(store, "officier-local")
    assert account is not None and not account.has_password
    assert auth.authenticate(store, "officier-local", "", "test") is None  # no password login for it
    assert serve.is_loopback("127.0.0.1") and serve.is_loopback("::1") and not serve.is_loopback("0.0.0.0")


def test_the_draft_page_shows_the_delivery_counts_once_sent(ctx, app, tmp_path, monkeypatch):
    from newsletter.deliver import subscribers as subs
    from newsletter.deliver.engine import send_draft

    settings, store, draft = ctx
    for n in range(3):
        subs.add(store, f"abonne{n}@example.org", consent_source="test")
    subs.add(store, "parti@example.org", consent_source="test")
    subs.unsubscribe(store, "parti@example.org", actor="test")
    client = login(app)
    assert "Envoi aux abonnés" not in body(client.get(f"/drafts/{draft.id}"))
    outbox.transition(settings.outbox, store, draft.id, outbox.APPROVED, override_reason="hors ligne")
    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", "https://lettre.example.org")
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "secret-de-test")
    monkeypatch.setenv("NEWSLETTER_ARCHIVE", str(tmp_path / "archive"))
    summary = send_draft(Settings.from_env(), store, draft.id, actor="camille")
    assert summary.sent == 3
    page = body(client.get(f"/drafts/{draft.id}"))
    section = page.split('id="envoi"')[1].split("</section>")[0]
    assert "Envoyés : <strong>3</strong> sur 3" in section
    assert "Incertains (envoi interrompu) : 0" in section


def _inject_suggestion(settings, draft, pairs=((0, 1),)) -> list[dict]:
    """Give the draft likely-copy suggestions between its press items (by index, as dedupe writes them:
    the most similar first); returns the press items."""
    curated_path = settings.outbox / draft.id / "curated.json"
    curated = json.loads(curated_path.read_text(encoding="utf-8"))
    press = curated["issue"]["press"]
    entries = []
    for k, (i, j) in enumerate(pairs):
        a, b = press[i], press[j]
        sim = round(0.52 - 0.05 * k, 2)
        entries.append({"url": a["url"], "title": a["title"], "outlet": a.get("outlet"), "other_url": b["url"],
                        "other_title": b["title"], "other_outlet": b.get("outlet"), "kind": "press",
                        "reason": f"likely duplicate (similarity {sim})", "similarity": sim,
                        "explanation": "peut-être la même information : titres et résumés en partie communs ; "
                                       f"similarité {str(sim).replace('.', ',')}"})
    curated["curation"].setdefault("suggested", []).extend(entries)
    curated_path.write_text(json.dumps(curated, ensure_ascii=False), encoding="utf-8")
    manifest_path = settings.outbox / draft.id / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["curation"].setdefault("suggested", []).extend(entries)
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return press


@pytest.mark.parametrize("answer", ["confirm", "dismiss"])
def test_the_officer_confirms_or_dismisses_a_suggested_copy_in_one_click(ctx, app, answer):
    settings, store, draft = ctx
    a, b = _inject_suggestion(settings, draft)[:2]
    client = login(app)
    page = body(client.get(f"/drafts/{draft.id}"))
    assert "Peut-être la même information" in page and a["title"] in page and b["title"] in page
    fields = page_fields(client, draft.id)
    response = client.post(f"/drafts/{draft.id}/suggestions", data={**fields, "url": a["url"], "other_url": b["url"],
                                                                     "answer": answer}, follow_redirects=False)
    assert response.status_code == 303, body(response)
    press = [i["url"] for i in issue_of(settings, draft.id)["press"]]
    if answer == "confirm":
        assert a["url"] in press and b["url"] not in press
        html = (settings.outbox / draft.id / "newsletter.html").read_text(encoding="utf-8")
        assert "également dans" in html
        assert "Regroupées" in body(client.get(f"/drafts/{draft.id}"))
    else:
        assert a["url"] in press and b["url"] in press
        assert "Gardées séparées" in body(client.get(f"/drafts/{draft.id}"))
    # the answer is a versioned edit, in the history with the editor's name
    assert load_edits(store, draft.id).extra["suggestions"]
    assert store.draft_events(draft.id)[-1]["actor"] == "camille"


def test_suggestions_show_each_article_once_with_its_possible_copies(ctx, app):
    settings, store, draft = ctx
    a, b, c = _inject_suggestion(settings, draft, pairs=((0, 1), (2, 0)))[:3]  # a~b, then c~a: both under a
    client = login(app)
    page = body(client.get(f"/drafts/{draft.id}"))
    section = page.split('id="suggestions"', 1)[1].split("</section>", 1)[0]
    assert "2 rapprochement(s) à examiner" in section
    assert section.count(f"« {a['title']} »") == 1  # the article, once, with its two possible copies
    assert f"et « {b['title']} »" in section and f"et « {c['title']} »" in section
    assert section.index(b["title"]) < section.index(c["title"])  # the most similar first
    fields = page_fields(client, draft.id)
    response = client.post(f"/drafts/{draft.id}/suggestions", data={**fields, "url": c["url"], "other_url": a["url"],
                                                                     "answer": "dismiss"}, follow_redirects=False)
    assert response.status_code == 303, body(response)
    section = body(client.get(f"/drafts/{draft.id}")).split('id="suggestions"', 1)[1].split("</section>", 1)[0]
    assert "1 rapprochement(s) à examiner" in section and "Gardées séparées" in section


# -- the posting plan (calendar) ---------------------------------------------------------------


def planned_posts(settings, draft_id: str) -> list[dict]:
    return json.loads((settings.outbox / draft_id / "social.json").read_text(encoding="utf-8"))


def plan_json(settings, draft_id: str) -> dict:
    return json.loads((settings.outbox / draft_id / "plan.json").read_text(encoding="utf-8"))


def buffer_rows(settings, draft_id: str, channel: str) -> list[dict]:
    import csv

    text = (settings.outbox / draft_id / "buffer" / f"{channel}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def linkedin_resource(settings, draft_id: str) -> dict:
    """A LinkedIn post about a resource planned in December (no event date to keep)."""
    return next(p for p in planned_posts(settings, draft_id) if p["channel"] == "linkedin"
                and p.get("item_kind") == "resource" and p["scheduled_at"].startswith("2026-12-08"))


def plan_post(client, draft_id: str, route: str, /, **data):
    return client.post(f"/drafts/{draft_id}/plan/{route}", data={**page_fields(client, draft_id), **data},
                       follow_redirects=False)


FREE_SLOT = ("2026-12-04", "14:30")  # a Friday with no LinkedIn post, in a week of four


def test_the_draft_page_shows_the_plan_as_a_calendar_grouped_by_french_days(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    page = body(client.get(f"/drafts/{draft.id}"))
    calendar = page.split('id="calendrier"')[1].split("</section>")[0]
    assert "Calendrier des publications" in calendar
    days = re.findall(r'<h3 class="plan-day-label">([^<]+)</h3>', calendar)
    assert days[0] == "lundi 23 novembre 2026" and "mardi 1er décembre 2026" in days
    assert "samedi" not in " ".join(days) and "dimanche" not in " ".join(days)
    for label in ("annonce de la lettre", "événement", "rappel d'inscription", "à la une", "ressource",
                  "LinkedIn", "X", "10 h", "Déplacer", "Retirer du plan", "Laissés de côté", "Programmer",
                  "Ajouter un post"):
        assert label in calendar, label
    posts = planned_posts(settings, draft.id)
    x_post = next(p for p in posts if p["channel"] == "x" and p["kind"] == "announcement")
    assert x_post["text"] in calendar and 'data-platform="x" data-limit="280"' in calendar
    # the candidates left out for lack of room are listed with the slot "Programmer" would take
    left = [p for p in plan_json(settings, draft.id)["left_out"] if p["reason"] == "next_letter"]
    assert left and left[0]["title"] in calendar and "premier créneau libre" in calendar


def test_the_officer_moves_a_post_and_social_json_and_the_buffer_csv_follow(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    post = linkedin_resource(settings, draft.id)
    assert not any(p["channel"] == "linkedin" and p["scheduled_at"].startswith(FREE_SLOT[0])
                   for p in planned_posts(settings, draft.id))
    response = plan_post(client, draft.id, "move", post_id=post["id"], date=FREE_SLOT[0], time=FREE_SLOT[1])
    assert response.status_code == 303, body(response)[-2000:]
    page = body(client.get(response.headers["location"]))
    assert "déplacé au vendredi 4 décembre 2026 à 14 h 30" in page
    moved = next(p for p in planned_posts(settings, draft.id) if p["id"] == post["id"])
    assert moved["scheduled_at"] == "2026-12-04T14:30:00+01:00"
    row = next(r for r in buffer_rows(settings, draft.id, "linkedin") if r["Text"] == post["text"])
    assert row["Posting Time"] == "2026-12-04 14:30"
    day = page.split("vendredi 4 décembre 2026</h3>")[1].split('class="plan-day"')[0]
    assert post["title"] in day and "14 h 30" in day
    assert load_edits(store, draft.id).extra["plan"]["posts"][post["id"]]["scheduled_at"] == "2026-12-04T14:30"
    assert "camille" == store.draft_events(draft.id)[-1]["actor"]


@pytest.mark.parametrize("when, message", [
    (("2026-12-05", "10:00"), "samedi 5 décembre 2026 est un week-end"),
    (("2026-12-04", "21:00"), "hors des heures de bureau"),
    (("2026-12-25", "10:00"), "jour férié"),
    (("2026-12-01", "10:00"), "au plus 1 par jour"),
    (("2026-12-04", "after-event"), "doit partir avant l'événement"),
])
def test_a_move_that_breaks_a_rule_is_refused_in_french_naming_the_post(app, ctx, when, message):
    settings, store, draft = ctx
    client = login(app)
    post = linkedin_resource(settings, draft.id)
    day, hour = when
    if hour == "after-event":  # an event's post moved after the event
        post = next(p for p in planned_posts(settings, draft.id) if p["channel"] == "linkedin"
                    and p["kind"] == "item" and (p.get("before") or "").startswith("2026-12-02"))
        hour = "14:30"
    before = snapshot(settings, store, draft.id)
    response = plan_post(client, draft.id, "move", post_id=post["id"], date=day, time=hour)
    assert response.status_code == 400
    error = body(response).split('id="error"')[1].split("</div>")[0]
    assert message in error and post["title"][:40] in error and "LinkedIn" in error
    assert snapshot(settings, store, draft.id) == before


def test_a_text_over_x_limit_is_refused_and_a_good_one_saved(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    x_post = next(p for p in planned_posts(settings, draft.id) if p["channel"] == "x" and p["kind"] == "item")
    before = snapshot(settings, store, draft.id)
    response = plan_post(client, draft.id, "edit", post_id=x_post["id"], text="Trop long " * 30)
    assert response.status_code == 400
    assert "au-delà de la limite de 280 de X" in body(response) and x_post["title"][:40] in body(response)
    assert "Trop long Trop long" in body(response)  # her text is still in the box
    assert snapshot(settings, store, draft.id) == before
    response = plan_post(client, draft.id, "edit", post_id=x_post["id"], text="Plus court : https://www.irev.fr/x")
    assert response.status_code == 303
    saved = next(p for p in planned_posts(settings, draft.id) if p["id"] == x_post["id"])
    assert saved["text"] == "Plus court : https://www.irev.fr/x" and saved["length"] == len("Plus court : ") + 23
    assert saved["scheduled_at"] == x_post["scheduled_at"]
    assert "texte modifié" in body(client.get(f"/drafts/{draft.id}"))
    plan_post(client, draft.id, "edit", post_id=x_post["id"], action="reset")
    assert next(p for p in planned_posts(settings, draft.id) if p["id"] == x_post["id"])["text"] == x_post["text"]


def test_a_removed_post_leaves_social_json_shows_as_removed_and_can_be_put_back(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    post = linkedin_resource(settings, draft.id)
    response = plan_post(client, draft.id, "remove", post_id=post["id"])
    assert response.status_code == 303
    assert post["id"] not in {p["id"] for p in planned_posts(settings, draft.id)}
    assert post["text"] not in {r["Text"] for r in buffer_rows(settings, draft.id, "linkedin")}
    assert [p["id"] for p in plan_json(settings, draft.id)["removed"]] == [post["id"]]
    page = body(client.get(f"/drafts/{draft.id}"))
    removed = page.split("Retirés par vous")[1]
    assert post["title"] in removed.split("</li>")[0] and "Remettre dans le plan" in removed
    response = plan_post(client, draft.id, "restore", post_id=post["id"])
    assert response.status_code == 303
    back = next(p for p in planned_posts(settings, draft.id) if p["id"] == post["id"])
    assert back["scheduled_at"] == post["scheduled_at"] and plan_json(settings, draft.id)["removed"] == []


def test_the_officer_schedules_a_left_out_candidate_and_adds_her_own_post(app, ctx):
    settings, store, draft = ctx
    client = login(app)
    page = client.get(f"/drafts/{draft.id}").text
    # "Programmer": the form carries the free slot the page proposes
    left = next(p for p in plan_json(settings, draft.id)["left_out"] if p["reason"] == "next_letter"
                and p["channel"] == "x")
    form = page.split(f'name="from_id" value="{left["id"]}"')[1].split("</form>")[0]
    day = re.search(r'name="date" value="([^"]+)"', form).group(1)
    hour = re.search(r'name="time" value="([^"]+)"', form).group(1)
    response = plan_post(client, draft.id, "add", from_id=left["id"], channel="x", date=day, time=hour)
    assert response.status_code == 303, body(response)[-2000:]
    added = next(p for p in planned_posts(settings, draft.id) if p["id"] == left["id"])
    assert added["scheduled_at"].startswith(f"{day}T{hour}") and added["text"] == left["text"] and added["added"]
    assert left["id"] not in {p["id"] for p in plan_json(settings, draft.id)["left_out"]}
    # her own post, about the letter: validated like the others
    announcement = next(p for p in planned_posts(settings, draft.id) if p["channel"] == "linkedin"
                        and p["kind"] == "announcement")
    before = snapshot(settings, store, draft.id)
    response = plan_post(client, draft.id, "add", channel="linkedin", item="announcement", date="2026-12-05",
                         time="10:00", text="")
    assert response.status_code == 400 and "week-end" in body(response)
    assert snapshot(settings, store, draft.id) == before
    response = plan_post(client, draft.id, "add", channel="linkedin", item="announcement", date="2026-12-04",
                         time="16:00", text="")
    assert response.status_code == 303, body(response)[-2000:]
    mine = next(p for p in planned_posts(settings, draft.id) if p["id"].startswith("linkedin:added:"))
    assert mine["text"] == announcement["text"]  # prefilled from the letter's announcement
    assert mine["scheduled_at"] == "2026-12-04T16:00:00+01:00" and mine["title"] == announcement["title"]
    assert "2026-12-04 16:00" in {r["Posting Time"] for r in buffer_rows(settings, draft.id, "linkedin")}
    response = plan_post(client, draft.id, "add", channel="x", item="", date="2026-12-04", time="16:00",
                         text="Un post " * 40)
    assert response.status_code == 400 and "au-delà de la limite de 280 de X" in body(response)


def _proposed_slots(client, settings, draft_id) -> dict[str, datetime]:
    """The slot each left-out candidate's "Programmer" form proposes."""
    page = client.get(f"/drafts/{draft_id}").text
    slots = {}
    for candidate in plan_json(settings, draft_id)["left_out"]:
        if f'name="from_id" value="{candidate["id"]}"' not in page:
            continue
        form = page.split(f'name="from_id" value="{candidate["id"]}"')[1].split("</form>")[0]
        day = re.search(r'name="date" value="([^"]+)"', form)
        hour = re.search(r'name="time" value="([^"]+)"', form)
        if day and hour:
            slots[candidate["id"]] = datetime.fromisoformat(f"{day.group(1)}T{hour.group(1)}").replace(
                tzinfo=ZoneInfo("Europe/Paris"))
    return slots


def test_a_draft_opened_late_proposes_slots_to_come_and_refuses_a_past_time(app, ctx):
    """Opened after the slot "Programmer" first proposed: it proposes one still to come; and moving,
    adding or putting back a post at a time already past is refused (Buffer would post it at once)."""
    settings, store, draft = ctx
    early = _proposed_slots(login(app), settings, draft.id)
    assert early
    first = min(early.values())
    opened = first + timedelta(minutes=1)
    late = _proposed_slots(login(create_app(settings, store, clock=lambda: opened)), settings, draft.id)
    # a candidate whose period is over gets no proposal; every other one a slot to come
    assert late and set(late) <= set(early) and all(slot > opened for slot in late.values())
    noon = datetime(2026, 12, 3, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))
    client = login(create_app(settings, store, clock=lambda: noon))
    post = linkedin_resource(settings, draft.id)
    before = snapshot(settings, store, draft.id)
    response = plan_post(client, draft.id, "move", post_id=post["id"], date="2026-12-03", time="10:00")
    assert response.status_code == 400
    error = body(response).split('id="error"')[1].split("</div>")[0]
    assert "jeudi 3 décembre 2026 à 10 h est déjà passé" in error and post["title"][:40] in error
    response = plan_post(client, draft.id, "add", channel="linkedin", item="announcement", date="2026-12-02",
                         time="16:00", text="")
    assert response.status_code == 400 and "est déjà passé" in body(response)
    assert snapshot(settings, store, draft.id) == before
    # a post removed from the plan whose time has passed cannot be put back there
    past = next(p for p in planned_posts(settings, draft.id) if p["channel"] == "linkedin"
                and datetime.fromisoformat(p["scheduled_at"]) < noon)
    assert plan_post(client, draft.id, "remove", post_id=past["id"]).status_code == 303
    response = plan_post(client, draft.id, "restore", post_id=past["id"])
    assert response.status_code == 400 and "est déjà passé" in body(response)
    # a time to come is accepted
    response = plan_post(client, draft.id, "move", post_id=post["id"], date=FREE_SLOT[0], time=FREE_SLOT[1])
    assert response.status_code == 303, body(response)[-2000:]


def test_a_stale_plan_change_is_refused(app, ctx):
    settings, store, draft = ctx
    alice, bob = login(app, "alice"), login(app, "bob")
    bob_fields = page_fields(bob, draft.id)
    post = linkedin_resource(settings, draft.id)
    assert plan_post(alice, draft.id, "remove", post_id=post["id"]).status_code == 303
    before = snapshot(settings, store, draft.id)
    response = bob.post(f"/drafts/{draft.id}/plan/move", data={**bob_fields, "post_id": post["id"],
                                                                "date": FREE_SLOT[0], "time": FREE_SLOT[1]})
    assert response.status_code == 409 and "modifié entre-temps par alice" in body(response)
    assert snapshot(settings, store, draft.id) == before


def test_the_plan_routes_are_csrf_checked_and_approval_covers_the_moved_post(app, ctx):
    from newsletter.outbox.drafts import latest_approval

    settings, store, draft = ctx
    assert {f"/drafts/{{draft_id}}/plan/{a}" for a in ("move", "edit", "remove", "add", "restore")} <= set(post_routes(app))
    client = login(app)
    post = linkedin_resource(settings, draft.id)
    assert plan_post(client, draft.id, "move", post_id=post["id"], date=FREE_SLOT[0], time=FREE_SLOT[1]).status_code == 303
    response = client.post(f"/drafts/{draft.id}/approve",
                           data={**page_fields(client, draft.id), "comment": "Plan relu",
                                 "override_reason": "liens externes injoignables depuis les tests"},
                           follow_redirects=False)
    assert response.status_code == 303, body(response)[-2000:]
    assert store.draft_status(draft.id) == "approved"
    approved = latest_approval(store, draft.id).read(outbox.load_draft(settings.outbox, draft.id, store),
                                                     "buffer/linkedin.csv").decode("utf-8")
    import csv

    row = next(r for r in csv.DictReader(io.StringIO(approved)) if r["Text"] == post["text"])
    assert row["Posting Time"] == "2026-12-04 14:30"
    # a change to the plan after approval sends the draft back to pending, like any edit
    assert plan_post(client, draft.id, "remove", post_id=post["id"]).status_code == 303
    assert store.draft_status(draft.id) == "pending"
