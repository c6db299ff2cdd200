"""Social drafts: each platform's own limit and counting, hashtags, Buffer CSV, golden drafts.

Regenerate the golden files with UPDATE_GOLDEN=1 (see tests/test_render.py).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pytest
from goldentools import check_golden, load_issue

from newsletter.render.branding import load_branding
from newsletter.models import Issue, Item
from newsletter.render.social import (
    BUFFER_COLUMNS,
    LIMITS,
    PLATFORMS,
    SocialError,
    buffer_csv,
    buffer_csvs,
    fits,
    platform_length,
    social_drafts,
)

HASHTAGS = {
    "*": ["PolitiqueDeLaVille"],
    "discriminations": ["PreventionDiscriminations", "Égalité"],
    "transitions": ["Transitions"],
    "education": ["CitésÉducatives"],
    "contrats-de-ville": ["ContratsDeVille"],
}


@pytest.fixture(scope="module")
def branding():
    return load_branding()


@pytest.fixture(scope="module")
def drafts(branding):
    return social_drafts(load_issue(), branding, HASHTAGS)


def test_golden_drafts_and_buffer_csv(drafts):
    keep = ("platform", "kind", "item_url", "url", "length", "text")
    check_golden("social_drafts.json", json.dumps([{k: d[k] for k in keep} for d in drafts], ensure_ascii=False, indent=1))
    check_golden("buffer_linkedin.csv", buffer_csv(drafts, "linkedin"))


def test_one_draft_per_item_and_platform_plus_announcement(drafts):
    issue = load_issue()
    shareable = [it for it in issue.all_items() if it.kind != "press"]
    for platform in PLATFORMS:
        mine = [d for d in drafts if d["platform"] == platform]
        assert [d["item_url"] for d in mine if d["kind"] == "item"] == [it.url for it in shareable]
        (announcement,) = [d for d in mine if d["kind"] == "announcement"]
        assert "La lettre de l'IREV de décembre 2025 est parue" in announcement["text"]
        assert "https://www.irev.fr/lettre/2025-12/" in announcement["text"]
    assert all(d["fits"] and d["length"] == platform_length(d["text"], d["platform"]) for d in drafts)


def test_item_draft_content_and_hashtags(drafts):
    linkedin = next(d for d in drafts if d["platform"] == "linkedin" and d["kind"] == "item")
    assert "vendredi 5 décembre 2025, 9 h 30 – 16 h 15" in linkedin["text"]
    assert "places limitées (20)" in linkedin["text"]
    assert linkedin["text"].rstrip().endswith("#PreventionDiscriminations #Égalité #PolitiqueDeLaVille")
    assert "Une journée pour aider les pilotes" in linkedin["text"]  # LinkedIn has room for the summary
    x = next(d for d in drafts if d["platform"] == "x" and d["kind"] == "item")
    assert x["url"] in x["text"] and x["length"] <= 280


# ------------------------------------------------------------------ counting rules


def test_x_counts_urls_as_23_and_emoji_as_2():
    long_url = "https://www.irev.fr/" + "a" * 200
    assert platform_length(long_url, "x") == 23
    assert platform_length("📅", "x") == 2
    assert platform_length("é", "x") == 1
    assert platform_length("e\u0301", "x") == 1  # combining accent, NFC-normalised
    assert fits("a" * 280, "x") and not fits("a" * 281, "x")
    assert not fits("📅" * 141, "x")


def test_mastodon_counts_urls_as_23():
    text = "Voir https://www.irev.fr/" + "b" * 300 + " et https://x.fr/c"
    assert platform_length(text, "mastodon") == len("Voir ") + 23 + len(" et ") + 23
    assert fits("a" * 500, "mastodon") and not fits("a" * 501, "mastodon")


def test_bluesky_counts_graphemes_with_urls_in_full():
    assert platform_length("🇫🇷", "bluesky") == 1
    assert platform_length("👩‍👩‍👧", "bluesky") == 1
    assert platform_length("e\u0301\u0301", "bluesky") == 1
    url = "https://www.irev.fr/" + "c" * 100
    assert platform_length(url, "bluesky") == len(url)
    assert fits("a" * 300, "bluesky") and not fits("a" * 301, "bluesky")


def test_linkedin_counts_utf16_units():
    assert platform_length("😀", "linkedin") == 2
    assert fits("a" * 3000, "linkedin") and not fits("a" * 3001, "linkedin")


def test_unknown_platform_is_named():
    with pytest.raises(SocialError, match="unknown platform 'facebook'"):
        platform_length("x", "facebook")


# ------------------------------------------------------------------ adversarial input

ZALGO = "Q\u0301\u0302\u0303u\u0304\u0305a\u0306r\u0307t\u0308i\u0309e\u030a\u030br"
ADVERSARIAL = [
    ("titre très long", "Journée " * 120, "Résumé court."),
    ("emoji", "🎉📅🏘️👩‍👩‍👧🇫🇷 " * 40, "🚀" * 300),
    ("plusieurs URL", "Trois liens",
     " ".join(f"https://www.irev.fr/ressource/{n}/" + "x" * 60 for n in range(30))),
    ("caractères combinants", ZALGO * 60, ZALGO * 100),
    ("mot sans espace", "A" * 900, "B" * 5000),
]


@pytest.mark.parametrize("label,title,summary", ADVERSARIAL, ids=[a[0] for a in ADVERSARIAL])
@pytest.mark.parametrize("kind", ["article", "event"])
def test_adversarial_items_fit_every_platform(branding, label, title, summary, kind):
    issue = Issue(month=date(2025, 12, 1), today=date(2025, 12, 1), category_labels={"transitions": "Transitions"})
    item = Item(
        kind=kind, title=title, summary=summary, url="https://www.irev.fr/agenda/" + "z" * 80,
        category="transitions", location="Lille " * 20 if kind == "event" else None,
        start=datetime(2025, 12, 5, 9, 30) if kind == "event" else None,
        end=datetime(2025, 12, 5, 16, 15) if kind == "event" else None,
    )
    issue.featured = [item]
    issue.news = {"transitions": [item]}
    result = social_drafts(issue, branding, {"transitions": ["Transitions", "Quartiers2030", "Égalité"]})
    assert {d["platform"] for d in result} == set(PLATFORMS)
    for d in result:
        assert d["length"] <= LIMITS[d["platform"]], (d["platform"], d["length"])
        assert fits(d["text"], d["platform"])
        assert d["url"] in d["text"]  # the link always survives shortening


def test_bad_hashtag_is_named(branding):
    with pytest.raises(SocialError, match="'#Politique de la ville'"):
        social_drafts(load_issue(), branding, {"transitions": ["#Politique de la ville"]})


def test_works_without_any_hashtag(branding):
    result = social_drafts(load_issue(), branding, {})
    assert result and all("#" not in d["text"] for d in result)


# ------------------------------------------------------------------ Buffer CSV


def test_buffer_csv_round_trips(drafts):
    text = buffer_csv(drafts, "mastodon")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == BUFFER_COLUMNS
    mastodon = [d for d in drafts if d["platform"] == "mastodon"]
    assert [r[0] for r in rows[1:]] == [d["text"] for d in mastodon]  # multi-line texts survive quoting
    assert rows[1][1] == mastodon[0]["image"]
    assert rows[1][2] == "lettre-2025-12,discriminations"
    assert all(r[3] == "" for r in rows[1:])
    per_platform = buffer_csvs(drafts)
    assert sorted(per_platform) == sorted(PLATFORMS) and per_platform["mastodon"] == text


def test_buffer_csv_posting_time(drafts):
    draft = dict(drafts[0], posting_time=datetime(2025, 12, 2, 9, 0))
    rows = list(csv.reader(io.StringIO(buffer_csv([draft]))))
    assert rows[1][3] == "2025-12-02 09:00"
    with pytest.raises(SocialError, match="has no 'text'"):
        buffer_csv([{"title": "Sans texte"}])


def test_csv_cells_never_run_as_formulas():
    from newsletter.render.social import buffer_csv
    import csv as _csv
    import io as _io

    drafts = [{"platform": "x", "text": "=HYPERLINK(\"https://evil.example\")", "image": "@img", "tags": ["-x"]},
              {"platform": "x", "text": "+33 : un numéro", "tags": []}]
    rows = list(_csv.reader(_io.StringIO(buffer_csv(drafts, "x"))))[1:]
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), row
    assert rows[0][0] == "'=HYPERLINK(\"https://evil.example\")"


def test_long_place_line_goes_before_the_title():
    from datetime import datetime as _dt
    from zoneinfo import ZoneInfo as _Z

    from newsletter.models import Issue as _Issue, Item as _Item
    from newsletter.render.branding import load_branding
    from newsletter.render.social import platform_length, social_drafts, LIMITS

    title = "Rencontre régionale des pilotes des contrats de ville et des délégués du préfet des Hauts-de-France"
    event = _Item(kind="event", title=title, url="https://irev.fr/agenda/rencontre", summary="x " * 200,
                  start=_dt(2026, 1, 20, 9, 30, tzinfo=_Z("Europe/Paris")),
                  location="Salle des fêtes Jean Moulin, " + "bâtiment annexe, " * 6 + "59000 Lille",
                  places_limited=True, places=40)
    issue = _Issue(month=_dt(2026, 1, 1).date(), today=_dt(2026, 1, 2).date(), agenda=[event])
    drafts = social_drafts(issue, load_branding(), {"*": ["#PolitiqueDeLaVille", "#HautsDeFrance"]},
                           platforms=("x", "bluesky"))
    for d in drafts:
        if d["kind"] == "item":
            assert platform_length(d["text"], d["platform"]) <= LIMITS[d["platform"]]
            assert title[:40] in d["text"], d["text"]
            assert "https://" in d["text"]
