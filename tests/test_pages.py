"""Scraping listing and detail pages: per-source selectors, then page metadata as fallback."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.models import Item
from newsletter.collect.detail import parse_detail
from newsletter.collect.listing import ListingResult, parse_listing
from newsletter.collect.metadata import parse_metadata
from newsletter.collect.scrape import PageEmpty, SelectorEmpty, SelectorInvalid
from newsletter.collect.sources import Source

PAGES = Path(__file__).parent / "data" / "pages"
PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2024, 11, 20)
AGENDA_URL = "https://www.irev.fr/agenda"
DETAIL_URL = "https://www.irev.fr/agenda/qualification-engagements-quartiers-2030"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


def agenda_source(**changes) -> Source:
    source = Source(
        name="IREV – agenda",
        kind="event",
        type="page",
        url=AGENDA_URL,
        category="discriminations",
        selectors={
            "item": ".event-card",
            "title": "h3",
            "link": "a",
            "date": ".date",
            "summary": ".teaser",
            "image": "img",
        },
        follow=True,
        detail={
            "title": "h1",
            "date": ".event-date",
            "hours": ".event-hours",
            "location": ".event-place",
            "registration": "a.registration",
            "deadline": ".deadline",
            "places": ".places",
            "audience": ".audience",
            "contact": ".contact",
            "summary": ".intro",
            "image": ".visuel img",
        },
    )
    return dataclasses.replace(source, **changes)


def listed_event() -> Item:
    return Item(
        kind="event",
        title="Engagements Quartiers 2030 (titre de la liste)",
        url=DETAIL_URL,
        source="IREV – agenda",
        summary="Résumé de la liste.",
        start=at(2024, 12, 5),
        extra={"all_day": True},
    )


# --------------------------------------------------------------------------- listing


def test_listing_gives_one_item_per_card_with_absolute_urls():
    result = parse_listing(page("agenda.html"), url=AGENDA_URL, source=agenda_source(), today=TODAY)
    assert isinstance(result, list) and isinstance(result, ListingResult)
    assert result.warnings == []
    assert [i.url for i in result] == [
        "https://www.irev.fr/agenda/qualification-engagements-quartiers-2030",
        "https://www.irev.fr/agenda/journee-regionale-mixite-sociale",
        "https://www.irev.fr/agenda/reseau-pilotes-contrats-de-ville?session=2",
    ]
    first = result[0]
    assert first.title == "Engagements Quartiers 2030 : comment et pourquoi mobiliser le droit commun ?"
    assert first.kind == "event" and first.source == "IREV – agenda" and first.category == "discriminations"
    assert first.summary.startswith("Une journée de qualification pour les pilotes")
    assert first.image == "https://www.irev.fr/sites/default/files/styles/vignette/qualification-discriminations.jpg"
    assert first.image_alt == "Des professionnels en atelier"
    assert result[1].image == "https://cdn.irev.fr/images/mixite-sociale.png"
    assert result[1].image_alt == ""  # decorative image: empty alt kept as such
    assert result[2].image is None


def test_listing_dates_from_french_text_and_time_datetime():
    result = parse_listing(page("agenda.html"), url=AGENDA_URL, source=agenda_source(), today=TODAY)
    qualification, mixite, reseau = result
    assert (qualification.start, qualification.end, qualification.extra["all_day"]) == (at(2024, 12, 5), None, True)
    assert (mixite.start, mixite.extra["all_day"]) == (at(2025, 1, 16, 9), False)  # from <time datetime>
    assert (reseau.start, reseau.end) == (at(2025, 6, 3), at(2025, 6, 5))  # "du 3 au 5 juin", year inferred


def test_article_listing_dates_go_to_published():
    source = agenda_source(kind="article", name="IREV – actualités")
    result = parse_listing(page("agenda.html"), url=AGENDA_URL, source=source, today=TODAY)
    assert result[0].kind == "article"
    assert result[0].published == at(2024, 12, 5)
    assert result[0].start is None


def test_item_element_that_is_a_link_gives_the_link():
    source = agenda_source(
        selectors={"item": "a.c-teaser", "title": ".c-teaser__title", "date": ".c-teaser__when"}
    )
    result = parse_listing(page("agenda-redesign.html"), url=AGENDA_URL, source=source, today=TODAY)
    assert [(i.url, i.start) for i in result] == [
        ("https://www.irev.fr/agenda/qualification-engagements-quartiers-2030", at(2024, 12, 5)),
        ("https://www.irev.fr/agenda/journee-regionale-mixite-sociale", at(2025, 1, 16)),
    ]
    assert result[1].title == "Journée régionale : la mixité sociale"


def test_redesigned_page_raises_selector_empty_naming_source_and_selector():
    with pytest.raises(SelectorEmpty) as caught:
        parse_listing(page("agenda-redesign.html"), url=AGENDA_URL, source=agenda_source(), today=TODAY)
    error = caught.value
    assert error.selector == ".event-card"
    assert error.field == "item"
    assert "IREV – agenda" in str(error) and "'.event-card'" in str(error)


def test_field_selector_matching_nothing_anywhere_is_a_warning():
    selectors = {**agenda_source().selectors, "date": ".field-date", "image": "picture img"}
    result = parse_listing(
        page("agenda.html"), url=AGENDA_URL, source=agenda_source(selectors=selectors), today=TODAY
    )
    assert len(result) == 3  # the items are still there
    assert all(i.start is None for i in result)
    assert len(result.warnings) == 2
    assert "'.field-date'" in result.warnings[0] and "(date)" in result.warnings[0]
    assert "'picture img'" in result.warnings[1] and "(image)" in result.warnings[1]
    assert all("IREV – agenda" in w for w in result.warnings)


def test_field_selector_matching_in_some_items_is_not_a_warning():
    # Only two of the three cards have an image: normal, not a redesign.
    result = parse_listing(page("agenda.html"), url=AGENDA_URL, source=agenda_source(), today=TODAY)
    assert result.warnings == []


def test_invalid_css_selector_is_named():
    selectors = {**agenda_source().selectors, "title": "h3[["}
    with pytest.raises(SelectorInvalid) as caught:
        parse_listing(page("agenda.html"), url=AGENDA_URL, source=agenda_source(selectors=selectors))
    assert caught.value.selector == "h3[[" and caught.value.field == "title"
    assert "'h3[['" in str(caught.value)


def test_empty_page_is_reported():
    with pytest.raises(PageEmpty, match="IREV – agenda"):
        parse_listing(b"  ", url=AGENDA_URL, source=agenda_source())


def test_charset_from_headers_is_used():
    html = (
        "<html><body><div class='event-card'><h3><a href='/a'>Journée régionale à Lille</a></h3>"
        "<p class='date'>16 février 2025</p></div></body></html>"
    ).encode("iso-8859-1")
    source = agenda_source(selectors={"item": ".event-card", "title": "h3", "date": ".date"})
    result = parse_listing(
        html, url=AGENDA_URL, source=source, headers={"Content-Type": "text/html; charset=ISO-8859-1"}, today=TODAY
    )
    assert result[0].title == "Journée régionale à Lille"
    assert result[0].start == at(2025, 2, 16)


# --------------------------------------------------------------------------- detail


def test_detail_selectors_enrich_the_event():
    item = listed_event()
    enriched = parse_detail(page("event-qualification.html"), url=DETAIL_URL, source=agenda_source(), item=item, today=TODAY)
    assert enriched.title == "Engagements « Quartiers 2030 » : comment et pourquoi mobiliser le droit commun ?"
    assert enriched.start == at(2024, 12, 5, 9, 30)
    assert enriched.end == at(2024, 12, 5, 16, 15)
    assert enriched.extra["all_day"] is False
    assert enriched.location == "Dans les locaux de l’IREV, 135 bd Painlevé à Lille"
    assert enriched.registration_url == "https://www.irev.fr/inscription-qualification-engagements-quartier-2030"
    assert enriched.registration_deadline == at(2024, 11, 28, 23, 59)
    assert (enriched.places_limited, enriched.places) == (True, 20)
    assert enriched.audience.startswith("Pilotes des contrats de ville")
    assert "i.dequin@irev.fr" in enriched.contact
    assert enriched.summary.startswith("Le 5 décembre, l’IREV réunit les pilotes")
    assert enriched.image == "https://www.irev.fr/sites/default/files/visuels/journee-qualification.jpg"
    assert enriched.image_alt == "Affiche de la journée de qualification"
    assert enriched.canonical_url == (
        "https://www.irev.fr/thematiques/discriminations-egalite/qualification-engagements-quartiers-2030-comment-et-pourquoi"
    )
    # The listing's item is left untouched; identity fields are kept.
    assert item.title == "Engagements Quartiers 2030 (titre de la liste)" and item.location is None
    assert (enriched.url, enriched.source, enriched.kind) == (item.url, item.source, item.kind)


def test_hours_selector_alone_gives_hours_to_the_listing_date():
    source = agenda_source(detail={"hours": ".event-hours"})
    enriched = parse_detail(page("event-qualification.html"), url=DETAIL_URL, source=source, item=listed_event(), today=TODAY)
    assert (enriched.start, enriched.end) == (at(2024, 12, 5, 9, 30), at(2024, 12, 5, 16, 15))
    # No registration selector: the "Inscriptions ici" link of the content is found,
    # not the newsletter subscription link of the navigation.
    assert enriched.registration_url == "https://www.irev.fr/inscription-qualification-engagements-quartier-2030"


def test_event_without_structured_date_reads_the_page_body():
    source = agenda_source(detail={"title": "h1", "date": ".event-date"})  # neither matches here
    item = dataclasses.replace(listed_event(), start=None, extra={})
    enriched = parse_detail(page("event-text-only.html"), url=DETAIL_URL, source=source, item=item, today=TODAY)
    # The navigation's "du 1er au 31 décembre 2024" is not the event's date.
    assert (enriched.start, enriched.end) == (at(2024, 12, 5, 9, 30), at(2024, 12, 5, 16, 15))
    assert enriched.title == item.title  # no h1, no JSON-LD: the listing's title stays
    assert enriched.registration_url == "https://irev.fr/inscription-qualification-engagements-quartier-2030"
    assert enriched.registration_deadline == at(2024, 11, 28, 23, 59)
    assert (enriched.places_limited, enriched.places) == (True, 20)


def test_fallback_to_jsonld_event():
    source = agenda_source()  # none of the detail selectors match this page
    enriched = parse_detail(page("event-jsonld.html"), url=DETAIL_URL, source=source, item=listed_event(), today=TODAY)
    assert enriched.title == "Journée régionale : la mixité sociale"
    assert (enriched.start, enriched.end) == (at(2025, 1, 16, 9), at(2025, 1, 16, 16, 30))
    assert enriched.extra["all_day"] is False
    assert enriched.location == "IREV, 135 boulevard Paul Painlevé, 59000 Lille"
    assert enriched.extra["attendance_mode"] == "mixed"
    assert enriched.registration_url == "https://www.irev.fr/inscription-journee-mixite-sociale"
    assert (enriched.places_limited, enriched.places) == (True, 80)
    assert enriched.contact == "IREV – contact@irev.fr"
    assert enriched.summary.startswith("Une journée pour conforter les démarches locales")
    assert enriched.image == "https://www.irev.fr/sites/default/files/mixite.jpg"
    assert enriched.image_alt is None


def article_item() -> Item:
    return Item(kind="article", title="Titre de la liste", url="https://www.irev.fr/actualites/x", source="IREV – actualités")


def test_fallback_to_jsonld_article_over_opengraph():
    source = agenda_source(kind="article", detail={})
    enriched = parse_detail(page("article-jsonld.html"), url=article_item().url, source=source, item=article_item(), today=TODAY)
    assert enriched.title == "Le programme 2023 de l’IREV est en ligne"
    assert enriched.published == at(2022, 11, 21, 10, 30)
    assert enriched.summary == "Trois axes pour accompagner les acteurs des Hauts-de-France vers les prochains contrats de ville."
    assert enriched.image == "https://www.irev.fr/images/programme-2023.jpg"
    assert enriched.canonical_url == "https://www.irev.fr/actualites/programme-2023"
    assert enriched.start is None and enriched.places_limited is False


def test_fallback_to_opengraph_time_and_canonical():
    source = agenda_source(kind="article", detail={"summary": ".chapo"})
    item = dataclasses.replace(article_item(), summary="")
    enriched = parse_detail(page("article-og.html"), url="https://www.irev.fr/ressources/x", source=source, item=item, today=TODAY)
    assert enriched.title == "Titre de la liste"  # OpenGraph only fills blanks
    assert enriched.summary.startswith("Clarifier le rôle des ingénieries")  # meta description
    assert enriched.image == "https://www.irev.fr/sites/default/files/cartographie.png"
    assert enriched.image_alt == "Carte des Hauts-de-France"
    assert enriched.published == at(2023, 3, 14)  # <time datetime>
    assert enriched.canonical_url == "https://www.irev.fr/ressources/cartographie-des-acteurs"  # link rel wins over og:url


def test_opengraph_title_used_when_listing_had_none():
    item = dataclasses.replace(article_item(), title="")
    enriched = parse_detail(page("article-og.html"), url=item.url, source=agenda_source(kind="article", detail={}), item=item)
    assert enriched.title == "Cartographie des acteurs de la politique de la ville"


def test_parse_metadata_on_any_page():
    meta = parse_metadata(page("event-jsonld.html"), "https://www.irev.fr/agenda/mixite")
    assert meta["type"] == "event"
    assert meta["start"] == at(2025, 1, 16, 9)
    assert meta["online"] is True and meta["attendance_mode"] == "mixed"
    og = parse_metadata(page("article-og.html"), "https://www.irev.fr/ressources/x")
    assert og["type"] == "article" and og["title"] is None
    assert og["og_title"] == "Cartographie des acteurs de la politique de la ville"
    assert og["times"] == [(at(2023, 3, 14), True)]
    assert og["canonical_url"] == "https://www.irev.fr/ressources/cartographie-des-acteurs"


def test_invalid_jsonld_is_ignored_not_fatal():
    html = b"""<html><head><script type="application/ld+json">{"@type": "Event", oops}</script>
    <meta property="og:title" content="Atelier"></head><body><p>Le 5 d\xc3\xa9cembre 2024 de 14h \xc3\xa0 16h</p></body></html>"""
    item = Item(kind="event", title="Atelier", url="https://www.irev.fr/a")
    enriched = parse_detail(html, url=item.url, source=agenda_source(detail={}), item=item, today=TODAY)
    assert (enriched.start, enriched.end) == (at(2024, 12, 5, 14), at(2024, 12, 5, 16))


def test_links_that_are_not_pages_are_skipped():
    html = """<html><body>
      <div class="event-card"><h3><a href="#">Atelier mixité</a></h3>
        <a href="javascript:;">Favoris +</a> <a href="/agenda/atelier-mixite">Lire la suite</a></div>
      <div class="event-card"><h3>Réunion du réseau</h3><a href="mailto:contact@irev.fr">Écrire</a></div>
    </body></html>""".encode()
    source = agenda_source(selectors={"item": ".event-card", "title": "h3", "link": "h3 a"})
    result = parse_listing(html, url=AGENDA_URL, source=source, today=TODAY)
    assert [(i.title, i.url) for i in result] == [
        ("Atelier mixité", "https://www.irev.fr/agenda/atelier-mixite"),
        ("Réunion du réseau", AGENDA_URL),  # no page of its own: the listing's URL, with a warning
    ]
    assert any("'Réunion du réseau'" in w and "no link" in w for w in result.warnings)


def test_metadata_dates_that_are_not_iso_are_read():
    html = b"""<html><head><meta property="article:published_time" content="Thu, 05 Dec 2024 10:00:00 +0100">
    </head><body></body></html>"""
    assert parse_metadata(html, "https://www.irev.fr/a")["published"] == at(2024, 12, 5, 10)
    partial = b"""<html><head><meta property="article:published_time" content="2024"></head></html>"""
    assert parse_metadata(partial, "https://www.irev.fr/a")["published"] is None
