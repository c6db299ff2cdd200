"""The officer's review walk in headless Chromium, against a real uvicorn server on 127.0.0.1.

Log in, open the sample draft, remove an item, move one up, feature one, write
an editorial; in the posting plan's calendar, push an X post past 280 (the
counter warns, saving is refused), fix it, move a post, remove one, add one;
ask for a proof (it reaches a local aiosmtpd server),
approve. Screenshots at 1280 and 375 px go to test-artifacts/, and the ones
the officer's guide shows to docs/img/. Fails, never skips, without Chromium.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from httpserver import LocalServer, free_port

from newsletter.pipeline import run_monthly
from newsletter.render.frformat import format_date_fr
from newsletter.samples import build_sample_site
from newsletter.settings import Settings
from newsletter.store import Store
from newsletter.web import auth
from newsletter.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
DOC_IMAGES = ROOT / "docs" / "img"
TODAY = date(2026, 11, 23)
# the officer reviews the draft the morning it was made (the plan's days are still to come)
OPENED = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
PASSWORD = "un mot de passe solide"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


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
def home(tmp_path, smtp):
    controller, _ = smtp
    root = tmp_path / "site"
    site = LocalServer(root).start()
    try:
        sources = build_sample_site(root, TODAY, base_url=site.base_url)
        env = {
            "NEWSLETTER_OUTBOX": str(tmp_path / "outbox"),
            "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "NEWSLETTER_TRANSPORT": "smtp",
            "NEWSLETTER_SMTP_HOST": "127.0.0.1",
            "NEWSLETTER_SMTP_PORT": str(controller.port),
        }
        settings = Settings.from_env(env)
        draft = run_monthly(sources, month=TODAY.replace(day=1), today=TODAY, settings=settings)
    finally:
        site.stop()
    store = Store(settings.database_url)
    auth.add_user(store, "camille", PASSWORD, email="camille@irev.example")
    return settings, store, draft


@pytest.fixture
def server(home):
    import uvicorn

    settings, store, _ = home
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, store, clock=lambda: OPENED), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn stopped"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    assert CHROMIUM.exists(), (
        f"Chromium is required for the browser tests and is not at {CHROMIUM}: apt-get install chromium"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def _only_local(route):
    # No internet: the newsletter's external images are refused, as with images off.
    if route.request.url.startswith(("http://127.0.0.1", "data:")):
        route.continue_()
    else:
        route.abort()


def _no_horizontal_overflow(page, width: int) -> None:
    scroll, client = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    if scroll > client:
        culprits = page.evaluate(
            """(w) => Array.from(document.querySelectorAll('body *'))
                 .filter(e => e.getBoundingClientRect().right > w + 1 || e.scrollWidth > w + 1)
                 .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + (e.id || '') + ' '
                                   + Math.round(e.getBoundingClientRect().right))""",
            client,
        )
        raise AssertionError(f"horizontal overflow at {width}px: {scroll} > {client}: {culprits}")


def _shot(target, name: str, *, doc: bool = False, **kwargs) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target.screenshot(path=str(ARTIFACTS / name), **kwargs)
    assert (ARTIFACTS / name).stat().st_size > 5_000
    if doc:
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(DOC_IMAGES / name), **kwargs)


def _issue(settings, draft_id: str) -> dict:
    return json.loads((settings.outbox / draft_id / "issue.json").read_text(encoding="utf-8"))


def _social(settings, draft_id: str) -> list[dict]:
    return json.loads((settings.outbox / draft_id / "social.json").read_text(encoding="utf-8"))


def _free_day(posts: list[dict], channel: str, moving: str | None = None) -> date:
    """A weekday of the plan (23 November – 22 December 2026, no public holiday in it) without a post on
    ``channel`` in a week with fewer than five (the default caps), ``moving`` not counted."""
    taken = [date.fromisoformat(p["scheduled_at"][:10]) for p in posts if p["channel"] == channel and p["id"] != moving]
    day = date(2026, 11, 24)
    while day <= date(2026, 12, 22):
        week = sum(1 for t in taken if t.isocalendar()[:2] == day.isocalendar()[:2])
        if day.weekday() < 5 and day not in taken and week < 5:
            return day
        day += timedelta(days=1)
    raise AssertionError(f"no free day for {channel} in the sample plan")


def _saved(page) -> None:
    status = page.locator(".notice-success")
    status.first.wait_for()
    assert "Enregistré" in status.first.inner_text()


def test_the_officer_reviews_edits_proofs_and_approves_the_sample_draft(browser, server, home, smtp):
    settings, store, draft = home
    _, mailbox = smtp
    issue = _issue(settings, draft.id)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.route("**/*", _only_local)
    try:
        # -- log in: the review page sends an anonymous visitor to the login form
        page.goto(f"{server}/drafts/{draft.id}")
        assert page.url.startswith(f"{server}/login")
        page.get_by_label("Nom d'utilisateur").fill("camille")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        _shot(page, "connexion-1280.png", doc=True)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{server}/drafts/{draft.id}")

        # -- the drafts list
        page.goto(server + "/")
        assert page.get_by_role("link", name=draft.manifest["subject"]).is_visible()
        assert page.get_by_text("en attente de validation").first.is_visible()
        _no_horizontal_overflow(page, 1280)
        _shot(page, "liste-brouillons-1280.png", doc=True)
        page.get_by_role("link", name=draft.manifest["subject"]).click()
        page.wait_for_url(f"{server}/drafts/{draft.id}")

        # -- the draft page: preview at desktop width, switchable to phone
        frame = page.locator("#preview-frame")
        assert frame.get_attribute("width") == "600"
        assert page.frame_locator("#preview-frame").get_by_role("heading", name="Agenda", exact=True).is_visible()
        _no_horizontal_overflow(page, 1280)
        _shot(page, "brouillon-1280.png", doc=True)
        # keyboard: the first Tab reaches the skip link; the width switch works with Enter
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Aller au contenu"
        page.get_by_role("button", name="Téléphone (375 px)").focus()
        page.keyboard.press("Enter")
        assert frame.get_attribute("width") == "375"
        assert page.get_by_role("button", name="Téléphone (375 px)").get_attribute("aria-pressed") == "true"
        assert frame.bounding_box()["width"] <= 380
        _shot(page.locator(".preview-col"), "apercu-telephone-1280.png", doc=True)
        page.get_by_role("button", name="Ordinateur (600 px)").click()

        # -- remove an item
        victim = issue["agenda"][0]
        with page.expect_navigation():  # the POST, its redirect and the page's reload
            page.get_by_role("button", name=f"Retirer « {victim['title']} » de la lettre").click()
        _saved(page)
        assert victim["url"] not in [i["url"] for i in _issue(settings, draft.id)["agenda"]]
        assert page.get_by_role("button", name=f"Remettre « {victim['title']} » dans la lettre").is_visible()

        # -- move one up
        agenda = _issue(settings, draft.id)["agenda"]
        with page.expect_navigation():  # the POST, its redirect and the page's reload
            page.get_by_role("button", name=f"Monter « {agenda[1]['title']} »").click()
        _saved(page)
        assert _issue(settings, draft.id)["agenda"][0]["url"] == agenda[1]["url"]

        # -- feature one
        chosen = issue["resources"][0]
        with page.expect_navigation():  # the POST, its redirect and the page's reload
            page.get_by_role("button", name=f"Mettre « À la une » : « {chosen['title']} »").click()
        _saved(page)
        assert chosen["url"] in [i["url"] for i in _issue(settings, draft.id)["featured"]]
        section = page.locator("#contenu-lettre")
        section.scroll_into_view_if_needed()
        page.evaluate("() => document.getElementById('contenu-lettre').scrollIntoView()")
        box = section.bounding_box()
        _shot(page, "contenu-1280.png", doc=True,
              clip={"x": box["x"], "y": max(box["y"], 0), "width": box["width"], "height": 860 - max(box["y"], 0)})

        # -- write an editorial with a link: it shows in the preview
        page.get_by_label("Texte de l'éditorial").fill(
            "Chères et chers partenaires,\n\nCe mois-ci, les rencontres du réseau reprennent :"
            " [inscrivez-vous](https://www.irev.fr/agenda)."
        )
        with page.expect_navigation():  # the POST, its redirect and the page's reload
            page.get_by_role("button", name="Enregistrer l'éditorial").click()
        _saved(page)
        preview = page.frame_locator("#preview-frame")
        assert preview.get_by_text("Chères et chers partenaires,").is_visible()
        assert preview.get_by_role("link", name="inscrivez-vous").is_visible()
        _shot(page.locator("#editorial"), "editorial-1280.png", doc=True)

        # -- the posting plan: a calendar list grouped by French day labels
        calendar = page.locator("#calendrier")
        calendar.scroll_into_view_if_needed()
        days = calendar.locator(".plan-day-label").all_inner_texts()
        assert days[0].lower() == "lundi 23 novembre 2026" and "mardi 1er décembre 2026" in [d.lower() for d in days]
        assert not any(d.lower().startswith(("samedi", "dimanche")) for d in days)
        page.evaluate("() => document.getElementById('calendrier').scrollIntoView()")
        box = calendar.bounding_box()
        _shot(page, "calendrier-1280.png", doc=True,
              clip={"x": box["x"], "y": max(box["y"], 0), "width": box["width"], "height": 860 - max(box["y"], 0)})

        # -- an X post past 280: the counter turns red, saving is refused with the platform's limit
        x_post = calendar.locator('li.plan-post[data-platform="x"]').first
        area = x_post.locator("textarea")
        counter = x_post.locator(".counter")
        too_long = "Nouvelle lettre ! " * 16 + "https://www.irev.fr/lettre"
        area.fill(too_long)
        page.wait_for_function(
            "el => el.classList.contains('over')", arg=counter.element_handle(), timeout=5000
        )
        assert "trop long de" in counter.inner_text()
        time.sleep(0.6)  # the server's count (same code as the checks) arrives
        assert counter.locator(".count").inner_text() == "311"
        _shot(x_post, "compteur-x-1280.png", doc=True)
        x_post.get_by_role("button", name="Enregistrer le texte").click()
        error = page.locator("#error")
        error.wait_for()
        assert "au-delà de la limite de 280 de X" in error.inner_text()
        assert store.draft_status(draft.id) == "pending"

        # -- fix it: back under the limit
        x_post = page.locator('#calendrier li.plan-post[data-platform="x"]').first
        x_post.locator("textarea").fill("La lettre de novembre est parue : https://www.irev.fr/lettre")
        assert "over" not in (x_post.locator(".counter").get_attribute("class") or "")
        with page.expect_navigation():  # the POST, its redirect and the page's reload
            x_post.get_by_role("button", name="Enregistrer le texte").click()
        _saved(page)
        assert page.locator("#blocked-social").count() == 0

        # -- move a post to a free Friday afternoon
        posts = _social(settings, draft.id)
        resource = next(p for p in posts if p["channel"] == "linkedin" and p.get("item_kind") == "resource"
                        and not p.get("featured"))
        free = _free_day(posts, "linkedin", resource["id"])
        card = page.locator(f'li.plan-post[data-post-id="{resource["id"]}"]')
        card.locator('input[type="date"]').fill(free.isoformat())
        card.locator('input[type="time"]').fill("14:30")
        with page.expect_navigation():  # the POST, its redirect and the page's reload
            card.get_by_role("button", name="Déplacer").click()
        _saved(page)
        assert f"{format_date_fr(free)} à 14 h 30" in page.locator(".notice-success").first.inner_text()
        moved = next(p for p in _social(settings, draft.id) if p["id"] == resource["id"])
        assert moved["scheduled_at"] == f"{free.isoformat()}T14:30:00+01:00"
        assert resource["title"] in page.locator(f'.plan-day[data-day="{free.isoformat()}"]').inner_text()

        # -- remove one: it shows under "Laissés de côté", with a way to put it back
        other = [p for p in _social(settings, draft.id) if p["channel"] == "linkedin" and p["kind"] == "item"
                 and p["id"] != resource["id"]][-1]
        with page.expect_navigation():  # the POST, its redirect and the page's reload
            page.locator(f'li.plan-post[data-post-id="{other["id"]}"]').get_by_role("button", name="Retirer du plan").click()
        _saved(page)
        assert other["id"] not in {p["id"] for p in _social(settings, draft.id)}
        removed = page.locator(f'li.plan-removed[data-post-id="{other["id"]}"]')
        assert removed.get_by_role("button", name="Remettre dans le plan").is_visible()

        # -- add one: an item the plan left out, on X; its X text comes prefilled
        plan = json.loads((settings.outbox / draft.id / "plan.json").read_text(encoding="utf-8"))
        news = next(p for p in plan["left_out"] if p["channel"] == "x" and p["reason"] == "not_candidate")
        form = page.locator("#plan-add-form")
        form.get_by_label("Réseau").select_option("x")
        form.get_by_label("Élément à promouvoir").select_option(news["item_url"])
        assert form.locator("textarea").input_value() == news["text"]
        assert form.locator('textarea').get_attribute("data-limit") == "280"
        free = _free_day(_social(settings, draft.id), "x")
        form.locator("#add-date").fill(free.isoformat())
        form.locator("#add-time").fill("16:00")
        with page.expect_navigation():  # the POST, its redirect and the page's reload
            form.get_by_role("button", name="Ajouter au plan").click()
        _saved(page)
        added = next(p for p in _social(settings, draft.id) if p["id"] == news["id"])
        assert added["scheduled_at"] == f"{free.isoformat()}T16:00:00+01:00" and added["text"] == news["text"]
        assert news["title"] in page.locator(f'.plan-day[data-day="{free.isoformat()}"]').inner_text()

        # -- a proof to her own address, through the configured SMTP server
        page.get_by_role("button", name="M'envoyer un BAT").click()
        page.locator(".notice-success").first.wait_for()
        assert "BAT envoyé à camille@irev.example" in page.locator(".notice-success").first.inner_text()
        deadline = time.monotonic() + 10
        while not mailbox.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(mailbox.messages) == 1
        proof = mailbox.messages[0]
        assert proof["Subject"].startswith("[BAT] ") and proof["To"] == "camille@irev.example"
        assert "BAT envoyé" in page.locator("#historique").inner_text()

        _shot(page.locator("#validation"), "validation-1280.png", doc=True)

        # -- approve (with a reason if a pre-send check fails here: no internet for the links)
        page.get_by_label("Commentaire (facultatif)").fill("Relu, merci !")
        page.get_by_role("button", name="Valider la lettre").click()
        page.wait_for_load_state()
        if store.draft_status(draft.id) != "approved":
            assert page.locator("#error").is_visible()
            page.get_by_label("Valider malgré une vérification en échec : raison (facultatif)").fill(
                "Liens externes injoignables depuis la machine de test"
            )
            page.get_by_label("Commentaire (facultatif)").fill("Relu, merci !")
            page.get_by_role("button", name="Valider la lettre").click()
            page.wait_for_load_state()
        assert store.draft_status(draft.id) == "approved"
        assert page.locator("#draft-status").inner_text() == "validé"
        assert "Lettre validée" in page.locator(".notice-success").first.inner_text()
        history = page.locator("#historique").inner_text()
        assert "camille" in history and "Relu, merci !" in history
        _shot(page.locator("#validation"), "validee-1280.png")

        # -- readable at 768 px and at 375 px
        for width in (768, 375):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{server}/drafts/{draft.id}")
            _no_horizontal_overflow(page, width)
            assert page.get_by_role("heading", name="Contenu de la lettre").is_visible()
        _shot(page, "brouillon-375.png", doc=True)
        page.evaluate("() => document.getElementById('calendrier').scrollIntoView()")
        _shot(page, "calendrier-375.png", doc=True)
        page.goto(server + "/")
        _no_horizontal_overflow(page, 375)
        _shot(page, "liste-brouillons-375.png")
    finally:
        context.close()
