"""Rendering of the monthly newsletter: golden files, accessibility, size budget, validation.

Golden files live in tests/golden/. Regenerate them after an intended change with
``.venv/bin/python -m pytest tests/test_render.py tests/test_social.py --update-golden`` (or UPDATE_GOLDEN=1)
and review the diff.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import lxml.html
import pytest
from goldentools import HERE, check_golden, load_issue
from icalendar import Calendar

from newsletter.render.branding import (
    COLOR_PAIRS,
    BrandingError,
    contrast_ratio,
    load_branding,
)
from newsletter.render.frformat import (
    format_date_fr,
    format_event_when_fr,
    format_hours_fr,
    format_month_fr,
)
from newsletter.render.ics import event_ics, ics_filename
from newsletter.models import Issue, Item
from newsletter.render.newsletter import TEMPLATES_DIR, TemplateError, render_newsletter, validate_html

ROOT = HERE.parent


@pytest.fixture(scope="module")
def branding():
    return load_branding()


@pytest.fixture(scope="module")
def rendered(branding):
    return render_newsletter(load_issue(), branding)


def doc(html: str):
    return lxml.html.document_fromstring(html)


# ------------------------------------------------------------------ golden


def test_golden_html_and_text(rendered):
    check_golden("newsletter.html", rendered.html)
    check_golden("newsletter.txt", rendered.text)


# ------------------------------------------------------------------ content


def test_header_subject_and_sections(rendered, branding):
    assert rendered.subject == "La lettre de l'IREV – décembre 2025"
    tree = doc(rendered.html)
    assert tree.findtext(".//title") == rendered.subject
    headings = [h.text_content().strip() for h in tree.iter("h2")]
    assert headings == ["Édito", "À la une", "Agenda", "Actualités", "Ressources", "Revue de presse"]
    assert tree.findtext(".//h1") == "La lettre de l'IREV"
    assert "Décembre 2025" in tree.text_content()
    # News grouped by the category's French label.
    subheads = [h.text_content() for h in tree.iter("h3")]
    assert "Prévention des discriminations" in subheads and "Contrats de ville" in subheads


def test_agenda_event_details(rendered, branding):
    issue = load_issue()
    tree = doc(rendered.html)
    text = tree.text_content()
    assert "vendredi 5 décembre 2025, 9 h 30 – 16 h 15" in text
    assert "Places limitées (20)" in text
    assert "Inscription avant le 10 décembre 2025" in text
    assert "jeudi 12 février 2026" in text  # all-day event: date without hours
    links = {a.text_content().strip(): a for a in tree.iter("a")}
    register = [a for a in tree.iter("a") if a.text_content().strip() == "S'inscrire"]
    assert register[0].get("href") == issue.featured[0].registration_url
    ics_links = [a.get("href") for a in tree.iter("a") if a.text_content().strip() == "Ajouter à mon agenda"]
    events = [issue.featured[0]] + issue.agenda
    assert ics_links == [f"https://www.irev.fr/lettre/2025-12/ics/{ics_filename(ev)}" for ev in events]
    assert "Voir la version en ligne" in links
    # The calendar files to publish are exactly the ones linked.
    files = rendered.ics_files()
    assert sorted(files) == sorted(h.rsplit("/", 1)[1] for h in ics_links)


def test_featured_item_not_repeated(rendered):
    issue = load_issue()
    tree = doc(rendered.html)
    titles = [a.text_content().strip() for a in tree.iter("a")]
    first = issue.featured[2].title  # a resource chosen "À la une"
    assert titles.count(first) == 1


def test_press_watch_shows_outlet_title_date(rendered):
    text = doc(rendered.html).text_content()
    assert "La Voix du Nord · 3 nov. 2025" in text
    assert "Dans les quartiers nord, la rénovation urbaine entre dans sa dernière phase" in text


def test_footer_address_contact_and_visible_unsubscribe(rendered, branding):
    tree = doc(rendered.html)
    text = re.sub(r"\s+", " ", tree.text_content())
    assert "Bât. Arboretum, 7e étage, 135 boulevard Paul Painlevé, 59000 Lille" in text
    assert "03 20 25 10 29" in text
    unsub = [a for a in tree.iter("a") if a.get("href") == "{{unsubscribe_url}}"]
    assert len(unsub) == 1 and unsub[0].text_content() == "Se désinscrire de la lettre"
    assert "display:none" not in (unsub[0].get("style") or "").replace(" ", "")


def test_plain_text_is_written_for_people(rendered):
    text = rendered.text
    for heading in ("ÉDITO", "À LA UNE", "AGENDA", "ACTUALITÉS", "RESSOURCES", "REVUE DE PRESSE"):
        assert f"\n{heading}\n" in text
    assert "<" not in text and "&#" not in text and "&amp;" not in text
    assert "vendredi 5 décembre 2025, 9 h 30 – 16 h 15" in text
    assert "S'inscrire : https://irev.fr/inscription-qualification-engagements-quartiers-2030" in text
    assert "Se désinscrire de la lettre : {{unsubscribe_url}}" in text
    # No line longer than 80 characters unless it carries a URL.
    long_lines = [ln for ln in text.splitlines() if len(ln) > 80 and "http" not in ln]
    assert long_lines == []


# ------------------------------------------------------------------ accessibility


def test_lang_title_and_preheader(rendered):
    tree = doc(rendered.html)
    assert tree.get("lang") == "fr"
    assert rendered.preheader.startswith("Journée de qualification")
    assert "8 rendez-vous à l'agenda" in rendered.preheader
    # The preheader is the first text of the body (hidden preview text).
    body_text = tree.find(".//body").text_content().strip()
    assert body_text.startswith(rendered.preheader[:40])


def test_every_image_has_alt_text_and_falls_back_to_title(branding):
    issue = load_issue()
    # The article "À la une" has an image and no alt text from its source.
    assert issue.featured[1].image and not issue.featured[1].image_alt
    html = render_newsletter(issue, branding).html
    images = list(doc(html).iter("img"))
    assert len(images) == 3  # logo + two featured images
    alts = [img.get("alt") for img in images]
    assert all(a and a.strip() for a in alts)
    assert "IREV" in alts
    assert issue.featured[1].title in alts
    assert issue.featured[0].image_alt in alts


def test_links_say_where_they_go(rendered):
    vague = {"ici", "cliquez ici", "lire la suite", "en savoir plus", "lien"}
    for a in doc(rendered.html).iter("a"):
        label = (a.text_content().strip() or " ".join(i.get("alt", "") for i in a.iter("img"))).lower()
        assert label and label not in vague, a.get("href")


def _effective_background(el) -> str | None:
    node = el
    while node is not None:
        style = (node.get("style") or "").replace(" ", "").lower()
        m = re.search(r"background(?:-color)?:(#[0-9a-f]{6})", style)
        if m:
            return m.group(1)
        if node.get("bgcolor"):
            return node.get("bgcolor").lower()
        node = node.getparent()
    return None


def test_contrast_of_every_rendered_text_colour(rendered, branding):
    tree = doc(rendered.html)
    checked = set()
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        style = (el.get("style") or "").replace(" ", "").lower()
        m = re.search(r"(?:^|;)color:(#[0-9a-f]{6})", style)
        if not m or "display:none" in style:  # the hidden preheader is never seen
            continue
        bg = _effective_background(el)
        assert bg is not None, f"<{el.tag}> has a text colour but no background"
        ratio = contrast_ratio(m.group(1), bg)
        assert ratio >= 4.5, f"{m.group(1)} on {bg}: {ratio:.2f}"
        checked.add((m.group(1), bg))
    assert len(checked) >= 6  # header, buttons, body text, links, muted, footer


def test_configured_colour_pairs_reach_wcag_aa(branding):
    for fg, bg, fg_hex, bg_hex in branding.color_pairs():
        assert contrast_ratio(fg_hex, bg_hex) >= 4.5, (fg, bg)
    assert ("on_accent", "accent") in COLOR_PAIRS


def test_low_contrast_branding_is_refused(tmp_path):
    text = (ROOT / "sources" / "branding.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "branding.yaml"
    bad.write_text(text.replace('accent: "#a3154a"', 'accent: "#f4a7c0"'), encoding="utf-8")
    with pytest.raises(BrandingError) as err:
        load_branding(bad)
    assert str(bad) in str(err.value) and "colors.accent (#f4a7c0)" in str(err.value) and "WCAG" in str(err.value)


def test_branding_errors_name_file_and_problem(tmp_path):
    with pytest.raises(BrandingError, match="file not found"):
        load_branding(tmp_path / "nope.yaml")
    text = (ROOT / "sources" / "branding.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "b.yaml"
    bad.write_text(text.replace('text: "#1f2933"', 'text: "dark"'), encoding="utf-8")
    with pytest.raises(BrandingError, match=r"b\.yaml: colors\.text must be '#rrggbb'"):
        load_branding(bad)
    bad.write_text(text.replace("archive_url: https://www.irev.fr/lettre", "archive_url: lettre"), encoding="utf-8")
    with pytest.raises(BrandingError, match="archive_url"):
        load_branding(bad)


# ------------------------------------------------------------------ size budget


def test_full_month_stays_under_gmail_clipping(rendered, branding):
    assert len(load_issue().all_items()) == 40
    assert rendered.size_bytes == len(rendered.html.encode("utf-8"))
    assert rendered.size_bytes < 102_000
    assert rendered.warnings == []


def test_oversized_issue_warns_and_names_what_to_trim(branding):
    issue = load_issue()
    long = " ".join(["Un résumé volontairement long pour grossir la lettre."] * 8)
    extra = [
        Item(kind="article", title=f"Article supplémentaire {n}", url=f"https://www.irev.fr/a/{n}",
             summary=long, category="transitions")
        for n in range(150)
    ]
    issue.news["transitions"] = issue.news["transitions"] + extra
    result = render_newsletter(issue, branding)
    assert result.size_bytes > 102_000
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert "Gmail" in warning and "102 Ko" in warning
    assert "Actualités (166 éléments" in warning  # the heaviest section comes first


def test_near_budget_warns(branding):
    small = dataclasses.replace(branding, size_budget_bytes=int(render_newsletter(load_issue(), branding).size_bytes * 1.05))
    result = render_newsletter(load_issue(), small)
    assert result.warnings and "proche de la limite" in result.warnings[0]


# ------------------------------------------------------------------ campaign parameters


def test_campaign_parameters_off_by_default(rendered):
    assert "utm_" not in rendered.html and "mtm_" not in rendered.html


def test_campaign_parameters_from_branding(branding):
    tracked = copy.deepcopy(branding)
    tracked.campaign.enabled = True
    html = render_newsletter(load_issue(), tracked).html
    tree = doc(html)
    hrefs = [a.get("href") for a in tree.iter("a")]
    article = [h for h in hrefs if h.startswith("https://www.irev.fr/actualites/evaluation-contrats-de-ville")][0]
    assert article.endswith("?utm_source=newsletter&utm_medium=email&utm_campaign=lettre-2025-12")
    assert "{{unsubscribe_url}}" in hrefs  # the ESP token is left alone
    assert "mailto:contact@irev.fr" in hrefs
    assert all("utm_" not in h for h in hrefs if h.endswith(".ics"))


def test_campaign_parameters_explicit_matomo_keep_existing_query(branding):
    issue = load_issue()
    issue.news["transitions"][0].url = "https://www.irev.fr/a?id=3&mtm_source=site"
    html = render_newsletter(issue, branding, campaign={"mtm_campaign": "lettre", "mtm_source": "email"}).html
    assert "https://www.irev.fr/a?id=3&amp;mtm_source=site&amp;mtm_campaign=lettre" in html


# ------------------------------------------------------------------ template errors


@pytest.fixture
def templates_copy(tmp_path):
    dest = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_unknown_mjml_tag_fails_with_template_name(templates_copy, branding):
    _edit(templates_copy / "newsletter.mjml.j2", '<mj-text padding="0 24px" color', '<mj-txt padding="0 24px" color')
    _edit(templates_copy / "newsletter.mjml.j2", "</mj-text>\n</mj-column>\n</mj-section>\n{%- if editorial %}",
          "</mj-txt>\n</mj-column>\n</mj-section>\n{%- if editorial %}")
    with pytest.raises(TemplateError) as err:
        render_newsletter(load_issue(), branding, templates_dir=templates_copy)
    assert "newsletter.mjml.j2" in str(err.value) and "mj-txt" in str(err.value)


def test_undefined_variable_fails_with_template_and_line(templates_copy, branding):
    _edit(templates_copy / "partials" / "macros.mjml.j2", "{{ it.title }}", "{{ it.titel }}")
    with pytest.raises(TemplateError) as err:
        render_newsletter(load_issue(), branding, templates_dir=templates_copy)
    assert "macros.mjml.j2, line" in str(err.value) and "titel" in str(err.value)


def test_broken_structure_fails(templates_copy, branding):
    _edit(templates_copy / "partials" / "macros.mjml.j2", '<p class="nl-meta">{{ it.meta }}</p>', '<p class="nl-meta">{{ it.meta }}</p></span>')
    with pytest.raises(TemplateError) as err:
        render_newsletter(load_issue(), branding, templates_dir=templates_copy)
    assert str(err.value).startswith("newsletter.mjml.j2: MJML error")
    assert "generated MJML line" in str(err.value)  # with an excerpt showing where


def test_html_validation_names_template_and_problem():
    page = '<!DOCTYPE html><html lang="fr"><head><title>T</title></head><body><div><span>x</div></body></html>'
    with pytest.raises(TemplateError, match=r"^x\.mjml\.j2: broken HTML: line 1: </div> does not close anything"):
        validate_html(page, "x.mjml.j2")
    with pytest.raises(TemplateError, match="expected \"fr\""):
        validate_html(page.replace('lang="fr"', 'lang="en"').replace("<span>x", "x"), "x.mjml.j2")
    with pytest.raises(TemplateError, match="link to 'https://a.fr' has no text"):
        validate_html(page.replace("<span>x", '<a href="https://a.fr"></a>'), "x.mjml.j2")


def test_image_without_alt_fails(templates_copy, branding):
    _edit(templates_copy / "newsletter.mjml.j2", 'alt="{{ it.image_alt }}"', "")
    with pytest.raises(TemplateError, match="has no alt text"):
        render_newsletter(load_issue(), branding, templates_dir=templates_copy)


def test_empty_issue_renders_with_a_warning(branding):
    issue = Issue(month=date(2026, 1, 1), today=date(2026, 1, 2))
    result = render_newsletter(issue, branding)
    assert "janvier 2026" in result.subject
    assert any("aucun élément" in w for w in result.warnings)


def test_user_text_is_escaped(branding):
    issue = load_issue()
    issue.news["transitions"][0].title = "Quartiers <script>alert(1)</script> & cités"
    html = render_newsletter(issue, branding).html
    assert "<script" not in html
    assert ">Quartiers &amp; cités</a>" in html


# ------------------------------------------------------------------ French dates, ics


def test_french_dates():
    assert format_date_fr(date(2025, 12, 5)) == "vendredi 5 décembre 2025"
    assert format_date_fr(date(2026, 1, 1)) == "jeudi 1er janvier 2026"
    assert format_month_fr(date(2025, 12, 1)) == "décembre 2025"
    assert format_hours_fr(datetime(2025, 12, 5, 9, 30), datetime(2025, 12, 5, 16, 15)) == "9 h 30 – 16 h 15"
    assert format_hours_fr(datetime(2025, 12, 5, 14, 0)) == "à partir de 14 h"
    assert format_event_when_fr(datetime(2026, 1, 13, 9), datetime(2026, 1, 14, 17)) == (
        "du mardi 13 janvier au mercredi 14 janvier 2026"
    )


def test_event_ics_is_a_valid_calendar():
    ev = load_issue().featured[0]
    cal = Calendar.from_ical(event_ics(ev))
    (vevent,) = cal.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == ev.title
    assert vevent.decoded("DTSTART") == ev.start
    assert vevent.decoded("DTEND") == ev.end
    assert "135 boulevard Paul Painlevé" in str(vevent["LOCATION"])
    assert cal.walk("VTIMEZONE")
    name = ics_filename(ev)
    assert name == ics_filename(ev) and name.startswith("2025-12-05-journee-de-qualification") and name.endswith(".ics")
    with pytest.raises(ValueError, match="no start date"):
        ics_filename(Item(kind="event", title="Sans date", url="https://x.fr"))
