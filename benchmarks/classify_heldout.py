"""Classifier accuracy on a tuning half and a held-out half of resource-centre pages.

Usage::

    .venv/bin/python benchmarks/classify_heldout.py [--taxonomy PATH] [--errors]

Data: ``benchmarks/data/classify_pages.jsonl``, 234 pages (French title and
summary, URL, source, label) written for this benchmark in the manner of the
"centres de ressources politique de la ville" (IREV, Villes au Carré, ORIV,
Profession Banlieue, Labo Cités, RésOVilles...), the State agencies (ANCT,
ANRU) and the press (La Gazette des communes, La Voix du Nord, Ouest-France):
qualification days, flash webinars, site visits, toolkits, experience sheets,
calls for projects, press items. About 20 pages per category, 14 ``autres``,
many of them ambiguous on purpose (a page on sport as a route to employment
is filed under sport-culture, one on immigration memory under
discriminations-egalite), labelled as a reader of the newsletter would file
them before any classifier was run on them.

Split: within each label, pages sorted by the SHA-256 of their URL; even
ranks form the **tuning half** (117 pages), odd ranks the **held-out half**
(117 pages). Only the tuning half was looked at while tuning: the taxonomy's
added vocabulary (keywords marked "vocabulaire courant ajouté"), the model
(classifier, features) and the blend settings (``model_weight``,
``model_min``) were chosen on the tuning half and on
``tests/data/classify_labelled.jsonl``. The taxonomy's ``examples:`` come
from the IREV seed documents and the category descriptions, not from these
pages. The held-out half was run once, at the end.

Measured (2 shared cores): held-out 0.812 with keywords alone, 0.829 with
keywords + model at the first run (character n-gram features), 0.838 with the
final, ten times faster word-prefix features (changed for speed, not for the
held-out figure: that second run is the only other look at the held-out
half); tuning half 0.949 / 0.966; labelled set 0.989 / 0.989. The target of
0.85 on pages the taxonomy was not tuned on is NOT reached, and the gap
between the halves (0.95 against 0.81 for keywords) is the overfitting the
issue describes: vocabulary added for the tuning half's misses does not carry
over. Given the tuning half as corrections, the held-out half scores 0.829.

Printed: accuracy of keywords alone and of keywords + model on both halves
and on the project's labelled set, the held-out accuracy when the tuning half
is given as the officer's corrections (what the model learns from a month of
corrections), the time to import scikit-learn and to train.
"""

from __future__ import annotations

import argparse
import hashlib
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


def to_item(row: dict) -> Item:
    return Item(kind=row.get("kind") or "article", title=row["title"], summary=row.get("summary", ""),
                url=row.get("url") or "https://example.invalid/", source=row.get("source"))


def keyword_accuracy(rows: list[dict], taxonomy: Taxonomy) -> tuple[float, list]:
    errors = []
    for row in rows:
        got, _ = classify_item(to_item(row), taxonomy)
        if got != row["label"]:
            errors.append((row["label"], got, row["title"]))
    return 1 - len(errors) / len(rows), errors


def combined_accuracy(rows: list[dict], taxonomy: Taxonomy, examples=None) -> tuple[float, list]:
    items = [to_item(r) for r in rows]
    classify(items, taxonomy, examples=examples)
    errors = [(r["label"], i.category, r["title"]) for r, i in zip(rows, items) if i.category != r["label"]]
    return 1 - len(errors) / len(rows), errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taxonomy", type=Path, default=None)
    parser.add_argument("--errors", action="store_true", help="list the held-out pages the combined classifier misses")
    args = parser.parse_args(argv)
    taxonomy = Taxonomy.load(args.taxonomy) if args.taxonomy else Taxonomy.default()
    tuning, heldout = split(load(PAGES))
    labelled = load(LABELLED, "expected")

    started = time.perf_counter()
    import sklearn.naive_bayes  # noqa: F401  (what the first classification pays once)
    import sklearn.feature_extraction.text  # noqa: F401
    imported = time.perf_counter() - started
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        text_model.TextModel.train(taxonomy)
        timings.append(time.perf_counter() - started)
    size = len(text_model.training_set(taxonomy).texts)

    print(f"pages: {len(tuning)} tuning + {len(heldout)} held-out ({PAGES.relative_to(ROOT)}); "
          f"labelled set: {len(labelled)} ({LABELLED.relative_to(ROOT)})")
    print(f"{'set':<34} {'keywords':>9} {'+ model':>9}")
    results = {}
    for name, rows in (("tuning half (tuned on)", tuning), ("held-out half (never tuned on)", heldout),
                       ("tests/data/classify_labelled.jsonl", labelled)):
        kw, _ = keyword_accuracy(rows, taxonomy)
        both, errors = combined_accuracy(rows, taxonomy)
        results[name] = errors
        print(f"{name:<34} {kw:>9.3f} {both:>9.3f}")
    corrections = [(text_model.item_text(r["title"], r.get("summary")), r["label"]) for r in tuning]
    learnt, _ = combined_accuracy(heldout, taxonomy, examples=corrections)
    print(f"held-out, tuning half given as {len(corrections)} corrections: {learnt:.3f}")
    print(f"scikit-learn import: {imported:.2f} s (once per process); "
          f"training on {size} texts: median {sorted(timings)[2] * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms")
    if args.errors:
        print()
        print("held-out errors (expected -> given: title)")
        for expected, got, title in sorted(results["held-out half (never tuned on)"]):
            print(f"  {expected} -> {got}: {title[:90]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
