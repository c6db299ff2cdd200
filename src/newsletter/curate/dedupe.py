"""Exact and near-duplicate removal: each story once, the richest copy kept.

Two items are duplicates when

* they have the same canonical URL (:func:`newsletter.urls.canonical_url`,
  the page's own canonical link winning), or
* they are near-duplicates: same kind, and a similarity of at least
  ``threshold`` where similarity is the larger of

  - the Jaccard similarity of the word sets of title + summary, and
  - when the titles' word sets have a Jaccard similarity of at least
    ``title_threshold``: the mean of that title similarity and the containment
    of the smaller title + summary word set in the larger one (the same story
    with a shorter or longer summary).

  Words are folded (case, accents, ligatures, apostrophes) and common French
  stop words ignored; items with fewer than 3 words are never near-duplicates.

Never merged: two events whose start dates differ (two sessions of one
webinar are two events), and two items whose titles carry different numbers
("Lettre n°12" / "Lettre n°13", "Programme 2024" / "Programme 2025").

Candidate pairs come from MinHash locality-sensitive hashing (banding) on the
word sets of title + summary and, separately, of titles; only candidates are
compared, so the work grows with the number of items, not of pairs. Word
hashing and signatures are vectorised with numpy (datasketch's per-object
MinHash/LSH took ~20 s for 100k items, against a 10 s budget for the whole
curation core). Groups are formed transitively, except that a group never
holds two events with different start dates.

Richest copy (kept): an event with a start date beats one without; then the
longest summary; then having an image; then having a date; then the earliest
in the input. It absorbs the others' URLs (``merged``) and outlets
(``outlets``) and fills its empty fields (image, dates, place...) from them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Iterable

import numpy as np

from newsletter.curate.classify import fold, read_items_jsonl, write_items_jsonl
from newsletter.models import Item
from newsletter.normalize import PARIS, aware
from newsletter.urls import canonical_url

STOP_WORDS = frozenset(
    """le la les un une des du de et en au aux pour par sur dans avec ce ces cet cette qui que quoi
    dont ou est sont son sa ses leur leurs nos notre vos votre il elle ils elles on nous vous se ne pas
    plus qu lui mais comme tout tous toute toutes aussi sans sous entre vers chez""".split()
)
_FILL_FIELDS = (
    "published", "summary", "image", "image_alt", "start", "end", "location", "registration_url",
    "registration_deadline", "places", "audience", "contact", "category",
)
# MinHash LSH: (bands, rows). A pair with Jaccard 0.8 is a candidate with
# probability 0.9997 (text) / 0.98 (titles); 0.7: 0.97 / 0.89; 0.6: 0.80 / 0.62.
# Candidates are then checked exactly (similarity()).
_TEXT_LSH = (20, 5)
_TITLE_LSH = (12, 5)
# Buckets larger than this are chained rather than fully paired.
_FULL_BUCKET = 50


@dataclass
class DedupeResult:
    kept: list[Item]
    report: list[dict] = field(default_factory=list)

    @property
    def merged_count(self) -> int:
        return len(self.report)


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if ra > rb:
            ra, rb = rb, ra
        self.parent[rb] = ra
        return True


_WORDS2 = re.compile(r"[a-z0-9]{2,}|[0-9]")
_DIGIT = re.compile(r"[0-9]")


def _word_set(text: str) -> frozenset[str]:
    """Folded words of two characters or more and numbers, stop words left out."""
    return frozenset(_WORDS2.findall(fold(text))) - STOP_WORDS


def _numbers(tokens: frozenset[str]) -> frozenset[str]:
    return frozenset(t for t in tokens if _DIGIT.search(t))


_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)
_MAX_HASHED_CHARS = 32  # longer words are hashed on their first 32 characters and their length


def _hash_words(texts: list[str], *, folded: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`_word_set` on many texts, as 64-bit word hashes (FNV-1a).

    ``folded``: the texts are already :func:`fold`-ed. Returns ``(hashes, counts)``:
    the sorted distinct hashes of text 0, then of text 1, ... concatenated, and
    how many belong to each text.
    """
    out_hashes: list[np.ndarray] = []
    out_counts: list[np.ndarray] = []
    chunk = 4096
    for lo in range(0, len(texts), chunk):
        part = texts[lo:lo + chunk] if folded else [fold(t) if t else "" for t in texts[lo:lo + chunk]]
        arr = np.frombuffer(("\n".join(part) + "\n").encode("ascii"), dtype=np.uint8)
        alnum = ((arr >= 97) & (arr <= 122)) | ((arr >= 48) & (arr <= 57))
        before = np.concatenate(([False], alnum[:-1]))
        after = np.concatenate((alnum[1:], [False]))
        starts = np.flatnonzero(alnum & ~before)
        lengths = np.flatnonzero(alnum & ~after) + 1 - starts
        keep = (lengths >= 2) | (arr[starts] <= 57)  # words of 2+ characters, and single digits
        starts, lengths = starts[keep], lengths[keep]
        hashes = np.full(len(starts), _FNV_OFFSET, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(min(int(lengths.max()) if len(lengths) else 0, _MAX_HASHED_CHARS)):
                live = np.flatnonzero(lengths > k)
                hashes[live] = (hashes[live] ^ arr[starts[live] + k].astype(np.uint64)) * _FNV_PRIME
            long = lengths > _MAX_HASHED_CHARS
            hashes[long] = (hashes[long] ^ lengths[long].astype(np.uint64)) * _FNV_PRIME
        char_owner = np.repeat(np.arange(len(part)), [len(t) + 1 for t in part])
        owners = char_owner[starts]
        keep = ~np.isin(hashes, _STOP_HASHES)
        hashes, owners = hashes[keep], owners[keep]
        order = np.lexsort((hashes, owners))
        hashes, owners = hashes[order], owners[order]
        distinct = np.ones(len(hashes), dtype=bool)
        distinct[1:] = (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])
        hashes, owners = hashes[distinct], owners[distinct]
        out_hashes.append(hashes)
        out_counts.append(np.bincount(owners, minlength=len(part)))
    if not out_hashes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_hashes), np.concatenate(out_counts).astype(np.int64)


_STOP_HASHES = np.zeros(0, dtype=np.uint64)
_STOP_HASHES = np.unique(_hash_words([" ".join(sorted(STOP_WORDS))])[0])


def _same_start(a: Item, b: Item) -> bool:
    """False when both are dated and the dates (or both explicit times) differ."""
    if a.start is None or b.start is None:
        return True
    sa, sb = aware(a.start).astimezone(PARIS), aware(b.start).astimezone(PARIS)  # type: ignore[union-attr]
    if sa.date() != sb.date():
        return False
    ta, tb = sa.time(), sb.time()
    midnight = datetime.min.time()
    return ta == tb or ta == midnight or tb == midnight


def _richness(item: Item, index: int) -> tuple:
    has_date = item.published is not None or item.start is not None
    return (
        item.kind == "event" and item.start is not None,
        len(item.summary or ""),
        bool(item.image),
        has_date,
        -index,
    )


def _minhash_signatures(hashes: np.ndarray, lengths: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures (n x num_perm, uint32) of n non-empty sets of 64-bit hashes, vectorised.

    The sets are given concatenated (``hashes``) with their ``lengths``.
    Permutation k maps a word's hash, folded to 32 bits, through
    ``(a_k * value + b_k) mod 2**32`` (a_k odd: a permutation).
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32) | np.uint32(1)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32)
    folded = ((hashes >> np.uint64(32)) ^ hashes).astype(np.uint32)
    n = len(lengths)
    out = np.empty((n, num_perm), dtype=np.uint32)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    chunk = 4096
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        part = folded[starts[lo]:ends[hi - 1]]
        with np.errstate(over="ignore"):
            values = part[:, None] * a[None, :] + b[None, :]
        out[lo:hi] = np.minimum.reduceat(values, starts[lo:hi] - starts[lo], axis=0)
    return out


def _lsh_pairs(signatures: np.ndarray, bands: int, rows: int) -> set[tuple[int, int]]:
    """Pairs (i, j), i < j, whose signatures agree on all rows of at least one band."""
    pairs: set[tuple[int, int]] = set()
    n = signatures.shape[0]
    if n < 2:
        return pairs
    mult = np.uint64(0x9E3779B97F4A7C15)
    for band in range(bands):
        cols = signatures[:, band * rows:(band + 1) * rows].astype(np.uint64)
        key = np.zeros(n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for r in range(rows):
                key = key * mult + cols[:, r]
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        change = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        starts = np.concatenate(([0], change))
        ends = np.concatenate((change, [n]))
        for lo, hi in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist()):
            members = sorted(order[lo:hi].tolist())
            if len(members) <= _FULL_BUCKET:
                for x in range(len(members)):
                    for y in range(x + 1, len(members)):
                        pairs.add((members[x], members[y]))
            else:  # a huge bucket (boilerplate text): chain its members, linear
                pairs.update(zip(members, members[1:]))
    return pairs


def similarity(
    a_words: frozenset, b_words: frozenset, a_title: frozenset, b_title: frozenset,
    title_threshold: float = 0.6,
) -> float:
    """Similarity of two items from their word sets (see module doc), in 0..1."""
    if not a_words or not b_words:
        return 0.0
    common = len(a_words & b_words)
    jaccard = common / (len(a_words) + len(b_words) - common)
    score = jaccard
    if a_title and b_title:
        tc = len(a_title & b_title)
        tj = tc / (len(a_title) + len(b_title) - tc)
        if tj >= title_threshold:
            containment = common / min(len(a_words), len(b_words))
            score = max(score, (tj + containment) / 2)
    return score


def _merge_into(kept: Item, other: Item) -> None:
    for url in [other.url, *other.merged]:
        if url and url != kept.url and url not in kept.merged:
            kept.merged.append(url)
    for outlet in [other.outlet, *other.outlets]:
        if outlet and outlet != kept.outlet and outlet not in kept.outlets:
            kept.outlets.append(outlet)
    for name in _FILL_FIELDS:
        if not getattr(kept, name) and getattr(other, name):
            setattr(kept, name, getattr(other, name))
    if other.places_limited and not kept.places_limited:
        kept.places_limited = True


def _fr(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def dedupe(items: Iterable[Item], *, threshold: float = 0.7, title_threshold: float = 0.6) -> DedupeResult:
    """Keep each story once. Sets ``canonical_url`` on every item.

    Returns the kept items in input order (each the richest copy of its group,
    with ``merged`` and ``outlets`` filled) and one report entry per absorbed item.
    """
    if not 0 < threshold <= 1 or not 0 < title_threshold <= 1:
        raise ValueError(f"dedupe: thresholds must be in (0, 1], got {threshold}, {title_threshold}")
    items = list(items)
    n = len(items)
    for item in items:
        try:
            item.canonical_url = canonical_url(item.url, item.canonical_url)
        except ValueError:
            item.canonical_url = (item.url or "").strip() or None
    uf = _UnionFind(n)
    # edge evidence: absorbed index -> (partner index, similarity or None for same URL)
    evidence: dict[int, tuple[int, float | None]] = {}
    # the dated event of each group, so that chains never join two sessions
    dated: dict[int, Item] = {i: item for i, item in enumerate(items) if item.kind == "event" and item.start}

    def join(a: int, b: int) -> bool:
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            return True
        ea, eb = dated.get(ra), dated.get(rb)
        if ea is not None and eb is not None and not _same_start(ea, eb):
            return False
        uf.union(ra, rb)
        root = uf.find(ra)
        if ea is not None or eb is not None:
            dated[root] = ea if ea is not None else eb  # type: ignore[assignment]
        return True

    # 1. Same canonical URL (events: same start too).
    by_url: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_url[item.key].append(i)
    for members in by_url.values():
        if len(members) < 2:
            continue
        groups: list[int] = []  # one leader per distinct event start
        for i in members:
            for leader in groups:
                if join(leader, i):
                    evidence.setdefault(i, (leader, None))
                    break
            else:
                groups.append(i)

    # 2. Near-duplicates among the remaining representatives.
    reps = [i for i in range(n) if uf.find(i) == i]
    title_hashes, title_counts = _hash_words([items[i].title for i in reps])
    # title and summary folded apart: classify folds the same strings next (cached)
    text_hashes, text_counts = _hash_words(
        [f"{fold(items[i].title)}\n{fold(items[i].summary) if items[i].summary else ''}" for i in reps], folded=True
    )
    title_offsets = np.cumsum(title_counts) - title_counts
    text_offsets = np.cumsum(text_counts) - text_counts
    eligible = np.flatnonzero(text_counts >= 3)
    titled = eligible[title_counts[eligible] > 0]
    pairs: set[tuple[int, int]] = set()
    for hashes, counts, chosen, (bands, rows), seed in (
        (text_hashes, text_counts, eligible, _TEXT_LSH, 1),
        (title_hashes, title_counts, titled, _TITLE_LSH, 2),
    ):
        if len(chosen) < 2:
            continue
        mask = np.zeros(len(counts), dtype=bool)
        mask[chosen] = True
        signatures = _minhash_signatures(hashes[np.repeat(mask, counts)], counts[chosen], bands * rows, seed)
        chosen_list = chosen.tolist()
        for x, y in _lsh_pairs(signatures, bands, rows):
            pairs.add((chosen_list[x], chosen_list[y]))

    text_sets: dict[int, frozenset[int]] = {}
    title_sets: dict[int, frozenset[int]] = {}
    numbers: dict[int, frozenset[str]] = {}

    def sets_of(k: int) -> tuple[frozenset[int], frozenset[int], frozenset[str]]:
        if k not in text_sets:
            lo = int(text_offsets[k])
            text_sets[k] = frozenset(text_hashes[lo:lo + int(text_counts[k])].tolist())
            lo = int(title_offsets[k])
            title_sets[k] = frozenset(title_hashes[lo:lo + int(title_counts[k])].tolist())
            numbers[k] = _numbers(_word_set(items[reps[k]].title))
        return text_sets[k], title_sets[k], numbers[k]

    best_link: dict[int, float] = {}
    for a, b in sorted(pairs):
        ia, ib = reps[a], reps[b]
        x, y = items[ia], items[ib]
        if x.kind != y.kind:
            continue
        if x.kind == "event" and not _same_start(x, y):
            continue
        text_a, title_a, na = sets_of(a)
        text_b, title_b, nb = sets_of(b)
        if na and nb and na != nb:
            continue
        sim = similarity(text_a, text_b, title_a, title_b, title_threshold)
        if sim >= threshold and join(ia, ib):
            for i in (ia, ib):
                best_link[i] = max(sim, best_link.get(i, 0.0))
            for i, partner in ((ib, ia), (ia, ib)):
                prev = evidence.get(i)
                if prev is None or (prev[1] is not None and prev[1] < sim):
                    evidence[i] = (partner, sim)

    # 3. Pick the richest copy of each group, merge the others into it.
    clusters: dict[int, list[int]] = defaultdict(list)
    find = uf.find
    parent = uf.parent
    for i in range(n):
        if parent[i] != i:  # roots are the smallest index of their group
            clusters[find(i)].append(i)
    keep = [True] * n
    report: list[dict] = []
    for root, members in clusters.items():
        members.insert(0, root)
        for i in members:
            keep[i] = False
        best = max(members, key=lambda i: _richness(items[i], i))
        keep[best] = True
        kept = items[best]
        for i in sorted(members):
            if i == best:
                continue
            other = items[i]
            partner, sim = evidence.get(i, (best, None))
            if other.key == kept.key:
                reason, explanation, sim = "same canonical URL", "même adresse (après nettoyage du lien)", None
            else:
                if sim is None:  # i joined through a same-URL copy: report its best near-dup link
                    sim = best_link.get(i, threshold)
                reason = f"near-duplicate (similarity {sim:.2f})"
                explanation = f"même information, titre et résumé proches (similarité {_fr(sim)})"
            report.append(
                {
                    "kept_url": kept.url,
                    "kept_title": kept.title,
                    "kept_source": kept.source,
                    "absorbed_url": other.url,
                    "absorbed_title": other.title,
                    "absorbed_outlet": other.outlet,
                    "absorbed_source": other.source,
                    "kind": other.kind,
                    "reason": reason,
                    "similarity": round(sim, 3) if sim is not None else None,
                    "explanation": explanation,
                    # the absorbed copy as it was, so that a wrong merge can be undone
                    "absorbed_item": other.to_dict(),
                }
            )
            _merge_into(kept, other)
    kept_items = [item for item, k in zip(items, keep) if k]
    return DedupeResult(kept=kept_items, report=report)


def dedupe_jsonl(in_stream: IO[str], out_stream: IO[str], err_stream: IO[str]) -> int:
    """`newsletter dedupe`: items in, the kept items (with ``merged`` URLs) out.

    Returns the exit code: 0, or 2 with a message naming the line on
    ``err_stream`` and nothing written on ``out_stream``.
    """
    items, error = read_items_jsonl(in_stream)
    if error:
        err_stream.write(f"newsletter dedupe: {error}\n")
        return 2
    result = dedupe(items)
    write_items_jsonl(result.kept, out_stream)
    return 0
