"""The text model behind the keywords: trained on the taxonomy and the officer's corrections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    text = Path(taxonomy.path).read_text(encoding="utf-8").replace("model_weight: 0.5", "model_weight: 0")
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
