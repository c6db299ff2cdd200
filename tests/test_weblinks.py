"""Only web links: the fetcher reads http(s) only, and nothing but http(s) or mailto reaches a subscriber."""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin
from datetime import date
from pathlib import Path

import pytest

from newsletter.collect.collector import collect_source, normalize_result
from newsletter.collect.fetch import Fetcher, FetchError
from newsletter.collect.sources import Source, SourcesError, load_sources
from newsletter.models import ERROR_INVALID_SOURCE, Item, SourceResult
from newsletter.pipeline import publish_draft_web, run_monthly
from newsletter.samples import build_sample_site
from newsletter.settings import Settings

REFUSED = [
    ("file:///etc/passwd", "file:"),
    ("ftp://ftp.example.org/feed.xml", "ftp:"),
    ("javascript:alert(1)", "javascript:"),
    ("data:text/html,<p>hello</p>", "data:"),
    ("agenda/page.html", "path without a base URL"),
    ("/etc/passwd", "path without a base URL"),
]
TODAY = date(2026, 11, 22)


def _sources_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: Hostile\n    kind: article\n    type: feed\n"
        f"    url: {json.dumps(url)}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("url,why", REFUSED)
def test_a_source_url_that_is_not_http_is_refused_at_load_naming_the_source(tmp_path, url, why):
    with pytest.raises(SourcesError) as info:
        load_sources(_sources_file(tmp_path, url))
    message = str(info.value)
    assert "'Hostile'" in message and url in message and why in message


@pytest.mark.parametrize("url,why", REFUSED)
def test_the_fetcher_refuses_anything_but_http_and_reads_nothing_from_disk(url, why):
    with pytest.raises(FetchError) as info:
        Fetcher().fetch(url)
    assert info.value.error.category == ERROR_INVALID_SOURCE
    assert url in info.value.error.message and why in info.value.error.message


@pytest.mark.parametrize("target,why", REFUSED[:4])
def test_a_redirect_to_a_non_web_url_fails_the_source_naming_the_target(server, target, why):
    url = server.add("/moved.xml", status=302, redirect_to=target)
    source = Source(name="Moved", kind="article", type="feed", url=url)
    result = collect_source(source, Fetcher())
    assert not result.ok and result.error.category == ERROR_INVALID_SOURCE
    assert f"redirected to {target}" in result.error.message and why in result.error.message
    assert "root:" not in result.error.message


LISTING = """<html><body>
<div class="card"><h3><a href="file:///etc/passwd">Mot de passe</a></h3></div>
<div class="card"><h3><a href="ftp://ftp.example.org/x">Par FTP</a></h3></div>
<div class="card"><h3><a href="evenements/bon.html">Une vraie rencontre régionale</a></h3></div>
</body></html>"""

DETAIL = """<html><head><title>Rencontre</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Event",
 "name": "Une vraie rencontre régionale", "startDate": "2026-12-03T09:30:00+01:00",
 "offers": {"@type": "Offer", "url": "javascript:alert(document.cookie)"}}</script>
</head><body><main><h1>Une vraie rencontre régionale</h1>
<img class="visuel" src="ftp://ftp.example.org/visuel.png" alt="Visuel">
<p>Le 3 décembre 2026 de 9h30 à 12h, à Lille.</p></main></body></html>"""


def test_followed_and_scraped_links_that_are_not_web_links_are_dropped_with_a_warning(server):
    server.add("/agenda.html", LISTING, headers={"Content-Type": "text/html; charset=utf-8"})
    server.add("/evenements/bon.html", DETAIL, headers={"Content-Type": "text/html; charset=utf-8"})
    source = Source(
        name="Agenda hostile", kind="event", type="page", url=server.url("/agenda.html"),
        selectors={"item": ".card", "title": "h3", "link": "a"}, follow=True,
        detail={"image": "img.visuel"},
    )
    result = collect_source(source, Fetcher())
    assert result.ok, result.error
    (item,) = result.items
    assert item.url == server.url("/evenements/bon.html")
    assert item.registration_url is None  # JSON-LD offers.url was javascript:
    assert item.image is None  # the scraped image was ftp:
    dropped = {d["url"]: d for d in result.dropped}
    assert set(dropped) == {"file:///etc/passwd", "ftp://ftp.example.org/x"}
    assert all(d["source"] == "Agenda hostile" for d in dropped.values())
    text = "\n".join(result.warnings)
    for culprit in ("file:///etc/passwd", "ftp://ftp.example.org/x",
                    "javascript:alert(document.cookie)", "ftp://ftp.example.org/visuel.png"):
        assert culprit in text
    assert "Mot de passe" in text  # the item is named
    assert not any("root:" in (i.summary or "") for i in result.items)
    # the fetcher was never asked for the non-web links
    assert {r.path for r in server.requests} == {"/agenda.html", "/evenements/bon.html"}


def test_a_feed_item_linking_to_a_file_is_dropped_and_named():
    result = SourceResult(source="Flux", kind="article", items=[
        Item(kind="article", title="Fichier", url="file:///etc/passwd", source="Flux"),
        Item(kind="article", title="Bon", url="https://www.irev.fr/a", source="Flux",
             registration_url="mailto:contact@irev.fr", canonical_url="javascript:void(0)"),
    ])
    normalize_result(result)
    assert [i.title for i in result.items] == ["Bon"]
    assert result.items[0].registration_url == "mailto:contact@irev.fr"  # mailto may reach a subscriber
    assert result.items[0].canonical_url is None
    assert result.dropped[0]["title"] == "Fichier" and "file:" in result.dropped[0]["reason"]


_ATTR_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)
_SCHEME_LINK = re.compile(r"(?i)\b(file|ftp|javascript|data|vbscript):")


def test_no_outbox_file_of_the_sample_month_holds_a_non_web_link(tmp_path, static_server):
    root = tmp_path / "site"
    server = static_server(root)
    sources = build_sample_site(root, TODAY, base_url=server.base_url)
    settings = Settings.from_env()
    draft = run_monthly(sources, month=TODAY.replace(day=1), today=TODAY, settings=settings)
    # the web archive publishes only a sent issue: approve it (offline: links overridden) and send it
    from newsletter.deliver.engine import SendConfig, deliver_draft
    from newsletter.deliver.messenger import FileMessenger
    from newsletter.outbox.drafts import APPROVED, load_draft, transition
    from newsletter.store import Store

    store = Store(settings.database_url)
    transition(settings.outbox, store, draft.id, APPROVED, override_reason="hors ligne")
    deliver_draft(settings.outbox, store, draft.id, FileMessenger(tmp_path / "mail"),
                  config=SendConfig(sender="contact@irev.fr"), recipients=["liste@example.org"])
    draft = load_draft(settings.outbox, draft.id, store)
    web = publish_draft_web(draft, tmp_path / "archive", store)
    files = [p for p in draft.path.rglob("*") if p.is_file() and p.name != "manifest.json"]
    archive = [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]
    assert archive and Path(web).is_file()
    files += archive
    names = {p.name for p in files}
    assert {"newsletter.html", "newsletter.txt", "social.json"} <= names
    assert any(p.suffix == ".ics" for p in files) and any(p.suffix == ".csv" for p in files)
    checked = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not _SCHEME_LINK.search(text), f"{path}: {_SCHEME_LINK.search(text).group(0)}"
        assert str(root) not in text, f"{path} holds a file path"
        for link in _ATTR_LINK.findall(text):
            checked += 1
            if path in archive:  # the web archive's own pages link to each other relatively
                link = urljoin("https://www.irev.fr/lettres/2026-11/index.html", link)
            assert re.match(r"(?i)(https?://|mailto:|\{\{unsubscribe_url\}\}$)", link), f"{path}: {link!r}"
    assert checked > 20
