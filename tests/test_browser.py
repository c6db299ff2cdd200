"""The sample month in headless Chromium at 600 px and 375 px: no horizontal overflow,
every section visible, readable with images off. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsletter.render.branding import load_branding
from newsletter.models import Issue
from newsletter.render.newsletter import render_newsletter

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SECTIONS = ["Édito", "À la une", "Agenda", "Actualités", "Ressources", "Revue de presse"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    # A browser test that cannot run fails: it never skips.
    assert CHROMIUM.exists(), f"Chromium is required for the browser tests and is not at {CHROMIUM}: apt-get install chromium"
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def html():
    issue = Issue.from_dict(json.loads((ROOT / "tests" / "data" / "render_issue.json").read_text(encoding="utf-8")))
    return render_newsletter(issue, load_branding()).html


@pytest.mark.parametrize("width", [600, 375])
def test_sample_month_renders_without_overflow(browser, html, server, width):
    server.add("/lettre.html", html, headers={"Content-Type": "text/html; charset=utf-8"})
    page = browser.new_page(viewport={"width": width, "height": 900})
    # No internet: external images (logo, illustrations) are blocked, as with images off.
    page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
    try:
        page.goto(server.url("/lettre.html"), wait_until="load")
        overflow = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert overflow[0] <= overflow[1], f"horizontal overflow at {width}px: {overflow}"
        for title in SECTIONS:
            heading = page.get_by_role("heading", name=title, exact=True)
            assert heading.is_visible(), title
            box = heading.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, title
        # With images blocked, the logo's alt text and all the text remain.
        assert page.get_by_role("heading", name="La lettre de l'IREV").is_visible()
        assert page.get_by_role("link", name="Se désinscrire de la lettre").is_visible()
        buttons = page.get_by_role("link", name="S'inscrire", exact=True)
        assert buttons.count() >= 5 and buttons.first.is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"newsletter-{width}px.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        page.close()
