"""The bundled sample site: dated around any given day, loadable, rich enough for a full issue."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, time, timedelta, timezone
from itertools import combinations
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import pytest
import requests
from babel.dates import format_date
from bs4 import BeautifulSoup
from rapidfuzz import fuzz

from newsletter.normalize import PARIS
from newsletter.samples import SAMPLE_SITE_DIR, SampleSiteError, build_sample_site
from newsletter.collect.sources import load_sources

# A Saturday, New Year's Eve and a leap day: the site must work whatever the day.
TODAYS = [date(2025, 11, 22), date(2025, 12, 31), date(2028, 2, 29)]
TODAY = TODAYS[0]

FEEDS = ("actualites.xml", "revue-presse-a.xml", "revue-presse-b.xml")
TRACKING = ("utm_", "xtor", "fbclid", "gclid")

# The stories both press feeds carry on purpose (paths of the outlets' article URLs).
SHARED_STORIES = {
    "/metropole/roubaix/un-quartier-en-renouvellement-urbain-ouvre-sa-maison-du-projet-48211",
    "/education/cites-educatives-l-etat-prolonge-son-soutien-jusqu-en-2027",
    "/pas-de-calais/les-premiers-contrats-engagements-quartiers-2030-sont-signes-7730",
    "/actualite/discriminations-au-logement-une-enquete-de-perception-lancee-aupres-des-demandeurs",
}


def strip_tracking(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if not k.lower().startswith(TRACKING)]
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, urlencode(query), ""))


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "lxml")


def entries(site: Path, name: str) -> list:
    parsed = feedparser.parse((site / name).read_bytes())
    assert not parsed.bozo, f"{name}: {parsed.get('bozo_exception')}"
    return parsed.entries


def entry_day(entry) -> date:
    """The Paris calendar day of an entry (feedparser gives UTC)."""
    return datetime(*entry.published_parsed[:6], tzinfo=timezone.utc).astimezone(PARIS).date()


def event_cards(site: Path):
    return soup(site / "agenda.html").select(".event-card")


@pytest.fixture(params=TODAYS, ids=str)
def built(request, tmp_path):
    today = request.param
    return today, build_sample_site(tmp_path / "site", today).parent


def test_sources_file_loads_and_points_at_the_rendered_files_over_http(built, tmp_path):
    today, _ = built
    site = tmp_path / "served"
    build_sample_site(site, today, base_url="http://127.0.0.1:8123")
    config = load_sources(site / "sources.yaml")
    assert {s.kind for s in config.enabled} == {"article", "event", "resource", "press"}
    for source in config.sources:
        assert source.url.startswith("http://127.0.0.1:8123/"), source.url
        assert (site / source.url.removeprefix("http://127.0.0.1:8123/")).is_file(), source.url
    agenda = next(s for s in config.sources if s.kind == "event")
    assert agenda.type == "page" and agenda.follow and agenda.detail


def test_at_least_thirty_items_with_distinct_titles(built):
    _, site = built
    titles = [e.title for name in FEEDS for e in entries(site, name)]
    titles += [c.select_one("h3").get_text(strip=True) for c in event_cards(site)]
    titles += [r.select_one("h3").get_text(strip=True)
               for r in soup(site / "ressources.html").select(".resource")]
    assert len(titles) >= 30
    assert len(set(titles)) == len(titles)


def test_every_event_is_upcoming_and_its_page_says_when(built):
    today, site = built
    cards = event_cards(site)
    assert len(cards) >= 6
    with_jsonld = 0
    for card in cards:
        start = datetime.fromisoformat(card.select_one("time")["datetime"])
        assert today + timedelta(days=1) <= start.date() <= today + timedelta(days=90)
        assert start.weekday() < 5, "events happen on working days"
        href = card.select_one("a")["href"]
        assert not href.startswith(("/", "http")), "detail links must be relative"
        page = soup(site / href)
        assert page.select_one("h1").get_text(strip=True) == card.select_one("h3").get_text(strip=True)
        date_line = page.select_one(".event-date").get_text(strip=True)
        long_date = format_date(start.date(), "d MMMM y", locale="fr_FR")
        if start.day == 1:
            long_date = "1er" + long_date[1:]
        assert long_date in date_line
        assert format_date(start.date(), "EEEE", locale="fr_FR") in date_line.lower()
        assert page.select_one("a.registration")["href"].startswith("https://")
        assert page.select(".audience li") and page.select_one(".contact")
        assert "H" in page.select_one(".event-hours").get_text()
        places = page.select_one(".places")
        if places is not None:
            assert "nombre de places limité" in places.get_text()
        deadline = page.select_one(".deadline")
        if deadline is not None:
            assert deadline.get_text().startswith("Inscriptions ouvertes jusqu'au")
        script = page.select_one('script[type="application/ld+json"]')
        if script is not None:
            with_jsonld += 1
            data = json.loads(script.string)
            assert data["@type"] == "Event" and data["name"] == card.select_one("h3").get_text(strip=True)
            assert datetime.fromisoformat(data["startDate"]) == start
    assert 0 < with_jsonld < len(cards), "some pages, not all, carry schema.org JSON-LD"


def test_news_resources_and_press_are_recent(built):
    today, site = built
    for name in FEEDS:
        for entry in entries(site, name):
            assert today - timedelta(days=45) <= entry_day(entry) <= today, (name, entry.title)
    for resource in soup(site / "ressources.html").select(".resource"):
        day = date.fromisoformat(resource.select_one("time")["datetime"])
        assert today - timedelta(days=45) <= day <= today
        assert resource.select_one("h3 a")["href"].startswith("https://")


def test_articles_and_press_links_are_absolute_on_their_own_hosts(tmp_path):
    site = build_sample_site(tmp_path, TODAY).parent
    hosts = {urlsplit(e.link).hostname for e in entries(site, "actualites.xml")}
    assert hosts == {"www.irev.fr"}
    press_hosts = {urlsplit(e.link).hostname for n in FEEDS[1:] for e in entries(site, n)}
    assert len(press_hosts) >= 4 and "www.irev.fr" not in press_hosts
    for name in FEEDS[1:]:
        for entry in entries(site, name):
            assert entry.get("source", {}).get("title"), f"{name}: {entry.title} has no outlet"


def test_press_feeds_share_exactly_the_intended_stories(tmp_path):
    site = build_sample_site(tmp_path, TODAY).parent
    feed_a = {strip_tracking(e.link): e for e in entries(site, "revue-presse-a.xml")}
    feed_b = {strip_tracking(e.link): e for e in entries(site, "revue-presse-b.xml")}
    assert len(feed_a) == len(entries(site, "revue-presse-a.xml")) >= 6
    assert len(feed_b) == len(entries(site, "revue-presse-b.xml")) >= 6
    shared = set(feed_a) & set(feed_b)
    assert {urlsplit(u).path for u in shared} == SHARED_STORIES
    for url in shared:
        a, b = feed_a[url], feed_b[url]
        assert a.link != b.link, "the shared copies differ by tracking parameters"
        assert a.title != b.title, "the shared copies have slightly different titles"
        assert fuzz.ratio(a.title.lower(), b.title.lower()) >= 85, (a.title, b.title)
    # Distinct stories (of any kind) must really differ, so that a near-duplicate
    # detector keeps them apart.
    distinct = [feed_a[u].title for u in feed_a] + [feed_b[u].title for u in feed_b if u not in shared]
    distinct += [e.title for e in entries(site, "actualites.xml")]
    distinct += [c.select_one("h3").get_text(strip=True) for c in event_cards(site)]
    distinct += [r.select_one("h3").get_text(strip=True)
                 for r in soup(site / "ressources.html").select(".resource")]
    for one, two in combinations(distinct, 2):
        assert fuzz.ratio(one.lower(), two.lower()) < 70, (one, two)


def test_base_url_gives_http_sources_served_over_http(tmp_path, static_server):
    out = tmp_path / "site"
    out.mkdir()
    srv = static_server(out)
    sources_yaml = build_sample_site(out, TODAY, base_url=srv.base_url + "/")
    config = load_sources(sources_yaml)
    assert all(s.url.startswith(srv.base_url + "/") for s in config.sources)
    agenda = next(s for s in config.sources if s.kind == "event")
    listing = requests.get(agenda.url, timeout=5)
    assert listing.status_code == 200
    links = [a["href"] for a in BeautifulSoup(listing.text, "lxml").select(".event-card h3 a")]
    assert links
    for href in links:
        detail = requests.get(urljoin(agenda.url, href), timeout=5)
        assert detail.status_code == 200 and "Inscriptions ici" in detail.text
    for source in config.sources:
        if source.type == "feed":
            assert feedparser.parse(requests.get(source.url, timeout=5).content).entries


def test_rebuild_is_deterministic_and_drops_stale_pages(tmp_path):
    build_sample_site(tmp_path / "one", TODAY)
    stale = tmp_path / "one" / "evenements" / "ancien-evenement.html"
    stale.write_text("<h1>Ancien</h1>", encoding="utf-8")
    build_sample_site(tmp_path / "one", TODAY)
    build_sample_site(tmp_path / "two", TODAY)
    assert not stale.exists()
    one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()}
    two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()}
    assert one == two


def test_bad_base_url_is_named(tmp_path):
    with pytest.raises(ValueError, match="ftp://example.org"):
        build_sample_site(tmp_path, TODAY, base_url="ftp://example.org")


def test_bad_sample_data_names_the_file_and_entry(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(SAMPLE_SITE_DIR, templates)
    data = (templates / "data.yaml").read_text(encoding="utf-8")
    (templates / "data.yaml").write_text(data.replace("start: 24", "start: bientôt", 1), encoding="utf-8")
    with pytest.raises(SampleSiteError, match=r"data\.yaml: events #1 start.*bientôt"):
        build_sample_site(tmp_path / "out", TODAY, template_dir=templates)


ROOT = Path(__file__).resolve().parent.parent


def test_production_sources_file_loads_with_valid_selectors():
    import soupsieve

    config = load_sources(ROOT / "sources" / "sources.yaml")
    assert {s.kind for s in config.sources} == {"article", "event", "resource", "press"}
    assert config.taxonomy_path and config.branding_path
    for source in config.sources:
        assert source.url.startswith("https://"), source.name
        for selector in [*source.selectors.values(), *source.detail.values()]:
            soupsieve.compile(selector)  # raises on a broken selector
    assert any(s.follow and s.detail for s in config.sources if s.kind == "event")


def test_editor_guide_explains_every_key_kind_selector_and_error():
    from newsletter.models import ERROR_CATEGORIES, KINDS
    from newsletter.collect.sources import DETAIL_SELECTORS, LISTING_SELECTORS, _KNOWN_KEYS

    guide = (ROOT / "sources" / "README.md").read_text(encoding="utf-8")
    words = [*_KNOWN_KEYS - {"options"}, *KINDS, *LISTING_SELECTORS, *DETAIL_SELECTORS, *ERROR_CATEGORIES]
    missing = [w for w in words if f"`{w}`" not in guide]
    assert not missing, f"sources/README.md does not explain: {missing}"


def test_events_fall_on_working_days_at_office_hours_around_christmas_and_may(tmp_path):
    import holidays

    french = holidays.country_holidays("FR")
    # Days chosen so that fixed offsets land on 25 December, 1 January, 1, 8 and 14 May 2026.
    days = {date(2025, 12, 25) - timedelta(days=n) for n in (9, 16, 24, 31, 38)}
    days |= {date(2026, 5, 8) - timedelta(days=n) for n in (9, 16, 24, 31, 38)}
    for today in sorted(days):
        site = build_sample_site(tmp_path / str(today), today).parent
        for card in event_cards(site):
            page = soup(site / card.select_one("a")["href"])
            start = datetime.fromisoformat(card.select_one("time")["datetime"])
            assert start.weekday() < 5 and start.date() not in french, (today, start, french.get(start.date()))
            assert time(8, 30) <= start.time() <= time(18, 0), start
            assert page.select_one("h1") is not None
        for path in (site / "evenements").glob("*.html"):
            for node in soup(path).select("time[datetime]"):
                when = datetime.fromisoformat(node["datetime"])
                assert when.date() not in french and when.weekday() < 5, (path.name, when)
