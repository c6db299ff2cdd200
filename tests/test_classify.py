"""Categories: every item gets a primary category and a score from the editable taxonomy."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from newsletter.curate.classify import Taxonomy, TaxonomyError, classify, classify_item, classify_jsonl
from newsletter.models import Item

DATA = Path(__file__).parent / "data" / "classify_labelled.jsonl"
SLUGS = [
    "contrats-de-ville",
    "discriminations-egalite",
    "transitions",
    "renouvellement-urbain",
    "education-jeunesse",
    "radicalites",
    "participation-citoyenne",
    "developpement-economique",
    "sante",
    "sport-culture",
    "vie-du-reseau",
    "autres",
]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.default()


def item(title: str, summary: str = "", **kw) -> Item:
    kw.setdefault("url", "https://exemple.fr/actualites/1")
    return Item(kind=kw.pop("kind", "article"), title=title, summary=summary, **kw)


def small(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_default_taxonomy_has_exactly_the_agreed_slugs_with_labels_and_hashtags(taxonomy):
    assert taxonomy.slugs == SLUGS
    for slug in SLUGS:
        assert taxonomy.label(slug).strip()
        assert isinstance(taxonomy.hashtags(slug), list)
    assert taxonomy.label("vie-du-reseau") == "Vie du réseau"
    assert all(h.startswith("#") for s in SLUGS for h in taxonomy.hashtags(s))
    with pytest.raises(KeyError, match="inconnue|unknown"):
        taxonomy.label("nope")


@pytest.mark.parametrize(
    "title",
    [
        "Les cités éducatives, un an après",
        "LES CITÉS ÉDUCATIVES, UN AN APRÈS",
        "les cites educatives, un an apres",
        "Cité éducative : un an après",
    ],
)
def test_case_accents_and_plural_do_not_matter(taxonomy, title):
    assert classify_item(item(title), taxonomy)[0] == "education-jeunesse"


@pytest.mark.parametrize("title", ["Nos vœux pour 2026", "NOS VŒUX POUR 2026", "Nos voeux pour 2026"])
def test_ligature_oe_matches_both_spellings(taxonomy, title):
    assert classify_item(item(title), taxonomy)[0] == "vie-du-reseau"


@pytest.mark.parametrize("apostrophe", ["'", "’"])
def test_straight_and_curly_apostrophes(tmp_path, apostrophe):
    tax = Taxonomy.load(small(tmp_path, """
categories:
  - {slug: egalite, label: Égalité, hashtags: [], keywords: ["égalité d'accès"]}
  - {slug: autres, label: Autres, hashtags: []}
"""))
    got = classify_item(item(f"Garantir l{apostrophe}égalité d{apostrophe}accès aux services"), tax)
    assert got[0] == "egalite"


def test_feminine_and_plural_forms_match_masculine_keyword(tmp_path):
    tax = Taxonomy.load(small(tmp_path, """
categories:
  - {slug: educ, label: Éducation, hashtags: [], keywords: ["projet éducatif"]}
  - {slug: social, label: Social, hashtags: [], keywords: ["bailleur social"]}
  - {slug: citoyen, label: Citoyens, hashtags: [], keywords: ["conseil citoyen", "œuvre culturelle"]}
  - {slug: autres, label: Autres, hashtags: []}
"""))
    assert classify_item(item("Des projets éducatifs ambitieux"), tax)[0] == "educ"
    assert classify_item(item("Nouvelles actions éducatives", "Deux projets éducatives"), tax)[0] == "educ"
    assert classify_item(item("Les bailleurs sociaux s'engagent"), tax)[0] == "social"
    assert classify_item(item("Les conseils citoyens se renouvellent"), tax)[0] == "citoyen"
    assert classify_item(item("Deux OEUVRES CULTURELLES inaugurées"), tax)[0] == "citoyen"


def test_nothing_fits_goes_to_autres_with_zero_score(taxonomy):
    assert classify_item(item("Réunion mardi", "Ordre du jour à venir."), taxonomy) == ("autres", 0.0)


def test_title_counts_more_than_summary_and_score_is_between_0_and_1(taxonomy):
    slug, score = classify_item(
        item("Renouvellement urbain : le point", "Un mot sur la santé des habitants."), taxonomy
    )
    assert slug == "renouvellement-urbain"
    assert 0 < score < 1
    weak = classify_item(item("Point d'étape", "Un mot sur la santé des habitants."), taxonomy)
    assert weak[0] == "sante" and weak[1] < score


def test_source_preset_category_is_forced(taxonomy):
    it = item("Festival de danse hip-hop dans le quartier", category="sante")
    classify([it], taxonomy)
    assert (it.category, it.score) == ("sante", 1.0)


def test_unknown_preset_category_is_replaced_and_noted(taxonomy):
    it = item("Festival de danse hip-hop dans le quartier", category="danse")
    classify([it], taxonomy)
    assert it.category == "sport-culture"
    assert "danse" in it.extra["classify_note"]


def test_site_path_forces_category(taxonomy):
    it = item("Webinaire du mois", url="https://www.irev.fr/thematiques/transition/webinaire-du-mois")
    assert classify_item(it, taxonomy) == ("transitions", 1.0)
    it = item("Journée régionale", url="https://irev.fr/thematiques/discriminations-egalite/journee")
    assert classify_item(it, taxonomy)[0] == "discriminations-egalite"


def test_source_bias_tips_a_close_call(tmp_path):
    body = """
sources: {"Presse locale": sport}
categories:
  - {slug: culture, label: Culture, hashtags: [], keywords: [festival]}
  - {slug: sport, label: Sport, hashtags: [], keywords: [tournoi]}
  - {slug: autres, label: Autres, hashtags: []}
"""
    tax = Taxonomy.load(small(tmp_path, body))
    text = item("Un festival et un tournoi au stade")
    assert classify_item(text, tax)[0] == "culture"  # tie: taxonomy order
    text.source = "Presse locale"
    assert classify_item(text, tax)[0] == "sport"


def test_labelled_set_accuracy(taxonomy, capsys):
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 80
    assert {r["expected"] for r in rows} == set(SLUGS)
    confusion: dict[str, Counter] = defaultdict(Counter)
    correct = 0
    for row in rows:
        got, _ = classify_item(Item.from_dict(row), taxonomy)
        confusion[row["expected"]][got] += 1
        correct += got == row["expected"]
    accuracy = correct / len(rows)
    width = max(map(len, SLUGS))
    lines = [f"accuracy {accuracy:.3f} on {len(rows)} items", " " * width + " " + " ".join(s[:4] for s in SLUGS)]
    for expected in SLUGS:
        lines.append(expected.ljust(width) + " " + " ".join(f"{confusion[expected][g]:>4}" for g in SLUGS))
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert accuracy >= 0.85


@pytest.mark.parametrize(
    "body, message",
    [
        ("categories: [", "invalid YAML at line"),
        ("foo: 1", "expected a top-level 'categories:' list"),
        ("categories:\n  - {slug: a, label: A, hashtags: []}", "'autres' is required"),
        ("categories:\n  - {slug: autres, label: A, hashtags: []}\n  - {slug: autres, label: B, hashtags: []}",
         "duplicate category slug 'autres'"),
        ("categories:\n  - {slug: autres, label: A, hashtags: [1]}", "'hashtags' must be a list of strings"),
        ("categories:\n  - {slug: autres, label: A}", "missing 'hashtags'"),
        ("categories:\n  - {slug: Autres Cat, label: A, hashtags: []}", "'slug' must be lower-case"),
        ("categories:\n  - {slug: autres, hashtags: []}", "missing or empty 'label'"),
        ("sources: {X: nope}\ncategories:\n  - {slug: autres, label: A, hashtags: []}", "unknown category 'nope'"),
        ("categories:\n  - {slug: autres, label: A, hashtags: [], paths: [thematiques]}", "'paths' must be"),
        ("settings: {title_weight: -1}\ncategories:\n  - {slug: autres, label: A, hashtags: []}",
         "settings.title_weight"),
    ],
)
def test_bad_taxonomy_raises_naming_file_and_problem(tmp_path, body, message):
    path = small(tmp_path, body)
    with pytest.raises(TaxonomyError) as err:
        Taxonomy.load(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_a_rubric_description_is_loaded_on_one_line_and_is_optional(tmp_path):
    """The officer reads the description beside the rubric's choice: YAML's folded or literal text
    comes back as one line; a category without one has an empty description."""
    path = small(tmp_path, (
        "categories:\n"
        "  - slug: sante\n    label: Santé\n    hashtags: []\n"
        "    description: |\n      L'accès aux soins,\n        la santé mentale.  \n\n      Pas le sport.\n"
        "  - {slug: autres, label: Autres actualités, hashtags: []}\n"))
    taxonomy = Taxonomy.load(path)
    assert taxonomy.category("sante").description == "L'accès aux soins, la santé mentale. Pas le sport."
    assert taxonomy.category("autres").description == ""


def test_the_shipped_rubrics_each_have_a_description(taxonomy):
    for slug in SLUGS:
        description = taxonomy.category(slug).description
        assert len(description) > 40 and "\n" not in description and description == description.strip(), slug


@pytest.mark.parametrize("key, value, says", [
    ("description", "[soins, prévention]", "'description' must be"),
    ("description", "3", "'description' must be"),
    ("description", "{texte: soins}", "'description' must be"),
    ("titles", "recrute", "'titles' must be a list"),
    ("titles", "[\"\"]", "'titles' must be a list"),
    ("titles", "[\"!!\"]", "title phrase '!!' has no letters"),
])
def test_a_description_or_title_phrase_of_the_wrong_kind_is_refused_naming_the_category(tmp_path, key, value, says):
    path = small(tmp_path, f"categories:\n  - {{slug: sante, label: Santé, hashtags: [], {key}: {value}}}\n"
                           "  - {slug: autres, label: Autres, hashtags: []}\n")
    with pytest.raises(TaxonomyError) as err:
        Taxonomy.load(path)
    assert str(path) in str(err.value) and "'sante'" in str(err.value) and says in str(err.value)


def test_a_job_offer_goes_to_the_rubric_its_title_phrase_imposes_whatever_its_subject(taxonomy):
    """IREV files every job offer under « Vie du réseau » (its description says so): the words of the
    post's subject (urban renewal, health) would otherwise win, in the model as in the keywords."""
    offers = [
        item("Chef de projet renouvellement urbain F/H", "La ville recrute pour piloter son projet NPNRU, "
             "les démolitions et le relogement des habitants du quartier.", url="https://exemple.fr/emploi/1"),
        item("Offres d’emploi : médiateur·trice en santé", "Le centre de santé du quartier cherche un médiateur "
             "pour l'accès aux soins.", url="https://exemple.fr/emploi/2"),
        item("Douai recrute un coordinateur de cité éducative", url="https://exemple.fr/emploi/3"),
    ]
    news = item("Recrutement : les entreprises d'une zone d'activité vont à la rencontre des jeunes",
                "Un forum pour l'emploi des jeunes des quartiers.", url="https://exemple.fr/actu/4")
    classify([*offers, news], taxonomy)
    assert [o.category for o in offers] == ["vie-du-reseau"] * 3 and all(o.score == 1.0 for o in offers)
    assert offers[1].extra["classify_reason"] == "rubrique imposée par le titre (« offre d'emploi »)"
    assert news.category == "developpement-economique" and "classify_reason" not in news.extra
    # one item at a time (no model), the same rule
    assert [classify_item(o, taxonomy)[0] for o in offers] == ["vie-du-reseau"] * 3
    # a source's own category and a path rule come first
    preset = item("Offre d'emploi : chargé de mission santé", category="sante")
    classify([preset], taxonomy)
    assert preset.category == "sante"


def test_title_rules_of_a_batch_are_those_of_each_title(tmp_path):
    from newsletter.curate.classify import ItemBatch

    path = small(tmp_path, "categories:\n"
                 "  - {slug: sante, label: Santé, hashtags: [], titles: [\"appel à projets santé\"]}\n"
                 "  - {slug: vie, label: Vie, hashtags: [], titles: [recrute, \"offre d'emploi\"]}\n"
                 "  - {slug: autres, label: Autres, hashtags: []}\n")
    taxonomy = Taxonomy.load(path)
    titles = ["Le centre recrute", "Appel à projets santé : la ville recrute", "Un recrutement", "",
              "Appels à projets Santé", "OFFRE D'EMPLOI", "Rien à voir"]
    items = [item(t, url=f"https://exemple.fr/{k}") for k, t in enumerate(titles)]
    rules = taxonomy.title_rules(ItemBatch(items)).tolist()
    one_by_one = [taxonomy.title_rule(t) for t in titles]
    assert [r and r[0] for r in one_by_one] == [
        "vie", "sante", None, None, "sante", "vie", None]  # the first category in the file wins
    assert rules == [taxonomy.slugs.index(r[0]) if r else -1 for r in one_by_one]
    assert one_by_one[5] == ("vie", "offre d'emploi")


def test_missing_taxonomy_file(tmp_path):
    with pytest.raises(TaxonomyError, match="nowhere.yaml: file not found"):
        Taxonomy.load(tmp_path / "nowhere.yaml")


def test_classify_jsonl_adds_category_and_score():
    lines = [
        {"title": "Assemblée générale de l’IREV", "url": "https://irev.fr/ag", "summary": "Bilan de l'année."},
        {"title": "Webinaire : santé mentale des jeunes", "url": "https://irev.fr/w", "kind": "event",
         "published": "2025-11-02T10:00:00+01:00"},
    ]
    out, err = io.StringIO(), io.StringIO()
    code = classify_jsonl(io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n"), out, err)
    assert code == 0, err.getvalue()
    got = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [g["category"] for g in got] == ["vie-du-reseau", "sante"]
    assert all(0 < g["score"] <= 1 for g in got)
    assert got[1]["kind"] == "event" and got[1]["published"].startswith("2025-11-02")


@pytest.mark.parametrize(
    "second, message",
    [
        ("{not json", "line 2: invalid JSON"),
        ('["a list"]', "line 2: expected a JSON object"),
        ('{"url": "https://x.fr"}', "line 2: item has no 'title'"),
        ('{"title": "T", "url": "https://x.fr", "published": "hier"}', "line 2: field 'published'"),
    ],
)
def test_classify_jsonl_bad_line_names_it_and_writes_nothing(second, message):
    first = json.dumps({"title": "Assemblée générale", "url": "https://irev.fr/ag"})
    out, err = io.StringIO(), io.StringIO()
    assert classify_jsonl(io.StringIO(first + "\n" + second + "\n"), out, err) == 2
    assert message in err.getvalue()
    assert out.getvalue() == ""


def test_classify_jsonl_bad_taxonomy(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    code = classify_jsonl(io.StringIO(""), out, err, taxonomy_path=tmp_path / "absent.yaml")
    assert code == 2 and "absent.yaml" in err.getvalue()


def test_keyword_inside_a_longer_keyword_counts_once(tmp_path):
    tax = Taxonomy.load(small(tmp_path, """
settings: {title_weight: 1, summary_weight: 1}
categories:
  - {slug: ru, label: RU, hashtags: [], keywords: ["renouvellement urbain", "projet de renouvellement urbain"]}
  - {slug: autres, label: Autres, hashtags: []}
"""))
    # the long phrase (3 content words) only, not also the short one inside it
    assert tax.points(item("Un projet de renouvellement urbain")) == {"ru": 3.0}
    # a separate occurrence of the short phrase counts
    assert tax.points(item("Un projet de renouvellement urbain", "Le renouvellement urbain avance.")) == {"ru": 5.0}


def test_function_words_do_not_make_a_phrase_heavier():
    """'lutte contre les discriminations' must not outweigh 'prévention des discriminations'
    just because it has more little words."""
    from newsletter.curate.classify import Taxonomy, classify_item
    from newsletter.models import Item

    taxonomy = Taxonomy.from_dict(
        {
            "categories": [
                {"slug": "a", "label": "A", "hashtags": [], "keywords": ["lutte contre les discriminations"]},
                {"slug": "b", "label": "B", "hashtags": [], "keywords": ["prévention des discriminations", "égalité"]},
                {"slug": "autres", "label": "Autres", "hashtags": [], "keywords": []},
            ]
        }
    )
    item = Item(kind="article", title="Lutte contre les discriminations et prévention des discriminations : égalité",
                url="https://www.irev.fr/x")
    slug, _ = classify_item(item, taxonomy)
    assert slug == "b"


def test_category_corrected_by_the_officer_is_applied_on_the_next_run(tmp_path):
    from datetime import date

    from newsletter.curate.classify import record_correction
    from newsletter.curate.curation import curate
    from newsletter.store import Store

    store = Store(f"sqlite:///{tmp_path / 'home.db'}")
    taxonomy = Taxonomy.default()

    def items():
        return [
            Item(kind="article", title="Webinaire flash : les jardins partagés", url="https://irev.fr/a/jardins",
                 source="IREV – actualités", summary="Une heure d'échanges."),
            Item(kind="article", title="Webinaire flash : la mobilité des seniors", url="https://irev.fr/a/mobilite",
                 source="IREV – actualités", summary="Une heure d'échanges."),
        ]

    first = curate(items(), taxonomy=taxonomy, today=date(2025, 12, 1), month=date(2025, 12, 1))
    jardins = next(i for i in first.issue.all_items() if i.url.endswith("jardins"))
    target = next(s for s in taxonomy.slugs if s not in (jardins.category, "autres"))
    record_correction(store, jardins, target, actor="chargée de communication")

    again = curate(items(), taxonomy=taxonomy, today=date(2025, 12, 1), month=date(2025, 12, 1),
                   corrections=store.corrections())
    by_url = {i.url: i for i in again.issue.all_items()}
    assert by_url["https://irev.fr/a/jardins"].category == target       # same URL
    assert by_url["https://irev.fr/a/mobilite"].category == target      # same source's series
    assert store.corrections()[0]["actor"] == "chargée de communication"
