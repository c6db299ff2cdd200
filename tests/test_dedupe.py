"""Dedupe: each story once, the richest copy kept, and a report of what was merged."""

from __future__ import annotations

import io
import json
import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from newsletter.curate.dedupe import SUGGEST_AT, dedupe, dedupe_jsonl
from newsletter.models import Item

PARIS = ZoneInfo("Europe/Paris")

SUMMARY = (
    "Le gouvernement a présenté la liste révisée des quartiers prioritaires de la politique de la ville. "
    "Plusieurs communes des Hauts-de-France entrent dans le dispositif, d’autres en sortent après "
    "l'actualisation des données de revenus."
)


def press(title: str, url: str, summary: str = SUMMARY, outlet: str = "La Voix du Nord", **kw) -> Item:
    return Item(kind=kw.pop("kind", "press"), title=title, url=url, summary=summary, outlet=outlet,
                source=kw.pop("source", f"Veille {outlet}"), **kw)


def test_same_article_with_tracking_parameters_is_kept_once():
    a = press("Quartiers prioritaires : la nouvelle carte dévoilée",
              "https://www.exemple-presse.fr/politique/carte-qpv?utm_source=rss&utm_medium=flux", outlet="Le Journal")
    b = press("Quartiers prioritaires: la nouvelle carte est dévoilée",
              "http://exemple-presse.fr/politique/carte-qpv/?xtor=RSS-12#top", outlet="Le Journal (veille)",
              summary="Courte reprise.")
    result = dedupe([a, b])
    assert result.kept == [a]  # the longer summary wins
    assert a.merged == [b.url]
    assert a.outlets == ["Le Journal (veille)"]
    assert a.canonical_url == b.canonical_url == "https://exemple-presse.fr/politique/carte-qpv"
    (entry,) = result.report
    assert entry["reason"] == "same canonical URL"
    assert entry["kept_url"] == a.url and entry["absorbed_url"] == b.url
    assert entry["absorbed_outlet"] == "Le Journal (veille)"
    json.dumps(result.report)


def test_near_duplicate_from_partner_site_is_merged_richest_copy_kept():
    original = press("Quartiers prioritaires : la nouvelle carte dévoilée par le gouvernement",
                     "https://journal-a.fr/a/123", summary=SUMMARY[:150], outlet="Journal A",
                     image="https://journal-a.fr/carte.jpg")
    reprise = press("QUARTIERS PRIORITAIRES : LA NOUVELLE CARTE DÉVOILÉE PAR LE GOUVERNEMENT",
                    "https://partenaire.org/reprise/carte", summary=SUMMARY, outlet="Partenaire",
                    published=datetime(2025, 11, 3, 9, tzinfo=PARIS))
    other = press("Cités éducatives : le programme prolongé jusqu’en 2027", "https://journal-a.fr/a/124",
                  summary="Les 32 cités éducatives de la région poursuivent leur action auprès des familles.")
    result = dedupe([original, other, reprise])
    assert result.kept == [other, reprise]  # input order kept; longest summary wins
    assert reprise.merged == [original.url]
    assert reprise.outlets == ["Journal A"]
    assert reprise.image == "https://journal-a.fr/carte.jpg"  # empty fields filled from the other copy
    (entry,) = result.report
    assert entry["reason"].startswith("near-duplicate (similarity 0.")
    assert 0.7 <= entry["similarity"] <= 1
    assert "similarité" in entry["explanation"]


def test_same_title_without_summary_is_merged():
    full = press("L’égalité femmes-hommes au cœur des contrats de ville", "https://a.fr/1")
    bare = press("L'EGALITE FEMMES-HOMMES AU COEUR DES CONTRATS DE VILLE", "https://b.fr/2", summary="")
    result = dedupe([bare, full])
    assert result.kept == [full]
    assert full.merged == ["https://b.fr/2"]


def test_page_canonical_makes_node_and_alias_one():
    node = Item(kind="article", title="Assemblée générale 2025", url="https://www.irev.fr/node/881",
                canonical_url="https://www.irev.fr/actualites/assemblee-generale-2025")
    alias = Item(kind="article", title="Retour sur l'assemblée générale",
                 url="https://irev.fr/actualites/assemblee-generale-2025", summary="Les membres ont voté.")
    result = dedupe([node, alias])
    assert len(result.kept) == 1
    assert result.report[0]["reason"] == "same canonical URL"


def test_different_stories_are_not_merged():
    items = [
        press("Lettre d'information n°12 : les actualités du réseau", "https://irev.fr/lettre-12",
              summary="Retrouvez les rendez-vous du mois et les nouvelles ressources du centre."),
        press("Lettre d'information n°13 : les actualités du réseau", "https://irev.fr/lettre-13",
              summary="Retrouvez les rendez-vous du mois et les nouvelles ressources du centre."),
        press("Santé mentale : les quartiers manquent de psychologues", "https://a.fr/sante", summary="Délais longs."),
        press("Santé : un centre municipal ouvre ses portes", "https://a.fr/centre", summary="Trois médecins."),
    ]
    result = dedupe(items)
    assert result.kept == items
    assert result.report == []


def test_two_sessions_of_a_webinar_stay_two_events_same_session_merges():
    def session(day: int, url: str, summary: str = "Une heure pour découvrir le design actif dans les quartiers.") -> Item:
        return Item(kind="event", title="Webinaire flash : le design actif", url=url, summary=summary,
                    start=datetime(2025, 12, day, 11, tzinfo=PARIS))

    first = session(4, "https://irev.fr/agenda/webinaire-design-actif")
    second = session(11, "https://irev.fr/agenda/webinaire-design-actif")
    partner = session(11, "https://partenaire.org/agenda/design-actif", summary="Webinaire d'une heure.")
    other_site = session(4, "https://cerdd.org/evenements/design-actif")
    result = dedupe([first, second, partner, other_site])
    assert result.kept == [first, second]
    assert other_site.url in first.merged and partner.url in second.merged


def test_event_never_merged_with_article():
    event = Item(kind="event", title="Journée régionale mixité sociale à Lille", url="https://irev.fr/e",
                 summary="Une journée pour partager les enseignements des cycles de qualification.",
                 start=datetime(2026, 1, 20, 9, 30, tzinfo=PARIS))
    article = Item(kind="article", title="Journée régionale mixité sociale à Lille", url="https://irev.fr/a",
                   summary="Une journée pour partager les enseignements des cycles de qualification.")
    assert len(dedupe([event, article]).kept) == 2


def test_canonical_url_set_on_every_item_and_order_preserved():
    items = [Item(kind="article", title=f"Actualité numéro {i} sur un sujet distinct {i * 7}",
                  url=f"https://www.irev.fr/actu/{i}?utm_campaign=x") for i in range(5)]
    result = dedupe(items)
    assert result.kept == items
    assert [i.canonical_url for i in items] == [f"https://irev.fr/actu/{i}" for i in range(5)]


def test_many_distinct_items_with_injected_near_duplicates():
    rng = random.Random(7)
    words = ("quartier habitants logement école santé emploi culture sport transition égalité réseau "
             "projet territoire jeunesse association commune région journée guide ressources parents "
             "élus pilotes contrat évaluation mobilité jardin énergie").split()
    vocab = words + [f"mot{n}" for n in range(3000)]
    items = []
    for i in range(600):
        title = " ".join(rng.choice(vocab) for _ in range(8))
        summary = " ".join(rng.choice(vocab) for _ in range(30))
        items.append(press(title, f"https://site.fr/{i}", summary=summary, outlet=f"Média {i % 9}"))
    copies = []
    for i in range(0, 600, 10):
        src = items[i]
        words_ = src.summary.split()
        words_[3] = "modifié"
        copies.append(press(src.title + " – reprise", f"https://autre.fr/{i}", summary=" ".join(words_[:26]),
                            outlet="Autre"))
    result = dedupe(items + copies)
    assert len(result.kept) == 600
    assert len(result.report) == 60
    assert all(entry["kept_url"].startswith("https://site.fr/") for entry in result.report)


def test_dedupe_jsonl_writes_kept_items_with_merged_urls():
    lines = [
        {"title": "Cités éducatives : bilan régional", "url": "https://a.fr/x?utm_source=rss",
         "summary": "Les 32 cités éducatives présentent leurs actions.", "kind": "press"},
        {"title": "Cités éducatives : le bilan régional", "url": "https://www.a.fr/x",
         "summary": "Les 32 cités éducatives présentent leurs actions de l'année.", "kind": "press"},
        {"title": "Autre sujet : les conseils citoyens", "url": "https://b.fr/y", "summary": "Dix ans après."},
    ]
    out, err = io.StringIO(), io.StringIO()
    code = dedupe_jsonl(io.StringIO("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)), out, err)
    assert code == 0, err.getvalue()
    got = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [g["url"] for g in got] == ["https://www.a.fr/x", "https://b.fr/y"]
    assert got[0]["merged"] == ["https://a.fr/x?utm_source=rss"]
    assert got[1]["merged"] == []


def test_dedupe_jsonl_bad_line():
    out, err = io.StringIO(), io.StringIO()
    text = '{"title": "A", "url": "https://a.fr"}\n\n{"title": "B", "url": "https://b.fr", "start": "bientôt"}\n'
    assert dedupe_jsonl(io.StringIO(text), out, err) == 2
    assert "line 3" in err.getvalue() and "'start'" in err.getvalue()
    assert out.getvalue() == ""


def test_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        dedupe([], threshold=0)


def test_undated_copy_never_bridges_two_sessions():
    summary = "Une heure pour découvrir les aires ludo-sportives et la pratique féminine."
    undated = Item(kind="event", title="Webinaire : les aires ludo-sportives", url="https://a.fr/w", summary=summary)
    first = Item(kind="event", title="Webinaire : les aires ludo-sportives", url="https://b.fr/w1",
                 summary=summary, start=datetime(2025, 12, 2, 11, tzinfo=PARIS))
    second = Item(kind="event", title="Webinaire : les aires ludo-sportives", url="https://c.fr/w2",
                  summary=summary, start=datetime(2025, 12, 9, 11, tzinfo=PARIS))
    result = dedupe([undated, first, second])
    assert first in result.kept and second in result.kept
    assert len(result.kept) == 2


def test_a_chain_of_similar_titles_never_pulls_its_ends_together():
    # each title shares most words with the next; the ends share little
    chain = [
        "Le gouvernement étudie la qualité de l'air dans les quartiers de Lille",
        "Le gouvernement étudie la qualité de l'air et du logement dans les quartiers",
        "Les élus étudient la qualité du logement et de l'air dans les quartiers",
        "Les élus étudient la qualité du logement social et des écoles",
        "Les vignerons étudient la qualité des écoles et du logement social",
    ]
    items = [press(t, f"https://m{i}.fr/a", summary="", outlet=f"Média {i}") for i, t in enumerate(chain)]
    result = dedupe(items)
    groups = [[item.title] + [next(i.title for i in items if i.url == u) for u in item.merged] for item in result.kept]
    for group in groups:
        assert not (chain[0] in group and chain[-1] in group), groups
        assert len(group) <= 2, groups


def test_hard_negatives_sharing_a_topic_phrase_stay_apart_and_are_not_suggested():
    lens = press("Quartiers 2030 : Lens signe son contrat de ville", "https://a.fr/lens",
                 summary="La ville de Lens a signé son contrat Quartiers 2030 avec l'État.", outlet="Nord Éclair")
    calais = press("Quartiers 2030 : Calais signe son contrat de ville", "https://b.fr/calais",
                   summary="La ville de Calais a signé son contrat Quartiers 2030 avec l'État.", outlet="Nord Littoral")
    air_gov = press("Le gouvernement étudie la qualité de l'air en Île-de-France", "https://c.fr/air",
                    summary="", outlet="Le Parisien")
    air_wine = press("Les vignerons bourguignons s'inquiètent de la qualité de l'air en Île-de-France",
                     "https://d.fr/vin", summary="", outlet="Le Bien public")
    result = dedupe([lens, calais, air_gov, air_wine])
    assert len(result.kept) == 4
    assert result.report == []
    assert lens.suggested == [] and calais.suggested == []


def test_reworded_copies_are_merged_or_suggested_with_reason_and_similarity():
    a = press("Quartiers 2030 : Denain signe son contrat de ville", "https://voix.fr/denain",
              summary="Élus et préfet ont signé à Denain le contrat de ville Quartiers 2030 pour six ans.",
              outlet="La Voix du Nord")
    b = press("VIDÉO. Denain paraphe son contrat de ville Quartiers 2030 | L'Observateur", "https://obs.fr/denain",
              summary="La ville de Denain a signé son contrat Quartiers 2030 avec l'État. Le maire Karim Benali "
                      "salue « une étape importante ».", outlet="L'Observateur")
    other = press("Cité éducative de Maubeuge : 40 jeunes accompagnés", "https://voix.fr/maubeuge",
                  summary="Bilan de la cité éducative.", outlet="La Voix du Nord")
    result = dedupe([a, b, other])
    assert other in result.kept
    if len(result.kept) == 2:
        (entry,) = result.report
        assert entry["similarity"] >= 0.6 and "similarité" in entry["explanation"]
    else:
        (suggestion,) = result.suggestions
        assert {suggestion["url"], suggestion["other_url"]} == {a.url, b.url}
        assert "similarité" in suggestion["explanation"] and suggestion["similarity"] >= SUGGEST_AT
        assert a.suggested == [b.url] and b.suggested == [a.url]


def test_a_months_batch_compares_every_pair_not_only_the_hashed_candidates(monkeypatch):
    # Hashing (MinHash, rare title words) finds candidates in large batches; in a
    # month's batch it would miss copies outlets reword (their shared words are
    # common in the month): there every pair is compared.
    from newsletter.curate import dedupe as module

    def copies():
        return [
            press("Trafic de stupéfiants : à Valenciennes, le quartier Dutemple vit au rythme des tirs",
                  "https://voix.example/dutemple", outlet="La Voix du Nord",
                  summary="Après la mort d'un jeune homme dans la nuit de samedi à dimanche, la deuxième depuis "
                          "l'été, les habitants réclament des renforts."),
            press("Valenciennes : un jeune homme tué par balle à Dutemple, le deuxième depuis l'été",
                  "https://ici.example/dutemple", outlet="ici Nord",
                  summary="Un homme d'une vingtaine d'années a été tué par balle dans la nuit de samedi à dimanche "
                          "dans le quartier Dutemple."),
            press("Cité éducative de Maubeuge : 40 jeunes accompagnés", "https://voix.example/maubeuge",
                  summary="Bilan de la cité éducative."),
        ]

    none = module.np.zeros((0, 2), dtype=module.np.int64)
    monkeypatch.setattr(module, "_lsh_pairs", lambda *args: none)
    monkeypatch.setattr(module, "_rare_title_pairs", lambda *args, **kwargs: none)
    a, b, other = copies()
    dedupe([a, b, other])
    assert a.suggested == [b.url] and b.suggested == [a.url] and other.suggested == []
    monkeypatch.setattr(module, "_ALL_PAIRS", 2)  # a larger batch: only the hashed candidates
    a, b, other = copies()
    dedupe([a, b, other])
    assert a.suggested == [] and b.suggested == []


def test_an_item_is_offered_its_most_similar_copies_only(monkeypatch):
    from newsletter.curate import dedupe as module

    def watch():
        return [press(title, f"https://{outlet.lower()}.example/{k}", summary="", outlet=outlet) for k, (title, outlet) in
                enumerate([
                    ("Budget 2027 : les crédits de la politique de la ville baissent, les maires de banlieue inquiets",
                     "A"),
                    ("Politique de la ville : les crédits baissent dans le budget 2027", "B"),
                    ("Les maires de banlieue inquiets pour la politique de la ville", "C"),
                    ("Les crédits de la ville en baisse, les élus inquiets", "E"),
                    ("Budget : la politique de la ville perd des crédits", "F"),
                ])]

    monkeypatch.setattr(module, "SUGGEST_PER_ITEM", 100)
    every = watch()
    dedupe(every)
    first = every[0]
    assert len(first.suggested) >= 3
    result = {s["other_url"] if s["url"] == first.url else s["url"]: s["similarity"]
              for s in dedupe(watch()).suggestions if first.url in (s["url"], s["other_url"])}
    monkeypatch.setattr(module, "SUGGEST_PER_ITEM", 2)
    capped = watch()
    dedupe(capped)
    assert all(len(item.suggested) <= 2 for item in capped)
    assert set(capped[0].suggested) == set(sorted(result, key=result.get, reverse=True)[:2])


def test_outlet_marks_do_not_count():
    from newsletter.curate.dedupe import strip_outlet_marks

    assert strip_outlet_marks("VIDÉO. Lens signe son contrat | Le Courrier") == "Lens signe son contrat"
    assert strip_outlet_marks("Décryptage : la réforme des quartiers prioritaires") == "la réforme des quartiers prioritaires"
    assert strip_outlet_marks("Rénovation à Roubaix - La Voix du Nord", "La Voix du Nord") == "Rénovation à Roubaix"
    # a kicker of several capital words; the item's own outlet after a dash, whatever its first word
    assert strip_outlet_marks("INFO LA VOIX. Roubaix obtient une rallonge pour son quartier") == (
        "Roubaix obtient une rallonge pour son quartier")
    assert strip_outlet_marks("Tourcoing : 412 logements réhabilités - Actualités Habitat", "Actualités Habitat") == (
        "Tourcoing : 412 logements réhabilités")
    # a dash tail that is not the outlet stays
    assert strip_outlet_marks("Roubaix : les travaux commencent à l'Alma - Épeule", "Nord Éclair") == (
        "Roubaix : les travaux commencent à l'Alma - Épeule")


def conflict(x: str, y: str) -> str | None:
    """Why two press titles (no summary) are two stories, or None."""
    from newsletter.curate.dedupe import _conflict, _features

    return _conflict(_features(press(x, "https://a.fr/x", summary="")),
                     _features(press(y, "https://b.fr/y", summary="")))


def test_figures_tell_stories_apart_when_they_are_of_one_kind():
    assert conflict("Programme 2024 du centre de ressources", "Programme 2025 du centre de ressources")
    assert conflict("Lettre n°12 du centre de ressources", "Lettre n°13 du centre de ressources")
    # a year in one title, a count in the other: two outlets' details of one story
    assert conflict("PLF 2027 : les crédits des adultes-relais rétablis au Sénat",
                    "Adultes-relais : 700 postes sauvés par le Sénat") is None


def test_names_tell_stories_apart_when_they_are_of_one_kind():
    assert conflict("Quartiers 2030 : le contrat de Lens est signé", "Quartiers 2030 : le contrat de Calais est signé")
    assert conflict("L'ANRU valide la convention de Roubaix", "L'ANCT valide la convention de Roubaix")
    # an acronym in one title, a place in the other: two outlets' details of one story
    assert conflict("Roubaix : rallonge pour le NPRU", "Roubaix : rallonge pour l'Alma et l'Épeule") is None


def test_a_place_named_more_or_less_fully_is_one_place():
    from newsletter.curate.dedupe import _names

    assert _names("Démolition à Lille-Sud ce lundi") == {"lille"}
    assert _names("Avenant signé par l'agglomération Lens-Liévin") == {"lens", "lievin"}
    assert _names("Une maison France services à Boulogne-sur-Mer") == {"france", "boulogne"}
    # one place whose name starts or holds a word that makes it one
    assert _names("Rénovation à Saint-Denis et en Seine-Saint-Denis") == {"saint-denis", "seine-saint-denis"}
    assert _names("Les quartiers des Hauts-de-France") == {"hauts-de-france"}
    # common words joined by a hyphen opening a title name nothing
    assert _names("Adultes-relais : 700 postes sauvés par le Sénat") == {"senat"}


def test_copies_naming_a_town_or_its_quarter_are_not_held_apart_but_two_towns_are():
    sud = press("Lille-Sud : la médiathèque du Faubourg d'Arras rouvre après un an de travaux",
                "https://voix.fr/mediatheque", summary="", outlet="La Voix du Nord")
    lille = press("Lille : après un an de travaux, la médiathèque du Faubourg d'Arras rouvre ses portes",
                  "https://actu.fr/mediatheque", summary="", outlet="actu.fr")
    denis = press("Saint-Denis : la médiathèque rouvre après un an de travaux", "https://a.fr/sd", summary="",
                  outlet="Le Parisien")
    ouen = press("Saint-Ouen : la médiathèque rouvre après un an de travaux", "https://b.fr/so", summary="",
                 outlet="Le Parisien")
    result = dedupe([sud, lille, denis, ouen])
    # the Lille copies: merged, or suggested to the officer
    assert len(result.kept) == 3 or (sud.suggested == [lille.url] and lille.suggested == [sud.url])
    # two towns: neither merged nor suggested
    assert denis in result.kept and ouen in result.kept
    assert denis.suggested == [] and ouen.suggested == []


def test_confirmed_suggestion_shows_one_press_item_also_in_the_other_outlet():
    import json as _json
    from datetime import date as _date

    from newsletter.curate.dedupe import (SuggestionError, apply_suggestion_edits, confirm_suggestion,
                                          dismiss_suggestion)
    from newsletter.models import Issue as _Issue
    from newsletter.render.branding import load_branding
    from newsletter.render.newsletter import render_newsletter

    def press(url, outlet, title, suggested=()):
        return Item(kind="press", title=title, url=url, outlet=outlet, suggested=list(suggested))

    a = press("https://lavoix.example/lens", "La Voix du Nord", "Lens signe son engagement Quartiers 2030",
              ["https://courrier.example/lens"])
    b = press("https://courrier.example/lens", "Courrier picard", "Quartiers 2030 : à Lens, la signature",
              ["https://lavoix.example/lens", "https://autre.example/x"])
    c = press("https://autre.example/x", "Le Parisien", "Calais signe son contrat", ["https://courrier.example/lens"])
    issue = _Issue(month=_date(2025, 12, 1), today=_date(2025, 12, 1), press=[a, b, c])
    answers = {"confirmed": [[a.url, b.url]], "dismissed": []}
    _json.dumps(answers)
    (entry,) = apply_suggestion_edits(issue, answers)
    assert [it.url for it in issue.press] == [a.url, c.url]
    assert a.outlets == ["Courrier picard"] and b.url in a.merged
    assert entry["kept_url"] == a.url and "confirmé" in entry["explanation"]
    assert c.suggested == [a.url] and a.suggested == [c.url]  # the other link now points at the kept item
    rendered = render_newsletter(issue, load_branding())
    assert "également dans Courrier picard" in rendered.text
    assert "également dans Courrier picard" in rendered.html
    assert rendered.html.count("courrier.example") == 0  # one press item, not two
    dismiss_suggestion(issue, c.url, a.url)
    assert a.suggested == [] and c.suggested == []
    with pytest.raises(SuggestionError, match="n'est pas un élément"):
        confirm_suggestion(issue, a.url, "https://absent.example/")


def test_batch_folding_gives_the_words_fold_gives():
    # dedupe folds 100k titles as one string; texts with curly apostrophes,
    # ligatures or other scripts must still get exactly fold()'s words
    from newsletter.curate.classify import fold
    from newsletter.curate.dedupe import _WORDS2, _hash_words

    titles = ["Égalité à Lens", "Cæsar l’été", "Œuvre d’art", "ŸVES et Ÿ", "ΑΣ σ", "plain ascii: x-y", "", "ﬁn ĳ 日本 ℌello"]
    summaries = ["Résumé", None, "été—hiver", "", "Straße", "a\nb", "x", "n°12"]
    got = _hash_words(titles, summaries)
    # the words of fold()'s output (lower-case ASCII letters and digits; capitals
    # "ℌ" -> "H" separate words), hashed as a plain text of those words
    one_by_one = [
        _hash_words([" ".join(_WORDS2.findall(fold(t)) + _WORDS2.findall(fold(s) if s else ""))])
        for t, s in zip(titles, summaries)
    ]
    assert got[1].tolist() == [int(c[1][0]) for c in one_by_one]
    assert got[0].tolist() == [h for c in one_by_one for h in c[0].tolist()]


def test_title_sets_taken_from_the_one_pass_are_the_titles_own():
    # dedupe hashes title + summary once and reads the title sets from it
    import numpy as np

    from newsletter.curate.dedupe import _hash_words

    titles = ["Égalité à Lens", "Cæsar l’été", "Œuvre d’art", "ŸVES et Ÿ", "ΑΣ σ", "lens x-y", "", "ﬁn ĳ 日本 ℌello",
              "été été", "Lens"]
    summaries = ["Résumé Lens égalité", None, "été—hiver art", "", "Straße", "a\nb lens", "x", "n°12 fin", "été", ""]
    hashes, counts, title_hashes, title_counts = _hash_words(titles, summaries, with_titles=True)
    want_hashes, want_counts = _hash_words(titles)
    assert title_hashes.tolist() == want_hashes.tolist()
    assert title_counts.tolist() == want_counts.tolist()
    assert (hashes.tolist(), counts.tolist()) == tuple(x.tolist() for x in _hash_words(titles, summaries))


def test_word_sets_are_the_same_when_one_text_is_much_longer():
    # a long text switches the per-text sort to another method: same sets
    from newsletter.curate.dedupe import _hash_words, _word_set

    titles = ["Lens signe son contrat", "Calais"] + [f"titre {k}" for k in range(20)]
    summaries = [" ".join(f"mot{k} mot{k % 7}" for k in range(3000)), "Calais, Calais et Lens"] + [""] * 20
    hashes, counts = _hash_words(titles, summaries)
    for k, (t, s) in enumerate(zip(titles, summaries)):
        alone = _hash_words([f"{t} {s}"])
        assert int(counts[k]) == len(_word_set(f"{t} {s}")) == int(alone[1][0])
    assert hashes[:counts[0]].tolist() == _hash_words([titles[0] + " " + summaries[0]])[0].tolist()


def test_vectorised_scores_agree_with_the_per_pair_code():
    # dedupe scores its candidates all at once; the per-pair code (kept for the
    # pairs complete linkage compares on demand) must give the same decisions
    import math
    from collections import Counter
    from itertools import combinations

    import numpy as np

    from newsletter.curate.dedupe import (
        _batch_features, _conflict, _features, _score_rows, _settle_conflicts, pair_similarity,
    )

    items = [
        press("Quartiers 2030 : Lens signe son contrat de ville", "https://a.fr/1",
              summary="La ville de Lens a signé son contrat Quartiers 2030 avec l'État, 12 millions d'euros."),
        press("Quartiers 2030 : Calais signe son contrat de ville", "https://a.fr/2",
              summary="La ville de Calais a signé son contrat Quartiers 2030 avec l'État.", outlet="Nord Littoral"),
        press("VIDÉO. Lens paraphe son contrat de ville Quartiers 2030 | L'Observateur", "https://a.fr/3",
              summary="", outlet="L'Observateur"),
        press("Lettre n°12 du centre de ressources", "https://a.fr/4", summary=""),
        press("Lettre n°13 du centre de ressources", "https://a.fr/5", summary="Au sommaire : 3 webinaires."),
        press("Le gouvernement étudie la qualité de l'air en Île-de-France", "https://a.fr/6"),
        press("LES VIGNERONS S'INQUIÈTENT DE LA QUALITÉ DE L'AIR", "https://a.fr/7", summary="", outlet=""),
        press("12 millions d'euros pour Lens : Karim Benali salue le contrat", "https://a.fr/8",
              summary="Le maire Karim Benali salue le contrat de ville de Lens, 12 millions d'euros."),
        press("2024", "https://a.fr/9", summary="Programme 2024 et 2025."),
        press("Programme 2025 du centre de ressources", "https://a.fr/10", summary=""),
        press("PLF 2027 : les crédits des adultes-relais rétablis", "https://a.fr/11", summary=""),
        press("Adultes-relais : 700 postes sauvés par le Sénat", "https://a.fr/12", summary="", outlet="Localtis"),
        press("L'ANRU valide la convention de Roubaix", "https://a.fr/13", summary="L'Alma et l'Épeule concernés."),
        press("L'ANCT valide la convention de Roubaix", "https://a.fr/14", summary=""),
        press("Roubaix : l'Alma obtient une rallonge pour son NPRU", "https://a.fr/15", summary=""),
        *_marseille_batch(),  # a city in one title, its district in the other: settled by the batch
    ]
    feats = [_features(item) for item in items]
    df = Counter(t for f in feats for t in f.named | f.figures)
    idf = {t: math.log(1 + (len(feats) + 1) / c) for t, c in df.items()}
    pairs = list(combinations(range(len(items)), 2))
    pa, pb = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
    batch = _batch_features(items)  # what dedupe scores its candidates with
    assert batch.idf == idf
    conflict, sims, parts = _score_rows(batch.rows, batch.weights, pa, pb)
    assert conflict.any() and (~conflict).any() and (sims > 0.4).any()
    for k, (a, b) in enumerate(pairs):
        assert bool(conflict[k]) == bool(_conflict(feats[a], feats[b])), (items[a].title, items[b].title)
        sim, want = pair_similarity(feats[a], feats[b], idf)
        assert math.isclose(sims[k], sim, rel_tol=1e-12, abs_tol=1e-12), (items[a].title, items[b].title)
        for name, value in want.items():
            assert math.isclose(parts[name][k], value, rel_tol=1e-12, abs_tol=1e-12), name
    # with the names the batch implies (a district its city), for the pairs worth suggesting
    settled = _settle_conflicts(batch, conflict, sims, pa, pb, SUGGEST_AT)
    assert (conflict & ~settled).any()  # some conflict settled: Marseille / Frais-Vallon
    for k, (a, b) in enumerate(pairs):
        if sims[k] >= SUGGEST_AT:
            assert bool(settled[k]) == bool(_conflict(feats[a], feats[b], batch.implied)), (items[a].title,
                                                                                         items[b].title)
        else:
            assert settled[k] == conflict[k]


def test_features_computed_together_are_each_items_own():
    # dedupe computes its candidates' features in one batch (token ids, numpy);
    # they must be the sets and weights the per-item code gives, whatever the text
    import math
    from collections import Counter

    from newsletter.curate.dedupe import _batch_features, _features

    texts = [
        ("Quartiers 2030 : Lens signe son contrat de ville", "La ville de Lens a signé son contrat, 12 millions."),
        ("VIDÉO. Lens paraphe son contrat de ville | L'Observateur", ""),
        ("Œuvre d’art à Saint-Étienne : l’ANRU retient Hénin-Beaumont", "Le maire Karim Benali salue « l’œuvre »."),
        ("ΑΣ σ 日本 et İstanbul, Ÿvelines", "KELVIN \u212a et ß_x n°12 ½ µ ª_b º²"),
        ("LES VIGNERONS S'INQUIÈTENT DE LA QUALITÉ DE L'AIR", "\u00a0\xa0tab\tnl\nx anticonstitutionnellementissimementalement"),
        ("", ""),
        ("2024", "Programme 2024 et 2025, 1 500 euros."),
        # digits that are not ASCII (found for the batch apart from the Latin-1 texts), a digit in one part only
        ("Réunion n°٣ à Lens", "Le bilan : ١٢ projets, xAmiens et １ quartier"),
        ("Bilan à Arras", "Arras compte 3 quartiers"),
        ("Arras : 7 quartiers", "Bilan à Arras"),
    ]
    items = [press(title, f"https://a.fr/{k}", summary=summary, outlet="L'Observateur" if k % 2 else "")
             for k, (title, summary) in enumerate(texts)]
    batch = _batch_features(items)
    feats = [_features(item) for item in items]
    for k, want in enumerate(feats):
        got = batch.features(k)
        for name in ("title", "text", "names", "title_names", "figures", "title_figures", "has_summary", "outlet",
                     "named", "marks", "title_acronyms"):
            assert getattr(got, name) == getattr(want, name), (name, texts[k])
    df = Counter(t for f in feats for t in f.named | f.figures)
    assert batch.idf == {t: math.log(1 + (len(feats) + 1) / c) for t, c in df.items()}


def test_names_are_capitalised_words_that_start_a_word():
    # names are sought only where a capital is: a capital inside a word
    # ("xAmiens") names nothing, an elided article goes ("l'ANRU"), and a
    # segment's first word that French also has as a common word ("Calais")
    # counts only when it is named elsewhere
    from newsletter.curate.dedupe import _names

    text = "À Lens, l'ANRU et xAmiens : Calais"
    assert _names(text) == {"lens", "anru"}
    assert _names(text, frozenset({"calais"})) == {"lens", "anru", "calais"}
    assert _names("LENS ET AMIENS") == frozenset()


def test_words_split_by_translation_are_the_regular_expressions_words():
    from newsletter.curate.dedupe import _TOKEN, _tokens

    texts = ["L'ANRU retient Hénin-Beaumont : 12,5 M€ (2026) — « bilan »", "n°12 ½ µ ª_b º²",
             "Œuvre d’art à Saint-Étienne", "ΑΣ σ 日本", "\u00a0\xa0tab\tnl\nx"]
    texts += ["a" + chr(c) + "b" for c in range(256)]
    for text in texts:
        assert _tokens(text) == _TOKEN.findall(text.lower()), text


def test_french_dictionary_cached_in_a_file_rebuilt_when_unreadable(tmp_path, monkeypatch):
    from simplemma.strategies.dictionaries import DefaultDictionaryFactory

    from newsletter.curate.dedupe import french_dictionary

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    table = french_dictionary()
    (cache,) = (tmp_path / "newsletter").glob("simplemma-*-fr.marshal")
    simplemma_fr = DefaultDictionaryFactory().get_dictionary("fr")
    assert len(table) == len(simplemma_fr)
    for word in ("quartiers", "signé", "habitants", "éducatives", "inconnuxyz"):
        assert table.get(word) == simplemma_fr.get(word)
    assert french_dictionary() == table  # read back from the file
    cache.write_bytes(b"\x00garbage")  # unreadable: rebuilt and rewritten
    assert french_dictionary() == table
    assert cache.stat().st_size > 1000


def _marseille_batch() -> list[Item]:
    # a month's batch in which every Frais-Vallon item but one says Marseille, and Marseille is named more
    # often than Frais-Vallon (other quarters, the whole town): Frais-Vallon implies Marseille, not the reverse
    return [
        press("Marseille : un adolescent de 16 ans tué par balles à Frais-Vallon", "https://a.fr/1",
              summary="Un adolescent de 16 ans a été tué par balles dans la nuit de samedi à dimanche "
                      "au pied d'un immeuble de Frais-Vallon, dans le 13e arrondissement.", outlet="La Provence"),
        press("Frais-Vallon : Adam, 16 ans, abattu au pied de son immeuble", "https://b.fr/2",
              summary="Adam, 16 ans, a été abattu par balles au pied de son immeuble dans la nuit de samedi "
                      "à dimanche. Les habitants de la cité sont sous le choc.", outlet="BFM"),
        press("Marseille : la rénovation des tours de Frais-Vallon votée par la métropole", "https://c.fr/3",
              summary="Les élus de Marseille ont voté la rénovation des tours de Frais-Vallon.", outlet="Marsactu"),
        press("Frais-Vallon : le centre social de Marseille rouvre ses portes", "https://d.fr/4",
              summary="Fermé depuis un an, le centre social de Frais-Vallon rouvre.", outlet="Made in Marseille"),
        press("Marseille : le métro prolongé jusqu'à la Castellane", "https://e.fr/5",
              summary="La Castellane sera desservie par le métro en 2030.", outlet="La Provence"),
        press("Marseille : le budget des centres sociaux adopté", "https://f.fr/6",
              summary="Le conseil municipal de Marseille a adopté le budget des centres sociaux.", outlet="Marsactu"),
    ]


def test_a_city_named_in_one_copy_and_its_district_in_the_other_are_suggested_never_merged():
    # outlets name a story's place at different levels: the batch teaches that Frais-Vallon is in Marseille
    items = _marseille_batch()
    city, district = items[0], items[1]
    result = dedupe(items)
    assert city in result.kept and district in result.kept  # a name apart: never merged automatically
    assert district.url in city.suggested and city.url in district.suggested
    (suggestion,) = [s for s in result.suggestions if {s["url"], s["other_url"]} == {city.url, district.url}]
    assert "noms différents mais liés" in suggestion["explanation"]
    assert suggestion["similarity"] >= SUGGEST_AT
    # alone, the pair teaches nothing: the names stay apart
    alone = dedupe([press(city.title, city.url, summary=city.summary, outlet=city.outlet),
                    press(district.title, district.url, summary=district.summary, outlet=district.outlet)])
    assert alone.suggestions == []


def test_two_quarters_of_one_town_and_two_towns_stay_apart_though_the_batch_names_them_together():
    # most Lens items name the Grande Résidence: still Lens does not imply it (the quarter is named less
    # often than its town), so another Lens quarter's story is not the Grande Résidence's
    items = [
        press("Lens : la Grande Résidence attend ses travaux de rénovation", "https://a.fr/1",
              summary="Les habitants de la Grande Résidence attendent les travaux de rénovation promis.",
              outlet="La Voix du Nord"),
        press("Lens : la cité des Provinces attend ses travaux de rénovation", "https://b.fr/2",
              summary="Les habitants de la cité des Provinces attendent les travaux de rénovation promis.",
              outlet="L'Avenir de l'Artois"),
        press("Grande Résidence : une réunion publique à Lens sur les travaux", "https://c.fr/3",
              summary="La ville de Lens réunit les habitants de la Grande Résidence.", outlet="Nord Éclair"),
        press("Lens : la Grande Résidence aura sa maison de santé", "https://d.fr/4",
              summary="Une maison de santé ouvrira à la Grande Résidence.", outlet="La Voix du Nord"),
        press("Quartiers 2030 : Lens signe son contrat de ville", "https://e.fr/5",
              summary="La ville de Lens a signé son contrat Quartiers 2030 avec l'État.", outlet="Nord Éclair"),
        press("Quartiers 2030 : Calais signe son contrat de ville", "https://f.fr/6",
              summary="La ville de Calais a signé son contrat Quartiers 2030 avec l'État.", outlet="Nord Littoral"),
    ]
    quarter, other_quarter, *_, lens, calais = items
    result = dedupe(items)
    assert len(result.kept) == len(items)
    assert other_quarter.url not in quarter.suggested and quarter.url not in other_quarter.suggested
    assert calais.url not in lens.suggested and lens.url not in calais.suggested
