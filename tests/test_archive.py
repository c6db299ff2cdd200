"""The web archive: standalone issue pages, index of past issues, RSS feed, calendar files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import feedparser
import lxml.html
import pytest
from icalendar import Calendar

from newsletter.render.archive import ArchiveError, list_issues, publish_web
from newsletter.render.branding import load_branding
from newsletter.models import Issue
from newsletter.render.newsletter import render_newsletter

DATA = Path(__file__).resolve().parent / "data" / "render_issue.json"


def load_issue(month: date | None = None) -> Issue:
    issue = Issue.from_dict(json.loads(DATA.read_text(encoding="utf-8")))
    if month:
        issue.month = month
        issue.today = month
    return issue


@pytest.fixture(scope="module")
def branding():
    return load_branding()


def publish(issue, branding, archive):
    return publish_web(render_newsletter(issue, branding), issue, branding, archive)


def test_issue_page_is_standalone_and_has_no_subscriber_links(tmp_path, branding):
    page = publish(load_issue(), branding, tmp_path)
    assert page == tmp_path / "2025-12" / "index.html"
    html = page.read_text(encoding="utf-8")
    tree = lxml.html.document_fromstring(html)
    assert tree.get("lang") == "fr"
    assert tree.findtext(".//title") == "La lettre de l'IREV – décembre 2025"
    assert "{{unsubscribe_url}}" not in html and "Se désinscrire" not in html
    links = {a.text_content().strip(): a.get("href") for a in tree.iter("a")}
    assert links["Toutes les lettres de IREV"] == "https://www.irev.fr/lettre/"
    # Calendar links are relative and every linked file exists and parses.
    ics = [a.get("href") for a in tree.iter("a") if a.text_content().strip() == "Ajouter à mon agenda"]
    assert len(ics) == 9 and all(h.startswith("ics/") for h in ics)
    for href in ics:
        cal = Calendar.from_ical((page.parent / href).read_bytes())
        assert len(cal.walk("VEVENT")) == 1


def test_index_and_feed_list_past_issues_newest_first(tmp_path, branding):
    publish(load_issue(date(2025, 11, 1)), branding, tmp_path)
    publish(load_issue(date(2025, 12, 1)), branding, tmp_path)
    publish(load_issue(date(2025, 12, 1)), branding, tmp_path)  # republishing replaces, never duplicates
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    tree = lxml.html.document_fromstring(index)
    assert tree.get("lang") == "fr"
    entries = [(a.text_content(), a.get("href")) for a in tree.iter("a") if a.get("href", "").endswith("/")
               and a.get("href")[:4].isdigit()]
    assert entries == [
        ("La lettre de l'IREV – décembre 2025", "2025-12/"),
        ("La lettre de l'IREV – novembre 2025", "2025-11/"),
    ]
    feed = feedparser.parse((tmp_path / "feed.xml").read_bytes())
    assert not feed.bozo
    assert feed.feed.title == "La lettre de l'IREV"
    assert feed.feed.language == "fr"
    assert [e.link for e in feed.entries] == [
        "https://www.irev.fr/lettre/2025-12/",
        "https://www.irev.fr/lettre/2025-11/",
    ]
    assert feed.entries[0].published_parsed[:3] == (2025, 12, 1)
    assert [m["month"] for m in list_issues(tmp_path)] == ["2025-12", "2025-11"]


def test_empty_archive_lists_nothing(tmp_path):
    assert list_issues(tmp_path / "absent") == []


def test_corrupt_metadata_is_named(tmp_path, branding):
    bad = tmp_path / "2025-10"
    bad.mkdir()
    (bad / "issue.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ArchiveError, match=r"2025-10/issue\.json: unreadable"):
        publish(load_issue(), branding, tmp_path)


def test_unwritable_archive_is_named(tmp_path, branding):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArchiveError, match="cannot create the archive folder"):
        publish(load_issue(), branding, blocker)
