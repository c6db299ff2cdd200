"""Classifier accuracy on real French resource-centre pages written by others.

Usage::

    .venv/bin/python benchmarks/classify_real.py [PAGES.jsonl] [--taxonomy PATH] [--errors] [--keywords-only]

Reads JSON Lines of ``{"title", "summary", "url", "label"}`` (default
``/tmp/real-pages.jsonl``), classifies every page as ``newsletter classify``
does (keywords of the taxonomy, default ``sources/taxonomy.yaml``, blended with
the text model; ``--keywords-only``: the keywords alone, as this script did
before the model existed) and prints the accuracy (both ways), per-category
precision and recall, and the confusion matrix (rows: expected label, columns:
category given). ``--errors`` also lists every misclassified page.

How the set was gathered (the third-party text itself is never committed)
--------------------------------------------------------------------------
116 pages from 77 sites of the French "politique de la ville" world: regional
resource centres (IREV, Villes au Carré, RésOVilles, ORIV, Pays et Quartiers de
Nouvelle-Aquitaine, Labo Cités, Profession Banlieue, réseau des CRPV), State
agencies (ANCT, ANRU, CGET, DREETS, préfectures), local authorities and their
associations (France urbaine, APVF, Villes de France, Ville et Banlieue),
HLM bodies, associations and the specialist press (Banque des Territoires,
La Gazette des communes, ASH, Café pédagogique). They were found without the
internet in a stored web corpus with these French queries:

    contrat de ville quartiers prioritaires centre de ressources
    cités éducatives webinaire
    renouvellement urbain ANRU rencontre
    prévention des discriminations qualification
    budget participatif conseil citoyen
    santé quartiers prioritaires atelier santé ville
    emploi quartiers développement économique
    transition écologique quartiers populaires
    laïcité valeurs de la République formation
    assemblée générale centre de ressources politique de la ville
    prévention de la radicalisation quartiers prioritaires jeunes
    sport culture quartiers politique de la ville
    conseils citoyens quartiers prioritaires formation des conseillers citoyens
    gestion urbaine de proximité abattement TFPB bailleurs quartiers
    programme de réussite éducative décrochage scolaire quartiers
    entrepreneuriat quartiers CitésLab création d'entreprise
    culture quartiers prioritaires éducation artistique Été culturel
    médiation sociale tranquillité publique adultes-relais quartiers
    centre de ressources politique de la ville nouvelle directrice équipe recrutement chargé de mission
    IREV rapport d'activité programme de travail centre de ressources Hauts-de-France

For every hit really from that domain, the page title (or, when the stored
copy had none, its first sentence) and roughly the first 300 characters of its
text were kept with the URL. Off-domain hits (Quebec, Canada, vendors' sales
pages, SEO sites, generic encyclopaedias) were dropped. Each page was labelled
by hand, as a reader of the newsletter would file it, before the classifier
was run. Médiation sociale / tranquillité publique pages were labelled
``radicalites`` (the section also covering prévention de la délinquance),
laïcité / valeurs de la République pages ``discriminations-egalite``, TFPB and
GUP pages ``renouvellement-urbain``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from newsletter.curate.classify import Taxonomy, TaxonomyError, classify, classify_item, jsonl_objects  # noqa: E402
from newsletter.models import Item  # noqa: E402

DEFAULT = Path("/tmp/real-pages.jsonl")


def load_pages(path: Path, slugs: list[str]) -> list[dict]:
    rows = []
    try:
        numbered = list(jsonl_objects(path.read_text(encoding="utf-8").splitlines()))
    except ValueError as exc:
        raise SystemExit(f"{path}: {exc}") from None
    for number, row in numbered:
        if not row.get("title") or not row.get("label"):
            raise SystemExit(f"{path}: line {number}: expected an object with 'title' and 'label'")
        if row["label"] not in slugs:
            raise SystemExit(f"{path}: line {number}: unknown label {row['label']!r} (known: {', '.join(slugs)})")
        rows.append(row)
    if not rows:
        raise SystemExit(f"{path}: no pages")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--taxonomy", type=Path, default=None)
    parser.add_argument("--errors", action="store_true", help="list every misclassified page")
    parser.add_argument("--keywords-only", action="store_true", help="the taxonomy's keywords alone, no model")
    args = parser.parse_args(argv)
    try:
        taxonomy = Taxonomy.load(args.taxonomy) if args.taxonomy else Taxonomy.default()
    except TaxonomyError as exc:
        raise SystemExit(str(exc)) from None
    if not args.pages.exists():
        raise SystemExit(f"{args.pages}: file not found")
    slugs = taxonomy.slugs
    rows = load_pages(args.pages, slugs)

    confusion: dict[str, Counter] = defaultdict(Counter)
    errors = []
    items = [Item(kind="article", title=row["title"], summary=row.get("summary", ""),
                  url=row.get("url") or "https://example.invalid/") for row in rows]
    keywords = [classify_item(item, taxonomy) for item in items]
    if args.keywords_only:
        given = keywords
    else:
        classify(items, taxonomy)
        given = [(item.category, item.score) for item in items]
    kw_correct = sum(k[0] == row["label"] for k, row in zip(keywords, rows))
    print(f"keywords alone: {kw_correct / len(rows):.3f} ({kw_correct}/{len(rows)})")
    for row, (got, score) in zip(rows, given):
        confusion[row["label"]][got] += 1
        if got != row["label"]:
            errors.append((row["label"], got, score, row["title"], row.get("url", "")))

    correct = sum(confusion[s][s] for s in slugs)
    how = "keywords alone" if args.keywords_only else "keywords + model, as newsletter classify"
    print(f"pages: {len(rows)}   accuracy ({how}): {correct / len(rows):.3f} ({correct}/{len(rows)})")
    print()
    width = max(map(len, slugs))
    print(f"{'category'.ljust(width)}  precision  recall  support")
    for s in slugs:
        given = sum(confusion[e][s] for e in slugs)
        support = sum(confusion[s].values())
        precision = f"{confusion[s][s] / given:.2f}" if given else "  - "
        recall = f"{confusion[s][s] / support:.2f}" if support else "  - "
        print(f"{s.ljust(width)}  {precision:>9}  {recall:>6}  {support:>7}")
    print()
    print("confusion matrix (rows: expected, columns: given)")
    print(" " * width + " " + " ".join(s[:4].rjust(4) for s in slugs))
    for e in slugs:
        print(e.ljust(width) + " " + " ".join(f"{confusion[e][g]:>4}" for g in slugs))
    if args.errors and errors:
        print()
        print("errors (expected -> given, score, title)")
        for expected, got, score, title, url in sorted(errors):
            print(f"  {expected} -> {got} ({score}): {title[:90]}  <{url[:70]}>")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
