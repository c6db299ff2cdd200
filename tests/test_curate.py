"""Curation: sections, agenda window, history, featured items and the report."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from newsletter.curate.classify import Taxonomy
from newsletter.curate.curation import HistoryEntry, curate
from newsletter.models import Issue, Item

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2025, 11, 20)
MONTH = date(2025, 12, 1)


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.default()


def at(d: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=PARIS)


def event(title: str, slug: str, days: int | None, **kw) -> Item:
    start = at(TODAY + timedelta(days=days), 9, 30) if days is not None else None
    return Item(kind="event", title=title, url=f"https://www.irev.fr/agenda/{slug}", start=start,
                location=kw.pop("location", "IREV, 135 boulevard Painlevé, Lille"), **kw)


def article(title: str, slug: str, days_ago: int | None, kind: str = "article", **kw) -> Item:
    published = at(TODAY - timedelta(days=days_ago)) if days_ago is not None else None
    return Item(kind=kind, title=title, url=f"https://www.irev.fr/actualites/{slug}", published=published, **kw)


def sample() -> list[Item]:
    return [
        event("Journée de qualification : prévenir les discriminations", "qualif-discri", 15,
              places=20, places_limited=True, summary="Une journée pour mobiliser le droit commun."),
        event("Webinaire flash : les aires ludo-sportives", "webinaire-aires", 3,
              summary="La pratique sportive féminine dans l'espace public."),
        event("Rencontre sur site : gestion transitoire", "rencontre-ru", 0, summary="Renouvellement urbain."),
        event("Séminaire d'hier", "seminaire-passe", -1, summary="Déjà passé."),
        event("Cycle de printemps", "cycle-printemps", 120, summary="Trop loin."),
        event("Rencontre à une date à préciser", "sans-date", None),
        article("Retour sur l'assemblée générale de l'IREV", "ag", 5, summary="Les membres du GIP ont voté."),
        article("Programme de travail 2026 du centre de ressources", "programme", 10),
        article("Cités éducatives : le soutien prolongé", "cites", 2, summary="Les cités éducatives continuent."),
        article("Cités éducatives : un guide pour les parents", "cites-guide", 8),
        article("Santé mentale des jeunes des quartiers", "sante", 1),
        article("Une actualité sans rubrique", "divers", 4, summary="Rien de particulier."),
        article("Vieille actualité de l'été sur l'emploi", "vieille", 90),
        article("Actualité sans date sur le renouvellement urbain", "sans-date-ru", None),
        article("Guide : conduire un plan de lutte contre les discriminations", "guide", 400, kind="resource"),
        article("Boîte à outils de la prévention des discriminations", "boite", 30, kind="resource"),
        # the same press story from two press-watch feeds
        Item(kind="press", title="Politique de la ville : la nouvelle géographie prioritaire publiée",
             url="https://www.lequotidien.fr/societe/geographie-prioritaire?utm_source=veille1&xtor=RSS-1",
             outlet="Le Quotidien", published=at(TODAY - timedelta(days=3)),
             summary="Le décret fixant la liste des quartiers prioritaires est paru au Journal officiel."),
        Item(kind="press", title="Politique de la ville: nouvelle géographie prioritaire publiée",
             url="https://lequotidien.fr/societe/geographie-prioritaire?utm_medium=flux2",
             outlet="Le Quotidien", published=at(TODAY - timedelta(days=3)), summary="Décret paru."),
        Item(kind="press", title="Emploi : le chômage recule dans les quartiers", url="https://presse.fr/emploi",
             outlet="Presse Régionale", published=at(TODAY - timedelta(days=6))),
    ]


def titles(items: list[Item]) -> list[str]:
    return [i.title for i in items]


def test_agenda_window_sorted_and_out_of_window_events_dropped_with_reason(taxonomy):
    cur = curate(sample(), taxonomy=taxonomy, today=TODAY, month=MONTH)
    assert titles(cur.issue.agenda) == [
        "Rencontre sur site : gestion transitoire",  # today counts as upcoming
        "Webinaire flash : les aires ludo-sportives",
        "Journée de qualification : prévenir les discriminations",
    ]
    reasons = {d["title"]: d["reason"] for d in cur.report["dropped"]}
    assert "événement passé" in reasons["Séminaire d'hier"]
    assert "horizon de 90 jours" in reasons["Cycle de printemps"]
    assert "sans date" in reasons["Rencontre à une date à préciser"]
    wider = curate(sample(), taxonomy=taxonomy, today=TODAY, month=MONTH, horizon_days=150)
    assert "Cycle de printemps" in titles(wider.issue.agenda)


def test_news_grouped_by_category_in_taxonomy_order_most_recent_first(taxonomy):
    issue = curate(sample(), taxonomy=taxonomy, today=TODAY, month=MONTH).issue
    slugs = list(issue.news)
    assert slugs == sorted(slugs, key=taxonomy.slugs.index)
    assert slugs[-1] == "autres"
    assert titles(issue.news["education-jeunesse"]) == [
        "Cités éducatives : le soutien prolongé",
        "Cités éducatives : un guide pour les parents",
    ]
    assert titles(issue.news["vie-du-reseau"]) == [
        "Retour sur l'assemblée générale de l'IREV",
        "Programme de travail 2026 du centre de ressources",
    ]
    assert "Actualité sans date sur le renouvellement urbain" in titles(issue.news["renouvellement-urbain"])
    assert issue.category_labels["vie-du-reseau"] == "Vie du réseau"
    assert issue.month == MONTH and issue.today == TODAY
    for slug, group in issue.news.items():
        assert all(i.category == slug and i.kind == "article" for i in group)


def test_old_articles_dropped_but_resources_kept(taxonomy):
    cur = curate(sample(), taxonomy=taxonomy, today=TODAY, month=MONTH)
    all_titles = titles(cur.issue.all_items())
    assert "Vieille actualité de l'été sur l'emploi" not in all_titles
    reason = next(d["reason"] for d in cur.report["dropped"] if d["title"].startswith("Vieille"))
    assert "trop ancien" in reason and "62 jours" in reason
    assert titles(cur.issue.resources) == [
        "Boîte à outils de la prévention des discriminations",
        "Guide : conduire un plan de lutte contre les discriminations",
    ]


def test_shared_press_story_appears_once_with_merge_in_report(taxonomy):
    cur = curate(sample(), taxonomy=taxonomy, today=TODAY, month=MONTH)
    press = cur.issue.press
    assert len([p for p in press if "géographie prioritaire" in p.title]) == 1
    assert titles(press)[0].startswith("Politique de la ville")  # most recent first
    (merge,) = cur.report["merged"]
    assert merge["reason"] == "same canonical URL"
    assert "utm_medium=flux2" in merge["absorbed_url"]


def test_already_sent_items_are_not_repeated(taxonomy):
    sent = datetime(2025, 11, 5, 10, tzinfo=PARIS)
    history = [
        HistoryEntry(key="https://irev.fr/actualites/ag", kind="article", title="AG", start=None, location=None,
                     sent_at=sent, draft_id="2025-11"),
        HistoryEntry(key="https://lequotidien.fr/societe/geographie-prioritaire", kind="press", title="Géo",
                     start=None, location=None, sent_at=sent, draft_id="2025-11"),
        HistoryEntry(key="https://irev.fr/actualites/boite", kind="resource", title="Boîte", start=None,
                     location=None, sent_at=sent, draft_id="2025-11"),
    ]
    cur = curate(sample(), taxonomy=taxonomy, today=TODAY, month=MONTH, history=history)
    all_titles = titles(cur.issue.all_items())
    assert "Retour sur l'assemblée générale de l'IREV" not in all_titles
    assert not any("géographie prioritaire" in t for t in all_titles)
    assert "Boîte à outils de la prévention des discriminations" not in all_titles
    reasons = [d["reason"] for d in cur.report["dropped"] if d["code"] == "already_sent"]
    assert len(reasons) == 3
    assert all("déjà envoyé dans la lettre du mercredi 5 novembre 2025" in r for r in reasons)


def test_sent_event_stays_until_it_takes_place_and_changes_are_marked_updated(taxonomy):
    items = sample()
    qualif = items[0]
    webinar = items[1]
    sent = datetime(2025, 10, 30, tzinfo=PARIS)
    history = [
        # unchanged since last month: still listed, not updated
        HistoryEntry(key="https://irev.fr/agenda/qualif-discri", kind="event", title=qualif.title,
                     start=qualif.start, location=qualif.location, sent_at=sent, draft_id="2025-11"),
        # the webinar moved by a week
        HistoryEntry(key="https://irev.fr/agenda/webinaire-aires", kind="event", title=webinar.title,
                     start=webinar.start - timedelta(days=7), location=webinar.location, sent_at=sent,
                     draft_id="2025-11"),
        # the site visit changed place
        HistoryEntry(key="https://irev.fr/agenda/rencontre-ru", kind="event", title="Rencontre",
                     start=items[2].start, location="Roubaix", sent_at=sent, draft_id="2025-11"),
    ]
    cur = curate(items, taxonomy=taxonomy, today=TODAY, month=MONTH, history=history)
    agenda = {i.title: i for i in cur.issue.agenda}
    assert len(agenda) == 3
    assert agenda[qualif.title].updated is False
    assert agenda[webinar.title].updated is True
    assert agenda["Rencontre sur site : gestion transitoire"].updated is True
    reasons = {u["title"]: u["reason"] for u in cur.report["updated"]}
    assert "date modifiée" in reasons[webinar.title]
    assert "lieu modifié" in reasons["Rencontre sur site : gestion transitoire"]


def test_new_session_of_a_sent_event_is_not_an_update(taxonomy):
    first = event("Webinaire cités éducatives", "webinaire-ce", 5)
    second = event("Webinaire cités éducatives", "webinaire-ce", 12)
    history = [HistoryEntry(key="https://irev.fr/agenda/webinaire-ce", kind="event", title=first.title,
                            start=first.start, location=first.location,
                            sent_at=datetime(2025, 11, 1, tzinfo=PARIS), draft_id="2025-11")]
    cur = curate([first, second], taxonomy=taxonomy, today=TODAY, month=MONTH, history=history)
    assert [i.updated for i in cur.issue.agenda] == [False, False]
    assert len(cur.issue.agenda) == 2


def test_featured_rule(taxonomy):
    issue = curate(sample(), taxonomy=taxonomy, today=TODAY, month=MONTH).issue
    assert len(issue.featured) <= 3
    first, second, third = issue.featured
    assert first.title == "Journée de qualification : prévenir les discriminations"  # limited places
    assert second.title == "Retour sur l'assemblée générale de l'IREV"  # latest network news
    assert third.kind == "article" and third.category not in ("vie-du-reseau", "autres")
    assert all(i.featured for i in issue.featured)
    assert sum(i.featured for i in issue.all_items()) == 3


def test_max_per_section_caps_and_reports(taxonomy):
    cur = curate(sample(), taxonomy=taxonomy, today=TODAY, month=MONTH, max_per_section=1)
    issue = cur.issue
    assert len(issue.agenda) == 1 and all(len(g) == 1 for g in issue.news.values())
    assert any(d["code"] == "section_full" for d in cur.report["dropped"])


def test_report_is_json_and_counts_add_up(taxonomy):
    items = sample()
    cur = curate(items, taxonomy=taxonomy, today=TODAY, month=MONTH)
    report = json.loads(json.dumps(cur.report, ensure_ascii=False))
    counts = report["counts"]
    assert counts["input"] == len(items)
    assert counts["after_dedupe"] == len(items) - counts["merged"]
    shown = counts["agenda"] + counts["news"] + counts["resources"] + counts["press"]
    assert shown + counts["dropped"] == counts["after_dedupe"]
    for entry in report["dropped"]:
        assert {"url", "title", "reason"} <= set(entry)
    # the issue survives its JSON form
    again = Issue.from_dict(json.loads(json.dumps(cur.issue.to_dict())))
    assert titles(again.agenda) == titles(cur.issue.agenda)


def test_unknown_kind_dropped_and_bad_arguments(taxonomy):
    odd = Item(kind="podcast", title="Un podcast", url="https://x.fr/p")
    cur = curate([odd], taxonomy=taxonomy, today=TODAY, month=MONTH)
    assert cur.report["dropped"][0]["code"] == "unknown_kind"
    with pytest.raises(ValueError, match="horizon_days"):
        curate([], taxonomy=taxonomy, today=TODAY, month=MONTH, horizon_days=-1)


def test_history_entry_round_trip():
    entry = HistoryEntry(key="https://irev.fr/a", kind="event", title="Journée", start=at(TODAY),
                         location="Lille", sent_at=at(TODAY, 12), draft_id="d1")
    assert HistoryEntry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry
    with pytest.raises(ValueError, match="sent_at"):
        HistoryEntry.from_dict({"key": "https://irev.fr/a"})


def test_max_age_is_configurable_and_undated_items_kept(taxonomy):
    cur = curate(sample(), taxonomy=taxonomy, today=TODAY, month=MONTH, max_age_days=120)
    kept = titles(cur.issue.all_items())
    assert "Vieille actualité de l'été sur l'emploi" in kept
    assert "Actualité sans date sur le renouvellement urbain" in kept
    assert cur.report["settings"]["max_age_days"] == 120


def test_place_given_only_now_is_not_an_update(taxonomy):
    item = event("Rencontre régionale des cités éducatives", "rencontre-ce", 10, location="Amiens")
    history = [HistoryEntry(key="https://irev.fr/agenda/rencontre-ce", kind="event", title=item.title,
                            start=item.start, location=None, sent_at=datetime(2025, 11, 1, tzinfo=PARIS),
                            draft_id="2025-11")]
    cur = curate([item], taxonomy=taxonomy, today=TODAY, month=MONTH, history=history)
    assert cur.issue.agenda[0].updated is False
    assert cur.report["updated"] == []
