"""The text model behind the keywords: trained on the taxonomy and the officer's corrections."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from newsletter.curate.classify import Taxonomy, TaxonomyError, classify, classify_item
from newsletter.curate.model import TextModel, item_text, training_set
from newsletter.models import Item

DATA = Path(__file__).parent / "data" / "classify_labelled.jsonl"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.default()


def items(*titles: str) -> list[Item]:
    return [Item(kind="article", title=t, summary=s, url=f"https://exemple.fr/actualites/{n}")
            for n, (t, s) in enumerate(titles)]


def test_model_keeps_or_improves_accuracy_on_the_labelled_set(taxonomy):
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    keywords = sum(classify_item(Item.from_dict(r), taxonomy)[0] == r["expected"] for r in rows)
    got = [Item.from_dict(r) for r in rows]
    classify(got, taxonomy)
    combined = sum(i.category == r["expected"] for i, r in zip(got, rows))
    assert combined >= keywords
    assert combined / len(rows) >= 0.85
    assert all(0 <= i.score <= 1 for i in got)


def test_a_correction_changes_the_category_of_a_similar_item(taxonomy):
    similar = ("Le festival des solidarités revient en novembre", "Animations et débats dans les quartiers de la ville.")
    unrelated = ("Accès aux soins : ouverture d'une maison de santé dans le quartier", "")
    before = items(similar, unrelated)
    classify(before, taxonomy)
    assert before[0].category == "sport-culture"  # "festival"
    correction = (item_text("Festival des solidarités 2024 : le programme",
                            "Projections, débats et repas partagés organisés par les associations d'habitants."),
                  "participation-citoyenne")
    after = items(similar, unrelated)
    classify(after, taxonomy, examples=[correction])
    assert after[0].category == "participation-citoyenne"
    assert after[0].extra["classify_reason"]
    assert after[1].category == before[1].category == "sante"


def test_corrections_are_training_examples_and_unknown_slugs_are_skipped(taxonomy):
    data = training_set(taxonomy, [("Un texte", "sante"), ("Un autre", "nope"), ("  ", "sante")])
    assert data.corrections == [("Un texte", "sante")]
    assert data.texts[-1] == "Un texte" and data.labels[-1] == "sante"
    model = TextModel.train(taxonomy, data.corrections)
    (probs,) = model.predict([item_text("Contrat local de santé signé", "")])
    assert max(probs, key=probs.get) == "sante"
    assert abs(sum(probs.values()) - 1) < 1e-6


def test_the_model_finds_a_category_no_keyword_names(tmp_path):
    """An example sentence in the taxonomy teaches words the keywords lack."""
    path = tmp_path / "taxonomy.yaml"
    path.write_text("""
categories:
  - slug: velo
    label: Vélo
    hashtags: []
    keywords: [vélo]
    examples: ["Pistes cyclables et stationnement des bicyclettes"]
  - slug: sante
    label: Santé
    hashtags: []
    keywords: [santé]
    examples: ["Médecins et soins de proximité"]
  - slug: autres
    label: Autres
    hashtags: []
""", encoding="utf-8")
    tax = Taxonomy.load(path)
    got = items(("Nouvelles pistes cyclables au centre", ""))
    assert classify_item(got[0], tax)[0] == "autres"
    classify(got, tax)
    assert got[0].category == "velo"


def test_model_weight_zero_means_keywords_only(tmp_path, taxonomy):
    text = re.sub(r"model_weight: [0-9.]+", "model_weight: 0", Path(taxonomy.path).read_text(encoding="utf-8"))
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    tax = Taxonomy.load(path)
    assert tax.settings["model_weight"] == 0
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    got = [Item.from_dict(r) for r in rows]
    classify(got, tax)
    assert [(i.category, i.score) for i in got] == [classify_item(Item.from_dict(r), tax) for r in rows]


def test_examples_must_be_sentences(tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text("categories:\n  - {slug: autres, label: A, hashtags: [], examples: [1]}\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="'examples' must be a list of sentences") as err:
        Taxonomy.load(path)
    assert str(path) in str(err.value)


def _dev_items() -> list[Item]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    odd = [Item(kind="article", title="Projet de renouvellement urbain : le renouvellement urbain avance",
                summary="Un \0 caractère nul, des œuvres culturelles, l’égalité d’accès et les cités éducatives.",
                url="https://exemple.fr/x", source="IREV"),
           Item(kind="article", title="", summary="", url="https://exemple.fr/vide")]
    return [Item.from_dict(r) for r in rows] + odd


def test_batch_keyword_points_equal_the_per_item_points(taxonomy):
    """classify reads whole batches as arrays; the points must be those of Taxonomy.points."""
    got = _dev_items()
    matrix = taxonomy.points_matrix(got)
    for item, row in zip(got, matrix):
        expected = taxonomy.points(item)
        assert {s: v for s, v in zip(taxonomy.slugs, row.tolist()) if v} == pytest.approx(expected), item.title


def test_batch_blend_equals_the_per_item_blend(taxonomy):
    from newsletter.curate.classify import ItemBatch
    from newsletter.curate.model import blend, blend_matrix, trained

    got = _dev_items()
    model = trained(taxonomy)
    batch = ItemBatch(got)
    points = taxonomy.points_matrix(got, batch)
    probs = model.probabilities(model.item_matrix(batch), taxonomy.slugs)
    settings = dict(model_weight=taxonomy.settings["model_weight"], min_points=taxonomy.settings["min_points"],
                    model_min=taxonomy.settings["model_min"])
    slugs, scores = blend_matrix(points, probs, taxonomy.slugs, **settings)
    order = {s: i for i, s in enumerate(taxonomy.slugs)}
    for i in range(len(got)):
        one = blend({s: v for s, v in zip(taxonomy.slugs, points[i].tolist()) if v},
                    dict(zip(taxonomy.slugs, probs[i].tolist())), order=order, **settings)
        assert (slugs[i], scores[i]) == (one[0], pytest.approx(one[1], abs=1e-3))


def test_an_item_reads_the_same_alone_or_in_a_batch(taxonomy):
    got = _dev_items()
    classify(got, taxonomy)
    for item in _dev_items()[::7]:
        classify([item], taxonomy)
        twin = next(g for g in got if g.url == item.url and g.title == item.title)
        assert (item.category, item.score) == (twin.category, twin.score)


def test_corrections_teach_the_model_in_a_curation_run(tmp_path):
    """A correction is also a training example: an unrelated item of the same
    kind (other URL, no series) moves to the corrected category."""
    from datetime import date

    from newsletter.curate.classify import record_correction
    from newsletter.curate.curation import curate
    from newsletter.store import Store

    store = Store(f"sqlite:///{tmp_path / 'home.db'}")
    taxonomy = Taxonomy.default()
    corrected = Item(kind="article", title="La ludothèque itinérante du Pont-Rouge",
                     summary="Jeux de société et prêt de jouets pour tous les âges.",
                     url="https://exemple.fr/a/ludotheque", source="Ville")
    # the officer files toy libraries under childhood (the model says sport and culture)
    record_correction(store, corrected, "education-jeunesse", actor="chargée de communication")

    def fresh():
        return [Item(kind="article", title="Ludothèque itinérante : les jeux de société reviennent",
                     summary="Prêt de jouets et jeux de société tous les mercredis.",
                     url="https://exemple.fr/b/jeux", source="Ville")]

    before = curate(fresh(), taxonomy=taxonomy, today=date(2025, 12, 1), month=date(2025, 12, 1))
    after = curate(fresh(), taxonomy=taxonomy, today=date(2025, 12, 1), month=date(2025, 12, 1),
                   corrections=store.corrections())
    (was,) = before.issue.all_items()
    (now,) = after.issue.all_items()
    assert was.category != "education-jeunesse"
    assert now.category == "education-jeunesse"


@pytest.mark.parametrize("url", ["https://irev.fr/thematiques/transition/atelier",
                                 "https://irev.fr/Th%C3%A9matiques/Transition/atelier",
                                 "https://irev.fr/thématiques/transition/atelier",
                                 "https://irev.fr/th%C3%A9matiques/transition/%C3atelier-%E2%82é",
                                 "https://irev.fr/thématiques/transition/atelier%E2%82"])
def test_path_rule_found_in_a_batch_whatever_the_spelling_of_the_url(taxonomy, url):
    got = items(("Assemblée générale du club", ""), ("Assemblée générale du club", ""))
    got[1].url = url
    classify(got, taxonomy)
    assert got[1].category == "transitions" and got[1].score == 1.0
    assert got[0].category != "transitions"


def test_a_full_word_table_starts_afresh_with_the_same_results(taxonomy, monkeypatch):
    from newsletter.curate.classify import TERMS

    first = _dev_items()
    classify(first, taxonomy)
    generation = TERMS.generation
    monkeypatch.setattr(TERMS, "MAX_WORDS", 10)
    again = _dev_items()
    classify(again, taxonomy)
    assert TERMS.generation > generation
    assert [(i.category, i.score) for i in again] == [(i.category, i.score) for i in first]


def test_the_batch_word_ids_are_those_of_the_words_one_by_one():
    """Batches read words as arrays of bytes: every word keeps its own stem,
    long words sharing a long prefix included, and their order is kept."""
    from newsletter.curate.classify import TERMS, terms

    stem24 = "anticonstitutionnellemen"  # 24 letters: the length read as windows
    texts = [
        f"{stem24}ti et {stem24}tu, {stem24}to",  # more than 24 letters, one prefix
        "intercommunalites intercommunication intercommunautaire",  # 16-18 letters, a shared start
        "renouvellement renouvellements, Renouvellement urbain",
        "a b c 1 2 10 l'école d’été : Œuvre cœur",
        "",
        "ratatouilles ratatouille rata",  # 8 letters and more
        "\u00e9t\u00e9 ÉTÉ Été",
    ]
    with TERMS.lock:
        ids, starts = TERMS.batch(texts)
        for text, start, end in zip(texts, starts.tolist(), [*starts.tolist()[1:], len(ids)]):
            assert ids[start:end].tolist() == [*TERMS.ids_of(terms(text)), 0], text
    first = ids[starts[0]:starts[1] - 1].tolist()
    assert first[0] != first[2] and first[0] != first[3]  # three different long words
    assert len(set(ids[starts[1]:starts[2] - 1].tolist())) == 3


def test_words_grouped_by_a_shared_sort_key_are_told_apart():
    """The grouping sort reads a key's top bits only: two keys sharing them are
    still two words (the exact path)."""
    import numpy as np

    from newsletter.curate import group_equal

    firsts, inverse = group_equal(np.array([5, 6, 5, 6, 7], dtype=np.uint64))  # 5, 6, 7 share their top bits
    assert sorted(firsts.tolist()) == [0, 1, 4]
    assert inverse.tolist()[0] == inverse.tolist()[2] != inverse.tolist()[1] == inverse.tolist()[3]
    assert len(set(inverse.tolist())) == 3


_SMALL_TAXONOMY = """
categories:
  - slug: velo
    label: Vélo
    hashtags: []
    keywords: [vélo]
  - slug: sante
    label: Santé
    hashtags: []
    keywords: [santé]
  - slug: autres
    label: Autres
    hashtags: []
"""


def test_the_model_learns_from_the_taxonomys_training_pages(tmp_path):
    """Labelled pages of a ``training:`` file teach words no keyword or example holds;
    pages of categories the taxonomy lacks are left out."""
    (tmp_path / "pages.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"title": "Dépistage du diabète au centre social", "summary": "Prévention et dépistage gratuits.",
         "label": "sante"},
        {"title": "Campagne de dépistage et de vaccination", "label": "sante"},
        {"title": "Pistes cyclables et stationnement des bicyclettes", "label": "velo"},
        {"title": "Atelier de réparation de bicyclettes", "summary": "", "label": "velo"},
        {"title": "Un atelier de dépistage", "label": "jardinage"},
    ]) + "\n", encoding="utf-8")
    path = tmp_path / "taxonomy.yaml"
    path.write_text(_SMALL_TAXONOMY + "training: pages.jsonl\n", encoding="utf-8")
    tax = Taxonomy.load(path)
    assert [slug for *_, slug in tax.training] == ["sante", "sante", "velo", "velo"]
    got = items(("Journée de dépistage ce samedi", ""), ("Bourse aux bicyclettes", ""))
    assert [classify_item(i, tax)[0] for i in got] == ["autres", "autres"]
    classify(got, tax)
    assert [i.category for i in got] == ["sante", "velo"]
    without = Taxonomy.from_dict(yaml.safe_load(_SMALL_TAXONOMY))
    assert without.training == []


def test_a_training_page_with_a_summary_is_also_learnt_from_its_title_alone():
    """About one item in six comes without a summary: the model learns each training
    page as it reads items, title and summary, and also from its title alone at half
    its weight; a page without a summary is learnt once."""
    from newsletter.curate.model import TITLE_ONLY_WEIGHT, TRAINING_WEIGHT

    tax = Taxonomy.from_dict(yaml.safe_load(_SMALL_TAXONOMY))
    tax.training = [("Dépistage du diabète", "Prévention et dépistage gratuits au centre social.", "sante"),
                    ("Atelier de réparation de bicyclettes", "", "velo")]
    data = training_set(tax)
    learnt = [(text, label, weight) for text, label, weight in zip(data.texts, data.labels, data.weights)
              if "Dépistage du" in text or "Atelier de" in text]
    assert learnt == [
        (item_text("Dépistage du diabète", "Prévention et dépistage gratuits au centre social."), "sante",
         TRAINING_WEIGHT),
        (item_text("Dépistage du diabète"), "sante", TRAINING_WEIGHT * TITLE_ONLY_WEIGHT),
        (item_text("Atelier de réparation de bicyclettes"), "velo", TRAINING_WEIGHT),
    ]


def test_a_taxonomy_of_two_rubrics_is_classified_by_both_of_its_models():
    """With two categories the SVM has one margin, not one per category: the
    probabilities are still a distribution over both, and both models learn."""
    tax = Taxonomy.from_dict(yaml.safe_load("""
categories:
  - slug: velo
    label: Vélo
    hashtags: []
    keywords: [vélo]
  - slug: autres
    label: Autres
    hashtags: []
"""))
    tax.training = [("Pistes cyclables et stationnement des bicyclettes", "", "velo"),
                    ("Bourse aux bicyclettes d'occasion", "", "velo"),
                    ("Élection du conseil municipal", "", "autres"),
                    ("Fermeture de la mairie annexe pendant les fêtes", "", "autres")]
    model = TextModel.train(tax)
    probs = model.predict(["Réparer sa bicyclette", "La mairie annexe rouvre"])
    assert all(set(p) == {"velo", "autres"} and abs(sum(p.values()) - 1) < 1e-9 for p in probs)
    assert probs[0]["velo"] > 0.5 > probs[1]["velo"]
    got = items(("Réparer sa bicyclette", ""), ("La mairie annexe rouvre", ""))
    classify(got, tax)
    assert [i.category for i in got] == ["velo", "autres"]


def test_a_missing_or_broken_training_file_names_the_culprit(tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(_SMALL_TAXONOMY + "training: nowhere.jsonl\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="nowhere.jsonl"):
        Taxonomy.load(path)
    (tmp_path / "bad.jsonl").write_text('{"title": "Ok", "label": "sante"}\n{"title": 3}\n', encoding="utf-8")
    path.write_text(_SMALL_TAXONOMY + "training: bad.jsonl\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"bad.jsonl, line 2"):
        Taxonomy.load(path)


def test_a_centres_taxonomy_can_name_the_shipped_training_file(tmp_path, taxonomy):
    """``training: training.jsonl`` with no such file next to the taxonomy: the packaged one."""
    path = tmp_path / "taxonomy.yaml"
    path.write_text(Path(taxonomy.path).read_text(encoding="utf-8"), encoding="utf-8")
    tax = Taxonomy.load(path)
    assert len(tax.training) == len(taxonomy.training) >= 500
    assert {slug for *_, slug in tax.training} <= set(tax.slugs)


def test_the_shipped_training_pages_are_the_development_sets_and_never_the_fresh_one():
    """``sources/training.jsonl`` is what ``benchmarks/build_training.py`` builds from the
    development sets (a set edited without rebuilding fails here), and no page of the
    held-out fresh set is in it: the classifier never learns from what measures it."""
    import importlib.util
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("build_training", root / "benchmarks" / "build_training.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    shipped = (root / "sources" / "training.jsonl").read_text(encoding="utf-8")
    assert shipped == build.text()
    assert build.main(["--check"]) == 0
    urls = {json.loads(line)["url"] for line in shipped.splitlines()}

    def copied(title: str) -> bool:  # a title of three words or more: a one-word heading ("Santé") is no copy
        return len(title.split()) >= 3

    titles = {t for t in (json.loads(line)["title"] for line in shipped.splitlines()) if copied(t)}
    held_out = [json.loads(line) for line in build.HELD_OUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert held_out and not {r["url"] for r in held_out} & urls and not {r["title"] for r in held_out} & titles


def test_the_model_trained_ahead_is_the_one_classify_uses(monkeypatch):
    """A run starts training ahead (while the sources are fetched): classify then gets that very
    model (trained once), and its categories are those of a model trained in place."""
    from newsletter.curate import model as text_model

    taxonomy = Taxonomy.default()  # its own cache entry
    calls = []
    train = TextModel.train.__func__

    def counting(cls, *args, **kwargs):
        calls.append(args)
        return train(cls, *args, **kwargs)

    monkeypatch.setattr(TextModel, "train", classmethod(counting))
    thread = text_model.train_ahead(taxonomy, [("Ludothèque itinérante du quartier", "education-jeunesse")])
    thread.join()
    ahead = text_model.trained(taxonomy, [("Ludothèque itinérante du quartier", "education-jeunesse")])
    assert len(calls) == 1 and ahead is not None
    got = items(("Ludothèque itinérante : les jeux reviennent", ""), ("Le contrat de ville 2024-2030 signé", ""))
    classify(got, taxonomy, examples=[("Ludothèque itinérante du quartier", "education-jeunesse")])
    assert len(calls) == 1  # not trained again
    again = items(("Ludothèque itinérante : les jeux reviennent", ""), ("Le contrat de ville 2024-2030 signé", ""))
    classify(again, Taxonomy.default(), examples=[("Ludothèque itinérante du quartier", "education-jeunesse")])
    assert [(i.category, i.score) for i in got] == [(i.category, i.score) for i in again]
    assert got[0].category == "education-jeunesse"


def test_a_training_failure_ahead_is_raised_by_classify_in_the_callers_thread(monkeypatch):
    from newsletter.curate import model as text_model

    taxonomy = Taxonomy.default()

    def broken(cls, *args, **kwargs):
        raise RuntimeError("model broken for the test")

    monkeypatch.setattr(TextModel, "train", classmethod(broken))
    text_model.train_ahead(taxonomy).join()  # fails quietly in its thread
    with pytest.raises(RuntimeError, match="model broken for the test"):
        classify(items(("Le contrat de ville 2024-2030 signé", "")), taxonomy)


def test_no_thread_when_the_taxonomy_turns_the_model_off(tmp_path):
    from newsletter.curate import model as text_model

    path = tmp_path / "taxonomy.yaml"
    path.write_text(_SMALL_TAXONOMY + "settings:\n  model_weight: 0\n", encoding="utf-8")
    assert text_model.train_ahead(Taxonomy.load(path)) is None
