"""The collector against the quirks of real-world feeds.

Each odd feed in tests/data/feeds-odd reproduces, with IREV content, a quirk
seen in a corpus of a few thousand real and crafted feeds (see
benchmarks/feed_corpus.py). Every feed is served over HTTP on 127.0.0.1 and
collected with ``collect_all`` (or ``newsletter collect``), as in production:
the test asserts what a subscriber would see (titles, absolute links, aware
dates, clean summaries, images) or the error category the communications
officer is shown, never an unhandled exception.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from newsletter.cli import main
from newsletter.collect.collector import MemoryStateStore, collect_all
from newsletter.collect.feeds import FeedParseError, NotAFeed, parse_feed
from newsletter.collect.fetch import Fetcher
from newsletter.models import ERROR_CATEGORIES, ERROR_NOT_A_FEED, SourceResult
from newsletter.collect.sources import Source

ODD = Path(__file__).parent / "data" / "feeds-odd"
PARIS = ZoneInfo("Europe/Paris")
RSS_UTF8 = "application/rss+xml; charset=utf-8"


def collect(server, name: str, body: bytes | None = None, *, content_type: str = RSS_UTF8,
            kind: str = "article", headers: dict | None = None) -> SourceResult:
    """Serve ``body`` (default: the odd feed ``name``) and collect it as one feed source."""
    if body is None:
        body = (ODD / name).read_bytes()
    all_headers = {"Content-Type": content_type, **(headers or {})}
    url = server.add(f"/flux/{name}", body, headers=all_headers)
    source = Source(name=f"IREV {name}", kind=kind, type="feed", url=url)
    with Fetcher(timeout=5.0) as fetcher:
        [result] = collect_all([source], fetcher=fetcher, state=MemoryStateStore())
    return result


def ok(result: SourceResult) -> list:
    assert result.error is None, f"{result.source}: {result.error}"
    assert_clean(result)
    return result.items


def assert_clean(result: SourceResult) -> None:
    """What every item must be, whatever the feed: usable in a newsletter."""
    for item in result.items:
        assert item.title and item.title == item.title.strip()
        assert "<" not in item.title or ">" not in item.title, item.title
        assert item.url.startswith(("http://", "https://")), item.url
        assert item.published is None or item.published.tzinfo is not None
        assert "<" not in item.summary or ">" not in item.summary, item.summary
        assert item.image is None or item.image.startswith(("http://", "https://"))


def titles(items) -> list[str]:
    return [item.title for item in items]


# --- ill-formed XML ---------------------------------------------------------------------------


def test_undeclared_html_entities_are_decoded(server):
    items = ok(collect(server, "entities-undeclared.xml"))
    assert titles(items) == [
        "Journée de qualification : discriminations et droit commun",
        "Programme 2023 « du projet de territoire aux contrats de ville »",
    ]
    assert items[0].summary.startswith("L’IREV propose aux pilotes")
    assert items[0].published == datetime(2025, 11, 3, 9, 0, tzinfo=PARIS)


def test_unescaped_ampersands_keep_every_item(server):
    items = ok(collect(server, "unescaped-ampersand.xml"))
    assert titles(items) == [
        "Emploi & insertion : les quartiers prioritaires en chiffres",
        "Santé & quartiers : rencontre régionale",
    ]
    assert items[1].url == "https://www.irev.fr/index.php?rubrique=agenda&id=43"
    assert items[0].summary.startswith("Données clés sur l'emploi & la formation")


def test_unescaped_ampersand_in_link_is_not_an_entity(server):
    items = ok(collect(server, "unescaped-ampersand.xml"))
    assert items[0].url == "https://www.irev.fr/index.php?rubrique=ressources&id=42&lang=fr"


def test_cdata_title_with_markup_becomes_plain_text(server):
    [item] = ok(collect(server, "cdata-markup-title.xml"))
    assert item.title == "Séminaire des pilotes & chefs de projet « contrats de ville »"
    assert item.summary == "Un séminaire pour les pilotes des contrats de ville."
    assert "alert" not in item.summary


def test_truncated_feed_keeps_the_complete_items(server):
    result = collect(server, "truncated.xml")
    items = ok(result)
    assert titles(items)[:2] == ["Premier article complet", "Deuxième article complet"]
    assert items[0].url == "https://www.irev.fr/actualites/premier"
    assert items[1].summary == "Complet aussi."
    assert items[1].published == datetime(2025, 11, 18, 8, 0, tzinfo=PARIS)


def test_an_unreadable_link_never_escapes_the_collector(server):
    """Whatever happens inside, the collector answers with a result."""
    result = collect(server, "bad-url-entry.xml")
    assert result.error is None or result.error.category in ERROR_CATEGORIES
    assert_clean(result)


def test_an_unreadable_link_does_not_sink_the_feed(server):
    items = ok(collect(server, "bad-url-entry.xml"))
    assert titles(items) == ["Article au lien correct"]


# --- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [RSS_UTF8, "text/xml", "application/xml"])
def test_windows_1252_bytes_declared_utf8(server, content_type):
    [item] = ok(collect(server, "cp1252-declared-utf8.xml", content_type=content_type))
    assert item.title == "Égalité femmes-hommes : l’œuvre des associations"
    assert "10 000 €" in item.summary and "–" in item.summary


@pytest.mark.parametrize("content_type", ["text/xml", "application/rss+xml; charset=ISO-8859-1", RSS_UTF8])
def test_iso_8859_1_declared(server, content_type):
    [item] = ok(collect(server, "iso-8859-1.xml", content_type=content_type))
    assert item.title == "Rénovation urbaine à Saint-Quentin : réunion publique"
    assert item.summary == "Les habitants du quartier sont invités à la réunion."


@pytest.mark.parametrize("content_type", ["application/rss+xml", RSS_UTF8, "text/xml; charset=utf-16"])
def test_utf16_with_bom(server, content_type):
    [item] = ok(collect(server, "utf16-bom.xml", content_type=content_type))
    assert item.title == "Cohésion sociale : séminaire régional"
    assert item.url == "https://www.irev.fr/agenda/seminaire-cohesion"


def test_bom_and_whitespace_before_the_xml_declaration(server):
    [item] = ok(collect(server, "bom-whitespace.xml"))
    assert item.title == "Conseils citoyens : journée d'échanges"
    assert item.published == datetime(2025, 11, 17, 9, 0, tzinfo=PARIS)


# --- dates ----------------------------------------------------------------------------------------


def test_missing_unreadable_and_french_dates(server):
    items = ok(collect(server, "dates-odd.xml"))
    by_title = {item.title: item.published for item in items}
    assert len(items) == 5  # an unreadable date never costs the item
    assert by_title["Sans date de publication"] is None
    assert by_title["Date illisible"] is None
    assert by_title["Jour en français"] == datetime(2025, 12, 5, 9, 30, tzinfo=PARIS)
    assert by_title["Date ISO sans fuseau"] == datetime(2025, 12, 5, 9, 30, tzinfo=PARIS)
    assert by_title["Date ISO sans fuseau"].utcoffset().total_seconds() == 3600


def test_rfc822_date_with_french_month_names(server):
    items = ok(collect(server, "dates-odd.xml"))
    by_title = {item.title: item.published for item in items}
    assert by_title["Jour et mois en français"] == datetime(2025, 12, 5, 9, 30, tzinfo=PARIS)


# --- links ----------------------------------------------------------------------------------------


def test_relative_links_resolve_against_xml_base(server):
    items = ok(collect(server, "xml-base-relative.atom", content_type="application/atom+xml"))
    assert [item.url for item in items] == [
        "https://www.irev.fr/ressources/guides/conseil-citoyen",
        "https://www.irev.fr/publications/2025/cahiers-12.html",
    ]
    assert items[1].image == "https://www.irev.fr/publications/images/cahiers-12.png"


def test_atom_alternate_link_wins_over_self_and_edit(server):
    items = ok(collect(server, "atom-alternate-and-id.atom", content_type="application/atom+xml"))
    assert items[0].title == "Réseau régional des pilotes des contrats de ville"
    assert items[0].url == "https://www.irev.fr/agenda/reseau-pilotes"


def test_atom_entry_with_only_an_id_url_is_kept(server):
    items = ok(collect(server, "atom-alternate-and-id.atom", content_type="application/atom+xml"))
    assert [item.url for item in items] == [
        "https://www.irev.fr/agenda/reseau-pilotes",
        "https://www.irev.fr/agenda/webinaire-egalite",
    ]


def test_guid_permalink_without_link_is_the_link(server):
    items = ok(collect(server, "guid-permalink.xml", kind="press"))
    assert [item.url for item in items] == [
        "https://presse.example.fr/2025/11/roubaix-participation",
        "https://presse.example.fr/2025/11/amiens-renouvellement",
    ]  # the urn: guid (isPermaLink="false") is no link: that entry is left out
    assert all(item.outlet == "IREV – Revue de presse" for item in items)


def test_rss_link_given_as_href_attribute(server):
    [item] = ok(collect(server, "link-href-attribute.xml"))
    assert item.url == "https://www.irev.fr/podcasts/episode-1"


# --- formats and content ----------------------------------------------------------------------------


def test_rss_1_0_rdf(server):
    items = ok(collect(server, "rss10.rdf", content_type="application/rdf+xml"))
    assert titles(items) == ["Assemblée générale du GIP", "Le cadre de référence des centres de ressources"]
    assert items[0].published == datetime(2022, 11, 21, 14, 0, tzinfo=PARIS)
    assert items[1].published == datetime(2022, 10, 3, 0, 0, tzinfo=PARIS)


def test_enclosure_and_media_images(server):
    items = ok(collect(server, "enclosures-media.xml"))
    assert [item.image for item in items] == [
        "https://www.irev.fr/media/portraits.jpg",
        "https://www.irev.fr/media/episode3-vignette.png",  # the mp3 enclosure is no image
        server.url("/media/vignette.webp"),  # relative: against the feed's own address
    ]


def test_content_encoded_only(server):
    [item] = ok(collect(server, "content-encoded-only.xml"))
    assert item.summary.startswith("Le centre de ressources Prévention des radicalités sociales ouvre un cycle")
    assert item.summary.endswith("Inscription gratuite.")
    assert item.image == server.url("/media/radicalites.jpg")


def test_paragraphs_without_whitespace_between_them_stay_separate_words(server):
    [item] = ok(collect(server, "content-encoded-only.xml"))
    assert item.summary == ("Le centre de ressources Prévention des radicalités sociales ouvre un cycle "
                            "de trois rencontres. Inscription gratuite.")


def test_json_feed_1_0(server):
    items = ok(collect(server, "feed-1.0.json", content_type="application/json"))
    assert titles(items) == [
        "Journée de qualification sur les discriminations",
        "Un article sans titre dont le texte tient lieu de titre.",
    ]  # the third item is not an object: skipped, the others kept
    assert items[0].summary == "Le 5 décembre, une journée pour les pilotes des contrats de ville."
    assert items[0].image == server.url("/media/journee.jpg")
    assert items[1].url == server.url("/actualites/lien-relatif")
    assert items[1].published == datetime(2025, 11, 2, 0, 0, tzinfo=PARIS)


def test_json_feed_1_1(server):
    [item] = ok(collect(server, "feed-1.1.json", content_type="application/feed+json"))
    assert item.title == "Chiffres clés : 40 contrats de ville, 199 quartiers"
    assert item.published == datetime(2025, 11, 4, 13, 0, tzinfo=PARIS)
    assert item.image == "https://www.irev.fr/media/chiffres-cles.png"


def test_gzip_encoded_response(server):
    body = gzip.compress((ODD / "entities-undeclared.xml").read_bytes())
    items = ok(collect(server, "gzip.xml", body, headers={"Content-Encoding": "gzip"}))
    assert titles(items)[0] == "Journée de qualification : discriminations et droit commun"


# --- not feeds: the right error, no items -------------------------------------------------------------


@pytest.mark.parametrize(
    "name,body,content_type",
    [
        ("html-page.html", None, RSS_UTF8),
        ("empty", b"", RSS_UTF8),
        ("blank", b"  \r\n\t ", "text/xml"),
        ("not-a-feed.json", None, "application/json"),
    ],
)
def test_not_a_feed(server, name, body, content_type):
    result = collect(server, name, body, content_type=content_type)
    assert result.items == []
    assert result.error is not None and result.error.category == ERROR_NOT_A_FEED
    assert "/flux/" in result.error.message  # names the culprit


def test_corrupt_gzip_body_is_an_error_not_a_crash(server):
    body = gzip.compress((ODD / "rss10.rdf").read_bytes())[:10] + b"this is not deflate data at all"
    result = collect(server, "corrupt.xml", body, headers={"Content-Encoding": "gzip"})
    assert result.items == []
    assert result.error is not None and result.error.category in ERROR_CATEGORIES
    assert "/flux/corrupt.xml" in result.error.message


# --- the whole folder, every header, and the command line -----------------------------------------------

ALL_ODD = sorted(p.name for p in ODD.iterdir())
NOT_FEEDS = {"html-page.html", "not-a-feed.json"}
HEADER_VARIANTS = [RSS_UTF8, "application/xml", "text/html; charset=iso-8859-1", "application/octet-stream"]


def test_every_odd_feed_under_every_content_type_gives_items_or_a_category(server):
    sources = []
    for n, name in enumerate(ALL_ODD):
        for v, ctype in enumerate(HEADER_VARIANTS):
            url = server.add(f"/v{v}/{name}", (ODD / name).read_bytes(), headers={"Content-Type": ctype})
            sources.append(Source(name=f"{name} ({ctype})", kind=("press", "article")[n % 2], type="feed", url=url))
    with Fetcher(timeout=5.0) as fetcher:
        results = collect_all(sources, fetcher=fetcher, state=MemoryStateStore())
    assert [r.source for r in results] == [s.name for s in sources]
    for result in results:
        name = result.source.split(" (")[0]
        assert result.items or result.error is not None, result.source
        assert result.error is None or result.error.category in ERROR_CATEGORIES
        assert_clean(result)
    readable = {r.source.split(" (")[0] for r in results if r.items}
    assert readable == set(ALL_ODD) - NOT_FEEDS


@pytest.mark.parametrize("name", ALL_ODD)
def test_parse_feed_raises_only_its_own_errors(name):
    source = Source(name="IREV", kind="article", type="feed", url="https://www.irev.fr/flux")
    try:
        items = parse_feed((ODD / name).read_bytes(), url="https://www.irev.fr/flux/" + name, source=source)
    except (NotAFeed, FeedParseError) as exc:
        assert name in str(exc)
    else:
        assert items and all(i.url.startswith("https://") for i in items)


def test_newsletter_collect_survives_every_odd_feed(server, tmp_path, capsys):
    entries = []
    for name in ALL_ODD:
        url = server.add(f"/cli/{name}", (ODD / name).read_bytes(), headers={"Content-Type": RSS_UTF8})
        entries.append({"name": f"Flux {name}", "kind": "article", "type": "feed", "url": url})
    entries.append({"name": "Flux vide", "kind": "press", "type": "feed",
                    "url": server.add("/cli/vide", b"", headers={"Content-Type": RSS_UTF8})})
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": entries}, allow_unicode=True), encoding="utf-8")

    assert main(["collect", "--sources", str(path), "--today", "2025-11-20"]) == 0
    out, err = capsys.readouterr()
    items = [json.loads(line) for line in out.splitlines() if line.strip()]
    sources_with_items = {item["source"] for item in items}
    assert "Flux entities-undeclared.xml" in sources_with_items
    assert "Flux utf16-bom.xml" in sources_with_items
    assert "Flux feed-1.1.json" in sources_with_items
    assert len(sources_with_items) == len(set(ALL_ODD) - NOT_FEEDS)
    assert all(item["url"].startswith("http") and item["title"] for item in items)
    assert "Traceback" not in err
    assert "source 'Flux html-page.html' failed: not_a_feed" in err
    assert "source 'Flux vide' failed: not_a_feed" in err
