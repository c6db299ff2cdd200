"""Build ``sources/training.jsonl`` (the taxonomy's training pages) from the development sets.

Usage::

    .venv/bin/python benchmarks/build_training.py          # rewrites sources/training.jsonl
    .venv/bin/python benchmarks/build_training.py --check  # exit 1 if it is not up to date

The shipped training pages ARE the development data of
``benchmarks/classify_heldout.py`` (every set below, each written by a
different author), in this order, one line per page with ``title``,
``summary``, ``label``, ``source`` and ``url``. A page whose URL is already in
(a copy in two sets) is written once. Never included: the fresh held-out set
(``benchmarks/data/classify_fresh13.jsonl``), which no model may learn from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "sources" / "training.jsonl"
DATA = ROOT / "benchmarks" / "data"
# The development sets, oldest first (also what benchmarks/classify_heldout.py scores):
# (name, path, label key, whether the taxonomy's vocabulary was tuned on it)
DEV_SETS = [
    ("classify_pages", DATA / "classify_pages.jsonl", "label", True),
    ("classify_labelled", ROOT / "tests" / "data" / "classify_labelled.jsonl", "expected", True),
    ("classify_fresh", DATA / "classify_fresh.jsonl", "label", False),  # measured once (0.661): dev since
    ("classify_fresh2", DATA / "classify_fresh2.jsonl", "label", False),  # measured once (0.800): dev since
    ("classify_real_a", DATA / "classify_real_a.jsonl", "label", False),
    ("classify_real_b", DATA / "classify_real_b.jsonl", "label", False),
    ("classify_real_c", DATA / "classify_real_c.jsonl", "label", False),
    ("classify_fresh3", DATA / "classify_fresh3.jsonl", "label", False),  # measured once (0.820): dev since
    ("classify_real_d", DATA / "classify_real_d.jsonl", "label", False),
    ("classify_real_e", DATA / "classify_real_e.jsonl", "label", False),
    ("classify_real_f", DATA / "classify_real_f.jsonl", "label", False),
    ("classify_real_g", DATA / "classify_real_g.jsonl", "label", False),
    ("classify_fresh4", DATA / "classify_fresh4.jsonl", "label", False),  # measured once (0.842): dev since
    ("classify_fresh5", DATA / "classify_fresh5.jsonl", "label", False),  # measured once (0.805): dev since
    ("classify_fresh6", DATA / "classify_fresh6.jsonl", "label", False),  # measured once (0.807): dev since
    ("classify_fresh7", DATA / "classify_fresh7.jsonl", "label", False),  # measured once (0.826): dev since
    ("classify_fresh8", DATA / "classify_fresh8.jsonl", "label", False),  # measured once (0.816): dev since
    ("classify_fresh9", DATA / "classify_fresh9.jsonl", "label", False),  # measured once (0.789): dev since
    ("classify_fresh10", DATA / "classify_fresh10.jsonl", "label", False),  # measured once (0.815): dev since
    ("classify_fresh11", DATA / "classify_fresh11.jsonl", "label", False),  # measured once (0.871): dev since
    ("classify_fresh12", DATA / "classify_fresh12.jsonl", "label", False),  # measured once (0.874): dev since
]
HELD_OUT = DATA / "classify_fresh13.jsonl"  # read only with classify_heldout.py --fresh (the lead, once)


def rows() -> list[dict]:
    out, seen = [], set()
    for _name, path, key, _tuned in DEV_SETS:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            url = row.get("url") or ""
            if url and url in seen:
                continue
            seen.add(url)
            label = row.get(key)
            if not label or not row.get("title"):
                raise SystemExit(f"{path.relative_to(ROOT)}:{number}: no title or {key}")
            out.append({"title": row["title"], "summary": row.get("summary") or "", "label": label,
                        "source": row.get("source") or "", "url": url})
    return out


def text() -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows())


def main(argv: list[str]) -> int:
    wanted = text()
    if "--check" in argv:
        if OUT.read_text(encoding="utf-8") != wanted:
            print(f"{OUT.relative_to(ROOT)} is not up to date: run benchmarks/build_training.py")
            return 1
        return 0
    OUT.write_text(wanted, encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {wanted.count(chr(10))} pages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
