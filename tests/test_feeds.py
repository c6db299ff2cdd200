"""Feed parsing: every format, both XML paths, normalisation, press watch, errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.collect.feeds import (
    FeedParseError,
    NotAFeed,
    build_items,
    parse_date,
    parse_feed,
    parse_raw,
    unwrap_redirect,
)
from newsletter.normalize import clean_text, decode_html
from newsletter.collect.sources import Source

FEEDS = Path(__file__).parent / "data" / "feeds"
PARIS = ZoneInfo("Europe/Paris")
BASE = "https://www.irev.fr/feeds/"


def source(kind: str = "article", **kwargs) -> Source:
    return Source(name=kwargs.pop("name", "IREV"), kind=kind, type="feed", url=BASE + "x", **kwargs)


def parse(name: str, src: Source | None = None, headers: dict | None = None):
    return parse_feed((FEEDS / name).read_bytes(), url=BASE + name, source=src or source(), headers=headers)


@pytest.mark.parametrize(
    "name,count,first_title,first_url",
    [
        ("rss091.xml", 2, "Assemblée générale du GIP IREV", "https://www.irev.fr/actualites/assemblee-generale-2022"),
        ("rss092.xml", 1, "Chiffres clés des quartiers des Hauts-de-France", "https://www.irev.fr/ressources/chiffres-cles"),
        ("rss10.rdf", 1, "Le cadre de référence des centres de ressources",
         "https://www.irev.fr/veille/cadre-de-reference-crpv"),
        ("rss20.xml", 3, "Journée de qualification : discriminations & droit commun",
         "https://www.irev.fr/agenda/journee-discriminations-droit-commun"),
        ("atom03.xml", 1, "Rénover l'animation territoriale de la politique de la ville",
         "https://www.irev.fr/publications/animation-territoriale"),
        ("atom10.xml", 2, "Prévenir les radicalités sociales", "https://www.irev.fr/actualites/radicalites-sociales"),
        ("feed.json", 2, "Nouvelle contractualisation : une journée régionale",
         "https://www.irev.fr/actualites/contrats-de-ville"),
    ],
)
def test_each_format_gives_items(name, count, first_title, first_url):
    items = parse(name, source(name="IREV – flux"))
    assert len(items) == count
    first = items[0]
    assert first.title == first_title
    assert first.url == first_url
    assert first.kind == "article"
    assert first.source == "IREV – flux"
    assert first.summary
    assert first.category is None
    assert first.published is None or first.published.tzinfo is not None


def test_dates_are_aware_and_in_paris_time():
    rss = parse("rss20.xml")
    assert rss[0].published == datetime(2025, 11, 3, 9, 30, tzinfo=PARIS)
    assert rss[0].published.utcoffset().total_seconds() == 3600
    # dc:date without an offset is taken as Paris time.
    assert rss[1].published == datetime(2025, 11, 10, 14, 0, tzinfo=PARIS)
    # GMT is converted to Paris.
    assert rss[2].published.hour == 9 and rss[2].published.tzinfo is not None
    atom = parse("atom10.xml")
    assert atom[0].published == datetime(2025, 11, 14, 17, 45, tzinfo=PARIS)  # published wins over updated
    assert parse("atom03.xml")[0].published == datetime(2023, 3, 1, 10, 0, tzinfo=PARIS)
    assert parse("rss10.rdf")[0].published == datetime(2023, 2, 14, 10, 0, tzinfo=PARIS)
    assert parse("feed.json")[1].published == datetime(2025, 10, 22, 0, 0, tzinfo=PARIS)
    assert parse("rss091.xml")[0].published is None


def test_markup_is_cleaned_to_safe_text():
    items = parse("rss20.xml")
    assert items[0].summary.startswith("Le 5 décembre, une journée pour outiller")
    assert "<" not in items[0].summary and "alert(1)" not in items[0].summary
    assert items[1].title == "Quartiers 2030 : on refait le match ?"  # escaped <b> in a title
    atom = parse("atom10.xml")
    assert atom[1].summary == "Faire converger les luttes engagées sur les territoires."  # xhtml content


def test_relative_links_and_images_are_made_absolute():
    rss = parse("rss20.xml")
    assert rss[0].url == "https://www.irev.fr/agenda/journee-discriminations-droit-commun"
    assert rss[0].image == "https://www.irev.fr/media/journee-5-decembre.jpg"  # first <img> in the text
    assert rss[1].image == "https://www.irev.fr/media/quartiers-2030.jpg"  # media:content
    assert rss[2].url == "https://www.irev.fr/agenda/logement-social"  # permalink guid
    assert rss[2].title == "Expérimentons ensemble : l'exemple du logement social."  # no title: from the text
    atom = parse("atom10.xml")  # xml:base
    assert atom[0].url == "https://www.irev.fr/actualites/radicalites-sociales"
    assert atom[0].image == "https://www.irev.fr/media/radicalites.jpg"
    json_items = parse("feed.json")
    assert json_items[0].image == "https://www.irev.fr/media/journee-regionale.png"
    assert json_items[1].url == "https://www.irev.fr/actualites/reseau-pilotes"
    assert parse("rss092.xml")[0].image == "https://www.irev.fr/media/chiffres-cles.png"  # enclosure


def test_summary_is_cut_on_a_word_boundary_at_configured_length():
    long_text = " ".join(["discriminations"] * 60)
    feed = f"""<rss version="2.0"><channel><title>t</title><item><title>Long</title>
    <link>https://www.irev.fr/a</link><description>{long_text}</description></item></channel></rss>"""
    default = parse_feed(feed.encode(), url=BASE, source=source())[0].summary
    assert len(default) <= 300 and default.endswith("…")
    assert default[:-1].split(" ")[-1] == "discriminations"  # no word cut in half
    short = parse_feed(feed.encode(), url=BASE, source=source(options={"summary_length": 50}))[0].summary
    assert len(short) <= 50 and short.endswith("discriminations…")


def test_forced_category_is_applied():
    items = parse("atom10.xml", source(category="egalite"))
    assert {i.category for i in items} == {"egalite"}


def test_google_alerts_links_are_unwrapped_and_outlet_is_the_host():
    items = parse("google-alerts.xml", source("press", name="Veille presse"))
    assert [i.url for i in items] == [
        "https://www.lavoixdunord.fr/1234/article/2025-11-19/lille-quartiers",
        "https://france3-regions.francetvinfo.fr/hauts-de-france/renouvellement",
    ]
    assert [i.outlet for i in items] == ["lavoixdunord.fr", "france3-regions.francetvinfo.fr"]
    assert items[0].title == "Lille : les quartiers politique de la ville préparent leurs contrats"
    assert all(i.kind == "press" for i in items)


def test_unwrap_redirect_leaves_other_links_alone():
    assert unwrap_redirect("https://www.google.fr/url?q=https://www.irev.fr/a&sa=U") == ("https://www.irev.fr/a", True)
    assert unwrap_redirect("https://www.irev.fr/url?url=https://x.fr/") == ("https://www.irev.fr/url?url=https://x.fr/", False)


def test_outlet_naming_order():
    feed = b"""<rss version="2.0"><channel><title>Le Courrier picard</title>
      <item><title>A</title><link>https://www.courrier-picard.fr/a</link></item>
      <item><title>B</title><link>https://www.lemonde.fr/b</link><source url="https://www.lemonde.fr/rss">Le Monde</source></item>
    </channel></rss>"""
    forced = parse_feed(feed, url=BASE, source=source("press", outlet="Ouest-France"))
    assert [i.outlet for i in forced] == ["Ouest-France", "Ouest-France"]
    named = parse_feed(feed, url=BASE, source=source("press"))
    assert [i.outlet for i in named] == ["Le Courrier picard", "Le Monde"]
    untitled = feed.replace(b"<title>Le Courrier picard</title>", b"")
    assert parse_feed(untitled, url=BASE, source=source("press"))[0].outlet == "courrier-picard.fr"
    # Non-press items carry no outlet.
    assert parse_feed(feed, url=BASE, source=source("article"))[0].outlet is None


@pytest.mark.parametrize("name", ["rss091.xml", "rss092.xml", "rss20.xml", "atom10.xml", "google-alerts.xml"])
@pytest.mark.parametrize("kind", ["article", "press"])
def test_fast_path_and_feedparser_give_identical_items(name, kind):
    data = (FEEDS / name).read_bytes()
    src = source(kind, category="transitions")
    fast_raw = parse_raw(data, url=BASE + name, fast=True)
    slow_raw = parse_raw(data, url=BASE + name, fast=False)
    assert fast_raw.home == slow_raw.home
    fast = build_items(fast_raw.entries, feed_title=fast_raw.title, url=BASE + name, source=src)
    slow = build_items(slow_raw.entries, feed_title=slow_raw.title, url=BASE + name, source=src)
    assert fast, name
    assert [i.to_dict() for i in fast] == [i.to_dict() for i in slow]


def test_iso_8859_1_declared_in_xml():
    text = (FEEDS / "rss20.xml").read_text("utf-8").replace('encoding="utf-8"', 'encoding="ISO-8859-1"')
    data = text.replace("–", "-").encode("iso-8859-1")
    items = parse_feed(data, url=BASE, source=source(), headers={"Content-Type": "application/rss+xml"})
    assert items[0].summary.startswith("Le 5 décembre")


def test_header_says_utf8_but_document_is_windows_1252():
    feed = """<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><title>t</title>
    <item><title>Égalité d’accès : 3 000 € pour l’œuvre</title><link>https://www.irev.fr/a</link></item>
    </channel></rss>""".encode("cp1252")
    items = parse_feed(feed, url=BASE, source=source(), headers={"content-type": "text/xml; charset=utf-8"})
    assert items[0].title == "Égalité d’accès : 3 000 € pour l’œuvre"


def test_header_says_latin1_but_document_is_utf8():
    feed = '<rss version="2.0"><channel><title>t</title><item><title>Quartiers prioritaires : l’été</title>' \
           '<link>https://www.irev.fr/a</link></item></channel></rss>'
    items = parse_feed(feed.encode("utf-8"), url=BASE, source=source(),
                       headers={"Content-Type": "application/xml; charset=ISO-8859-1"})
    assert items[0].title == "Quartiers prioritaires : l’été"


@pytest.mark.parametrize("encoding,declared", [("utf-8-sig", "utf-8"), ("utf-16", "utf-16")])
def test_byte_order_mark(encoding, declared):
    feed = (FEEDS / "atom10.xml").read_text("utf-8").replace('encoding="utf-8"', f'encoding="{declared}"')
    # The BOM wins over a wrong HTTP charset.
    items = parse_feed(feed.encode(encoding), url=BASE, source=source(),
                       headers={"Content-Type": "application/atom+xml; charset=iso-8859-1"})
    assert items[1].title == "Égalité femmes-hommes et lutte contre les discriminations"


def test_decode_html_meta_charset_and_fallback():
    page = '<html><head><meta charset="iso-8859-15"></head><body>Coût : 5 €</body></html>'.encode("iso-8859-15")
    assert "Coût : 5 €" in decode_html(page, None)
    assert decode_html(b"caf\xe9", None) == "café"  # undeclared, not UTF-8: windows-1252
    assert decode_html(b"", "utf-8") == ""


def test_html_entities_fall_back_to_feedparser():
    feed = b"""<rss version="2.0"><channel><title>t</title><item><title>Caf&eacute; citoyen&nbsp;!</title>
    <link>https://www.irev.fr/cafe</link></item></channel></rss>"""
    items = parse_feed(feed, url=BASE, source=source())
    assert items[0].title == "Café citoyen !"


@pytest.mark.parametrize(
    "body,headers",
    [
        (b"", None),
        (b"   \n", None),
        (b"<!DOCTYPE html><html><head><title>IREV</title></head><body><p>Accueil</p></body></html>",
         {"Content-Type": "text/html; charset=utf-8"}),
        (b'{"name": "not a feed", "items": []}', {"Content-Type": "application/json"}),
        (b'<?xml version="1.0"?><config><value>1</value></config>', None),
        (b"just some words", {"Content-Type": "text/plain"}),
    ],
)
def test_not_a_feed(body, headers):
    with pytest.raises(NotAFeed):
        parse_feed(body, url=BASE + "page", source=source(), headers=headers)


@pytest.mark.parametrize(
    "body",
    [
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "IREV", "items": [{"title": "a",',
        b'{"version": "https://jsonfeed.org/version/1.1", "items": "none"}',
        b'<?xml version="1.0"?><rss version="2.0"><<<<\x00\x01 not xml at all',
    ],
)
def test_broken_feed_is_a_parse_error(body):
    with pytest.raises(FeedParseError) as info:
        parse_feed(body, url=BASE + "broken", source=source())
    assert "broken" in str(info.value)


def test_truncated_feed_keeps_what_can_be_read():
    data = (FEEDS / "rss20.xml").read_bytes()
    cut = data[: data.index(b"<item>", data.index(b"<item>") + 1) + 200]
    items = parse_feed(cut, url=BASE, source=source())
    assert items and items[0].title.startswith("Journée de qualification")


def test_empty_but_valid_feed_gives_no_items():
    feed = b'<rss version="2.0"><channel><title>Rien ce mois-ci</title></channel></rss>'
    assert parse_feed(feed, url=BASE, source=source()) == []


# --- robustness fixes: bad URLs, link forms, entities, French dates, block text ---------------


def rss(items: str, extra_ns: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{extra_ns}><channel>'
            f"<title>IREV</title><link>https://www.irev.fr/</link>{items}</channel></rss>").encode()


def test_an_unreadable_image_url_drops_the_image_not_the_item():
    feed = rss("""<item><title>Journée de qualification</title><link>https://www.irev.fr/agenda/5-decembre</link>
    <enclosure url="http://www.irev.fr[/media/casse.jpg" type="image/jpeg"/>
    <description>&lt;img src="/media/journee.jpg"&gt; Le 5 décembre à Lille.</description></item>""")
    [item] = parse_feed(feed, url=BASE, source=source())
    assert item.url == "https://www.irev.fr/agenda/5-decembre"
    assert item.image == "https://www.irev.fr/media/journee.jpg"  # the next candidate


def test_unreadable_links_are_skipped_on_every_path():
    broken = b"""<item><title>Lien illisible</title><link>http://www.irev.fr[/a</link></item>
    <item><title>Lien lisible</title><link>https://www.irev.fr/b</link></item>"""
    for body in (rss(broken.decode()), rss(broken.decode() + "<item><title>Caf&eacute;</title>")):
        # well-formed (lxml) and truncated (feedparser)
        items = parse_feed(body, url=BASE, source=source())
        assert items[0].title == "Lien lisible" and items[0].url == "https://www.irev.fr/b"
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://bad[host/"><title>IREV</title>
    <entry><title>Base illisible</title><link href="https://www.irev.fr/c"/></entry></feed>"""
    assert [i.url for i in parse_feed(atom, url=BASE, source=source())] == ["https://www.irev.fr/c"]


def test_rss_link_from_href_or_atom_alternate():
    feed = rss("""<item><title>Par attribut</title><link href="/podcasts/episode-2"/></item>
    <item><title>Par atom:link</title><atom:link rel="self" href="https://www.irev.fr/flux"/>
    <atom:link rel="alternate" href="https://www.irev.fr/podcasts/episode-3"/></item>""",
               ' xmlns:atom="http://www.w3.org/2005/Atom"')
    items = parse_feed(feed, url=BASE, source=source())
    assert [i.url for i in items] == ["https://www.irev.fr/podcasts/episode-2",
                                      "https://www.irev.fr/podcasts/episode-3"]


def test_atom_id_is_the_link_only_when_it_is_a_web_address():
    feed = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>IREV</title>
    <entry><title>Identifiant web</title><id>https://www.irev.fr/agenda/webinaire</id></entry>
    <entry><title>Identifiant tag</title><id>tag:irev.fr,2025:reseau</id></entry></feed>"""
    items = parse_feed(feed, url=BASE, source=source())
    assert [(i.title, i.url) for i in items] == [("Identifiant web", "https://www.irev.fr/agenda/webinaire")]


def test_bare_ampersands_and_html_entities_are_repaired_not_misread():
    feed = rss("""<item><title>Caf&eacute; citoyen&nbsp;: R&D &amp; quartiers &unknownname; &#233;t&#xE9;</title>
    <link>https://www.irev.fr/index.php?id=42&lang=fr&copy=1</link>
    <description><![CDATA[<p>D&eacute;j&agrave; en CDATA</p>]]></description></item>
    <item><title>Lien en CDATA</title><link><![CDATA[https://www.irev.fr/?a=1&b=2]]></link></item>""")
    items = parse_feed(feed, url=BASE, source=source())
    assert items[0].title == "Café citoyen : R&D & quartiers &unknownname; été"
    assert items[0].url == "https://www.irev.fr/index.php?id=42&lang=fr&copy=1"
    assert items[0].summary == "Déjà en CDATA"
    assert items[1].url == "https://www.irev.fr/?a=1&b=2"


def test_bare_ampersand_in_an_rss_1_0_link():
    feed = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://www.irev.fr/"><title>IREV</title>
    <link>https://www.irev.fr/</link></channel>
    <item rdf:about="https://www.irev.fr/?id=1&lang=fr"><title>Ressources</title>
    <link>https://www.irev.fr/?id=1&lang=fr</link></item></rdf:RDF>"""
    [item] = parse_feed(feed, url=BASE, source=source())
    assert item.url == "https://www.irev.fr/?id=1&lang=fr"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("ven., 05 déc. 2025 09:30:00 +0100", datetime(2025, 12, 5, 9, 30, tzinfo=PARIS)),
        ("VEN., 5 DÉC. 2025 09:30 +0100", datetime(2025, 12, 5, 9, 30, tzinfo=PARIS)),
        ("vendredi 05 décembre 2025 09:30:00 +0100", datetime(2025, 12, 5, 9, 30, tzinfo=PARIS)),
        ("mar., 04 mars 2025 10:00:00 GMT", datetime(2025, 3, 4, 11, 0, tzinfo=PARIS)),
        ("mer, 05 fevr 2025 08:00:00 +0100", datetime(2025, 2, 5, 8, 0, tzinfo=PARIS)),
        ("lun., 18 août 2025 08:00:00 +0200", datetime(2025, 8, 18, 8, 0, tzinfo=PARIS)),
        ("lun 18 aout 2025 08:00:00 +0200", datetime(2025, 8, 18, 8, 0, tzinfo=PARIS)),
        ("sam., 01 juil. 2023 10:00:00 +0200", datetime(2023, 7, 1, 10, 0, tzinfo=PARIS)),
        ("dim., 07 sept. 2025 12:00:00 +0200", datetime(2025, 9, 7, 12, 0, tzinfo=PARIS)),
        ("jeu., 01 janv. 2026 00:00:00 +0100", datetime(2026, 1, 1, 0, 0, tzinfo=PARIS)),
        ("05 déc. 2025", datetime(2025, 12, 5, 0, 0, tzinfo=PARIS)),  # no time: Paris midnight
        ("Fri, 05 Dec 2025", datetime(2025, 12, 5, 0, 0, tzinfo=PARIS)),
        ("Fri, 05 Dec 2025 08:30:00 GMT", datetime(2025, 12, 5, 9, 30, tzinfo=PARIS)),
        ("bientôt, sans doute", None),
        ("ven., 35 déc. 2025 09:30:00 +0100", None),
    ],
)
def test_parse_date_reads_french_day_and_month_names(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "html_text,expected",
    [
        ("<p>a.</p><p>B</p>", "a. B"),
        ("ligne<br>suivante", "ligne suivante"),
        ("ligne<BR/>suivante", "ligne suivante"),
        ("<ul><li>un</li><li>deux</li></ul>", "un deux"),
        ("<h2>Programme</h2><div>Quartiers 2030</div>", "Programme Quartiers 2030"),
        ("<table><tr><td>Lille</td><td>5 décembre</td></tr></table>", "Lille 5 décembre"),
        ('<div title="a>b">Texte</div>suite', "Texte suite"),
        ("le <b>programme</b>.", "le programme."),
        ('<a href="/x">l\'IREV</a><span>,</span> <em>Lille</em><strong>!</strong>', "l'IREV, Lille!"),
        ("<script>alert(1)</script><p>sûr</p>", "sûr"),
    ],
)
def test_clean_text_separates_blocks_but_not_inline_tags(html_text, expected):
    assert clean_text(html_text) == expected
