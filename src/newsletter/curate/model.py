"""A small statistical text model that backs up the keyword taxonomy.

Keywords are precise but brittle: a page about "vidéoprotection" or "le contrat
d'engagement jeune" scores nothing, or scores for the wrong category because of
one incidental word. This module trains, at each run, a linear classifier on
what the taxonomy already says about every category and on what the officer
taught it:

- every keyword of a category (``"précarité énergétique"`` → ``transitions``);
- every sentence of the category's ``examples:`` list in the taxonomy YAML
  (short titles a centre writes in its own words);
- the officer's corrections, passed as ``(text, slug)`` pairs (``examples=``),
  each weighing :data:`CORRECTION_WEIGHT` times an example (heavier weights
  made the model worse: given one half of the benchmark's tuning pages as
  corrections, the other half scored 0.983 and 0.983 with weight 1, 0.931 and
  0.966 with weight 3, 0.914 and 0.966 with weight 6).

Features: TF-IDF of the stemmed, accent-folded words (unigrams and bigrams, the
same folding as the keywords, see :func:`newsletter.curate.classify.terms`) and
of the first five letters of longer words (which catch "radicalisés" from
"radicalisation"). Classifier: scikit-learn's
Complement Naive Bayes, which suits many classes with few short texts each,
gives probabilities the keyword points can be blended with, and trains in a
few milliseconds (logistic regression took seconds here and was no better on
the tuning half of ``benchmarks/data/classify_pages.jsonl``; a linear SVM was
worse). Training on the IREV taxonomy (about 450 short texts) takes about
0.1 s, mostly building the features; importing scikit-learn the first time
costs more (see ``benchmarks/classify_heldout.py``).

How the two are combined (:func:`blend`): the keyword points are turned into a
distribution (each category's share of the points, tempered by the total so
that a single summary hit says little), the model's probabilities are added
with weight ``model_weight`` (taxonomy ``settings``), and the best category
wins. A correction that is nearly the same text as the item (cosine similarity
of their TF-IDF vectors at least :data:`NEAR_CORRECTION`: the same recurring
title, a reworded copy) decides outright: the officer already said where such
an item goes.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from newsletter.curate.classify import FALLBACK, classify_item, terms
from newsletter.models import Item

if TYPE_CHECKING:  # pragma: no cover
    from newsletter.curate.classify import Taxonomy

# A correction by the officer counts as this many taxonomy examples.
CORRECTION_WEIGHT = 1.0
# Cosine similarity from which a correction decides the category of an item
# (distinct pages of the benchmark's tuning half are at most 0.24 alike; a
# reworded copy of a corrected title, about 0.5).
NEAR_CORRECTION = 0.5
# Naive Bayes smoothing.
ALPHA = 0.5


# Characters of the summary the model reads: its opening says what the page is about.
SUMMARY_CHARS = 300


def item_text(title: str | None, summary: str | None = "") -> str:
    """The text the model sees for an item: the title twice (it says more), then
    the summary's first :data:`SUMMARY_CHARS` characters."""
    title = (title or "").strip()
    summary = (summary or "").strip()[:SUMMARY_CHARS]
    return f"{title}. {title}. {summary}" if summary else f"{title}. {title}"


def _word_features(text: str) -> list[str]:
    """Stemmed words, word pairs, and the first five letters of longer words
    ("radicalisés" and "radicalisation" share "radic~"): cheap morphology,
    ten times faster than scikit-learn's character n-grams on 9,000 items for
    the same accuracy on the tuning half."""
    toks = [t for t in terms(text) if len(t) > 2 or t.isdigit()]
    return toks + [f"{a}_{b}" for a, b in zip(toks, toks[1:])] + [t[:5] + "~" for t in toks if len(t) > 5]


@dataclass
class TrainingSet:
    texts: list[str]
    labels: list[str]
    weights: list[float]
    corrections: list[tuple[str, str]]


def training_set(taxonomy: "Taxonomy", examples: Iterable[tuple[str, str]] | None = None) -> TrainingSet:
    """The texts the model learns from: keywords and examples of every category,
    then the given ``(text, slug)`` corrections (unknown slugs are skipped)."""
    texts: list[str] = []
    labels: list[str] = []
    weights: list[float] = []
    for cat in taxonomy.categories:
        for kw in cat.keywords:
            texts.append(kw)
            labels.append(cat.slug)
            weights.append(1.0)
        for ex in cat.examples:
            texts.append(ex)
            labels.append(cat.slug)
            weights.append(1.0)
    corrections = []
    for text, slug in examples or ():
        if slug in taxonomy and text and text.strip():
            corrections.append((text, slug))
            texts.append(text)
            labels.append(slug)
            weights.append(CORRECTION_WEIGHT)
    return TrainingSet(texts, labels, weights, corrections)


class TextModel:
    """A trained model: :meth:`train`, then :meth:`predict` (probabilities per slug)."""

    def __init__(self, vectorizer, classifier, corrections: list[tuple[str, str]]):
        self._vectorizer = vectorizer
        self._classifier = classifier
        self.classes: list[str] = list(classifier.classes_)
        self.corrections = corrections
        self._correction_vectors = (
            vectorizer.transform([c for c, _ in corrections]) if corrections else None
        )

    @classmethod
    def train(cls, taxonomy: "Taxonomy", examples: Iterable[tuple[str, str]] | None = None) -> "TextModel | None":
        """Train on the taxonomy (and corrections). None when fewer than two
        categories have anything to learn from."""
        data = training_set(taxonomy, examples)
        if len(set(data.labels)) < 2:
            return None
        # imported here: scikit-learn takes a second or two to import, and
        # only classification needs it
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.naive_bayes import ComplementNB

        vectorizer = TfidfVectorizer(analyzer=_word_features, sublinear_tf=True)
        matrix = vectorizer.fit_transform(data.texts)
        classifier = ComplementNB(alpha=ALPHA)
        classifier.fit(matrix, data.labels, sample_weight=data.weights)
        return cls(vectorizer, classifier, data.corrections)

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """For every text, the probability of every category the model knows."""
        if not texts:
            return []
        probs = self._classifier.predict_proba(self._vectorizer.transform(list(texts)))
        return [dict(zip(self.classes, map(float, row))) for row in probs]

    def nearest_corrections(self, texts: Sequence[str]) -> list[tuple[str, float] | None]:
        """For every text, the (slug, similarity) of the most similar correction, or None."""
        if self._correction_vectors is None or not texts:
            return [None] * len(texts)
        vectors = self._vectorizer.transform(list(texts))
        sims = (vectors @ self._correction_vectors.T).toarray()  # rows are L2-normalised: cosines
        out: list[tuple[str, float] | None] = []
        for row in sims:
            best = int(row.argmax())
            out.append((self.corrections[best][1], float(row[best])))
        return out


def keyword_distribution(points: dict[str, float]) -> dict[str, float]:
    """Keyword points as a distribution whose mass grows with the total:
    points / (total + 3), so 3 points (one title keyword) weigh 0.5 in all."""
    total = sum(points.values())
    if total <= 0:
        return {}
    return {slug: p / (total + 3.0) for slug, p in points.items()}


def blend(points: dict[str, float], probs: dict[str, float] | None, *, model_weight: float,
          min_points: float, model_min: float, order: dict[str, int]) -> tuple[str, float]:
    """The category and score (0..1) for one item from its keyword points and
    the model's probabilities. Without keyword points (or under ``min_points``),
    the model alone decides, and only when its best probability reaches
    ``model_min``: otherwise ``autres``, score 0."""
    kw = keyword_distribution(points) if sum(points.values()) >= min_points else {}
    if not probs or model_weight <= 0:
        probs = {}
    if not kw:
        if not probs:
            return FALLBACK, 0.0
        slug, p = max(probs.items(), key=lambda kv: (kv[1], -order.get(kv[0], 0)))
        if p < model_min:
            return FALLBACK, 0.0
        return slug, round(p, 3)
    combined = dict(kw)
    for slug, p in probs.items():
        combined[slug] = combined.get(slug, 0.0) + model_weight * p
    slug, best = max(combined.items(), key=lambda kv: (kv[1], -order.get(kv[0], 0)))
    return slug, round(min(1.0, best / (1.0 + model_weight)), 3)


def decided(points: dict[str, float], model_weight: float, min_points: float) -> bool:
    """True when the keywords' lead is beyond what the model could overturn."""
    total = sum(points.values())
    if total < min_points:
        return False
    ranked = sorted(points.values(), reverse=True) + [0.0]
    return (ranked[0] - ranked[1]) / (total + 3.0) > model_weight


_TRAINED: "weakref.WeakKeyDictionary[Taxonomy, dict]" = weakref.WeakKeyDictionary()


def trained(taxonomy: "Taxonomy", examples: Iterable[tuple[str, str]] | None = None) -> TextModel | None:
    """The model for this taxonomy and these corrections, trained once per process."""
    key = tuple((str(t), str(s)) for t, s in (examples or ()))
    models = _TRAINED.setdefault(taxonomy, {})
    if key not in models:
        if len(models) >= 8:
            models.clear()
        models[key] = TextModel.train(taxonomy, key)
    return models[key]


def classify_pending(items: list[Item], taxonomy: "Taxonomy",
                     examples: Iterable[tuple[str, str]] | None = None) -> None:
    """Set category and score on items no preset or path rule decided (see module doc)."""
    settings = taxonomy.settings
    weight = settings.get("model_weight", 1.0)
    model = trained(taxonomy, examples) if weight > 0 else None
    order = {slug: i for i, slug in enumerate(taxonomy.slugs)}
    points = [taxonomy.points(item) for item in items]
    # The model adds at most model_weight to a category: where the keywords'
    # lead is larger, it cannot change the winner and is not consulted (with
    # no correction to compare against), which keeps 100,000 items fast.
    asks = [model is not None and (bool(model.corrections) or not decided(p, weight, settings["min_points"]))
            for p in points]
    texts = [item_text(i.title, i.summary) for i, ask in zip(items, asks) if ask]
    asked = iter(zip(model.predict(texts), model.nearest_corrections(texts)) if texts else ())
    for item, pts, ask in zip(items, points, asks):
        if not ask:  # model off (model_weight: 0), or keywords clear enough
            item.category, item.score = classify_item(item, taxonomy)
            continue
        p, close = next(asked)
        if close and close[1] >= NEAR_CORRECTION:
            item.category, item.score = close[0], round(close[1], 3)
            item.extra["classify_reason"] = "catégorie reprise d'une correction sur un article semblable"
            continue
        item.category, item.score = blend(pts, p, model_weight=weight,
                                          min_points=settings["min_points"],
                                          model_min=settings.get("model_min", 0.35), order=order)
