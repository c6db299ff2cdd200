"""Keyword taxonomy: give every item a primary category and a score.

The taxonomy is an editable YAML file (default: ``sources/taxonomy.yaml``)::

    settings:                  # optional, defaults shown
      title_weight: 3          # points for a keyword found in the title
      summary_weight: 1        # points for a keyword found in the summary
      source_bias: 2           # points added to a source's preferred category
      min_points: 1            # below this, the item goes to ``autres``
    sources:                   # optional: bias a source towards a category
      "IREV – actualités": vie-du-reseau
    categories:
      - slug: transitions
        label: Transitions                 # French section title
        description: >-                    # optional, French: what the rubric covers (review page; not scored)
          Climat, énergie, nature en ville, transition numérique.
        hashtags: ["#Transitions"]         # for social posts
        keywords: [transition écologique, "sobriété énergétique": 2]
        paths: ["/thematiques/transition"]  # URL path prefixes forcing the category
      - slug: autres                        # required: used when nothing fits
        label: Autres actualités
        hashtags: []

Matching ignores case, accents, ligatures (œ → oe) and apostrophes, and
folds French plural and feminine endings (``éducatives`` matches
``éducatif``, ``sociaux`` matches ``social``). Keywords may be phrases; a
phrase counts one point per content word instead of 1 (words of more than
two letters, French articles and prepositions such as "des", "pour" left out), and
a keyword found only inside a longer keyword of the same category does not
count again. A keyword may be written ``"term": weight`` to multiply its
points by ``weight``.

Rules, in order:

1. ``item.category`` already set to a known slug (forced by the source
   configuration): kept, score 1.0.
2. URL path starting with one of a category's ``paths``: that category, score 1.0.
3. Otherwise points = sum over distinct keywords found (title hits weigh
   ``title_weight``, summary hits ``summary_weight``, times the keyword weight)
   plus ``source_bias`` for the category preferred for the item's source.
   The category with most points wins (ties: taxonomy order); score =
   points / (points + 3), in 0..1. Under ``min_points``: ``autres``, score 0.

That is :func:`classify_item`, the keywords alone. :func:`classify` (what
``newsletter classify`` and the monthly run use) blends these points with a
small text model (``newsletter.curate.model``; ``settings.model_weight: 0``
turns it off) and works on whole batches: a batch's texts are folded by one
``bytes.translate`` and cut into words with numpy, every distinct word is
stemmed once (:class:`TermTable`; one dictionary lookup per distinct word of
a batch, not per word), then keywords are matched on arrays of integer ids
(:meth:`Taxonomy.points_matrix`, equal to :meth:`Taxonomy.points` item by
item: a test checks it).
"""

from __future__ import annotations

from newsletter.errors import UserError

import json
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Sequence
from urllib.parse import unquote, unquote_to_bytes


from newsletter.curate import gc_paused, group_equal, sorted_unique
from newsletter.home import TAXONOMY_FILE, config_path, packaged_sources
from newsletter.models import Item
from newsletter.yamlfile import load_yaml

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

FALLBACK = "autres"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A hashtag is one word (letters, digits, _), "#" optional; the social drafts use the same rule.
HASHTAG = re.compile(r"^#?([\w]+)$", re.UNICODE)
_WORD = re.compile(r"[a-z0-9]+")
# bytes.translate table: ASCII letters and digits (and NUL) kept, anything else a space
_SPACES = bytes(c if (chr(c).isascii() and chr(c).isalnum() and not chr(c).isupper()) or c == 0 else 32 for c in range(256))


class TaxonomyError(UserError):
    """The taxonomy file is unusable. The message names the file and the problem."""


# --------------------------------------------------------------------------
# French text folding (shared with dedupe.py)


_LIGATURES = (("œ", "oe"), ("æ", "ae"), ("ß", "ss"), ("ø", "o"), ("ł", "l"), ("đ", "d"), ("ı", "i"))
# after NFKD: anything not ASCII and not a combining accent separates words
_NON_WORD = re.compile(r"[^\x00-\x7f\u0300-\u036f]+")


def _latin1_table() -> bytes:
    table = bytearray(range(256))
    for code in range(0x80, 0x100):
        base = unicodedata.normalize("NFKD", chr(code))[:1]
        table[code] = ord(base) if base.isascii() and base.isalnum() else ord(" ")
    return bytes(table)


_LATIN1 = _latin1_table()  # Latin-1 byte -> ASCII letter without accent, or space
# the same after lower-casing (no Latin-1 letter lower-cases outside Latin-1): fold() of Latin-1 text in one step
_LOWER_LATIN1 = bytes(_LATIN1[ord(chr(c).lower())] for c in range(256))
# common non-Latin-1 punctuation in French text, turned into spaces before the fast path
_PUNCTUATION = ("’", "‘", "“", "”", "–", "—", "…", "•", "\u2010", "\u2011", "\u202f", "\u2009")
# the same, then anything but an ASCII letter, digit or NUL as a space (_SPACES)
_LOWER_LATIN1_WORDS = _LOWER_LATIN1.translate(_SPACES)
_FOLDED: dict[str, str] = {}  # dedupe and classify fold the same titles and summaries
_FOLDED_MAX = 250_000


def fold(text: str) -> str:
    """Lower-case ASCII: accents and ligatures (œ → oe, ﬁ → fi) folded, other
    non-ASCII characters (curly apostrophes, dashes, guillemets) as spaces."""
    got = _FOLDED.get(text)
    if got is not None:
        return got
    s = text.lower()
    if not s.isascii():
        try:  # fast path: most French text is Latin-1
            s = s.encode("latin-1").translate(_LATIN1).decode("ascii")
        except UnicodeEncodeError:
            for lig, rep in _LIGATURES:
                if lig in s:
                    s = s.replace(lig, rep)
            for mark in _PUNCTUATION:
                if mark in s:
                    s = s.replace(mark, " ")
            try:  # once ’ and œ are gone
                s = s.encode("latin-1").translate(_LATIN1).decode("ascii")
            except UnicodeEncodeError:
                s = unicodedata.normalize("NFKD", s)
                s = _NON_WORD.sub(" ", s).encode("ascii", "ignore").decode("ascii")
    if len(_FOLDED) >= _FOLDED_MAX:
        _FOLDED.clear()
    _FOLDED[text] = s
    return s


def fold_joined(texts: Sequence[str], words_only: bool = False) -> bytes:
    """``fold`` of every text, joined by NUL, as ASCII bytes: a batch of
    Latin-1 texts is lowered and folded by one ``bytes.translate``; only texts
    with characters beyond Latin-1 (curly apostrophes, œ) go through
    :func:`fold` one by one. ``words_only``: also every character other than a
    letter, a digit or NUL as a space (in the same ``bytes.translate``). None
    reads as an empty text."""
    table = _LOWER_LATIN1_WORDS if words_only else _LOWER_LATIN1
    try:
        joined = "\0".join(texts)
    except TypeError:  # a None among them
        texts = [t or "" for t in texts]
        joined = "\0".join(texts)
    try:
        return joined.encode("latin-1").translate(table)
    except UnicodeEncodeError:
        pass
    chunks = []
    for text in texts:
        try:
            chunks.append(text.encode("latin-1").translate(table))
        except UnicodeEncodeError:
            folded = fold(text).replace("\0", " ").encode("ascii")
            chunks.append(folded.translate(_SPACES) if words_only else folded)
    return b"\0".join(chunks)


def words(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits), in order."""
    return _WORD.findall(fold(text))


_STEMS: dict[str, str] = {}


def stem(word: str) -> str:
    """Fold French plural and feminine endings of a folded word (cached).

    nationaux → national, bureaux → bureau, éducatives → educatif,
    culturelles → culturel, citoyennes → citoyen, jeunes → jeun.
    """
    got = _STEMS.get(word)
    if got is not None:
        return got
    w = word
    if len(w) > 3 and not w.isdigit():
        if w.endswith("eaux"):
            w = w[:-1]
        elif w.endswith("aux") and len(w) > 4:
            w = w[:-3] + "al"
        elif w[-1] in "sx" and not w.endswith("ss"):
            w = w[:-1]
        for fem, masc in (("ive", "if"), ("elle", "el"), ("enne", "en"), ("euse", "eur"),
                          ("trice", "teur"), ("ere", "er")):
            if w.endswith(fem) and len(w) > len(fem) + 1:
                w = w[: -len(fem)] + masc
                break
        if len(w) > 3 and w.endswith("e"):
            w = w[:-1]
    if len(_STEMS) < 500_000:
        _STEMS[word] = w
    return w


def terms(text: str) -> list[str]:
    """Stemmed folded words: what keywords are matched against."""
    get = _STEMS.get
    return [get(w) or stem(w) for w in words(text)]


# --------------------------------------------------------------------------
# Batches: every distinct word is folded and stemmed once, then whole batches
# of texts are matched as integer arrays (numpy) instead of item by item.


class _Words(dict):
    """Folded word (ASCII bytes) -> stem id; a word seen for the first time is stemmed."""

    def __init__(self, table: "TermTable"):
        super().__init__({b"\0": 0})
        self._table = table

    def __missing__(self, word: bytes) -> int:
        got = self[word] = self._table.stem_id(stem(word.decode("ascii")))
        return got


class TermTable:
    """Integer ids for stems, shared by the keyword matcher and the text model.

    ``word -> stem id`` is computed once per distinct folded word; id 0 is the
    separator written after every text. Per stem: whether it is a content word
    (more than two letters, or digits) and the id of its five-letter prefix
    (0 when the stem has five letters or fewer). Users map ids to their own
    columns per batch (:meth:`ids_of`), so :meth:`reset` (when the table grows
    past :data:`MAX_WORDS`) never leaves a stale id behind.
    """

    MAX_WORDS = 1_000_000

    def __init__(self) -> None:
        # held while ids are handed out and used (one classification at a time:
        # the review app may classify from several threads)
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        self.words = _Words(self)  # folded word (ASCII bytes) -> stem id
        self.stems: dict[str, int] = {"": 0}
        self.stem_list: list[str] = [""]
        self.content = bytearray(b"\0")
        self.prefix: list[int] = [0]
        self.prefixes: dict[str, int] = {"": 0}
        self.generation = getattr(self, "generation", 0) + 1

    def stem_id(self, s: str) -> int:
        got = self.stems.get(s)
        if got is None:
            got = self.stems[s] = len(self.stem_list)
            self.stem_list.append(s)
            self.content.append(1 if len(s) > 2 or s.isdigit() else 0)
            if len(s) > 5:
                p = s[:5] + "~"
                self.prefix.append(self.prefixes.setdefault(p, len(self.prefixes)))
            else:
                self.prefix.append(0)
        return got

    def maybe_reset(self) -> None:
        """Start afresh when the table has grown past :data:`MAX_WORDS` words
        (called before a batch, never between the batches of one classification)."""
        if len(self.words) > self.MAX_WORDS:
            self.reset()

    def ids_of(self, stems: Iterable[str]) -> list[int]:
        return [self.stem_id(s) for s in stems]

    def batch(self, texts: Sequence[str], max_words: int | None = None) -> tuple["np.ndarray", "np.ndarray"]:
        """Stem ids of the words of every text, concatenated, each text followed
        by 0; and the offset where every text starts. ``max_words``: only the
        first words of each text.

        The texts are folded and joined by NUL (which folded text never holds:
        checked) and read as one numpy byte array (:func:`_word_ids`): a Python
        loop runs over the distinct words only, not over every word."""
        import numpy as np

        if not texts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        # folded text is ASCII: the bytes.translate that folds it also turns
        # every character that is not a letter or digit into a space (words are
        # then what _WORD.findall finds), and the NUL ending every text is kept
        # (then spaces, a last "text": _word_ids reads 8 bytes at a time past a word's start)
        data = fold_joined([*texts, " " * _PADDING], words_only=True)
        if data.count(b"\0") != len(texts):  # a NUL inside a text
            return self.batch([(t or "").replace("\0", " ") for t in texts], max_words)
        arr = _word_ids(data, self.words)
        ends = np.flatnonzero(arr == 0)
        starts = np.zeros(len(ends), dtype=np.int64)
        starts[1:] = ends[:-1] + 1
        if max_words is not None and len(arr):
            doc = np.repeat(np.arange(len(ends)), np.diff(np.concatenate([starts, [len(arr)]])))
            keep = (np.arange(len(arr)) - starts[doc] < max_words) | (arr == 0)
            arr = arr[keep]
            ends = np.flatnonzero(arr == 0)
            starts[1:] = ends[:-1] + 1
        return arr, starts


# A token is known by its bytes read as 64-bit windows (zeros past its end: no
# word byte is zero), 8 characters each, up to _EXACT_CHARS characters; a
# longer word (rare in French) by a number per distinct word (a Python dictionary).
_EXACT_CHARS = 24
_PADDING = _EXACT_CHARS + 8
_MIX = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F)  # odd: multiplying by one is a bijection


def _word_ids(data: bytes, words: dict[bytes, int]) -> "np.ndarray":
    """The ids ``words[w]`` of the tokens of ``data`` (runs of ASCII letters
    and digits; every NUL is a token of its own, id ``words[b"\\0"]``), in order.
    ``data`` ends with :data:`_PADDING` spaces.

    Vectorised: token boundaries by array comparisons; every token's windows
    mixed into one 64-bit key (:func:`_word_keys`), tokens grouped by key
    with one sort (:func:`newsletter.curate.group_equal`). Then one dictionary lookup per distinct
    word, in order of first appearance, so that new words
    (``words.__missing__``) are met in the same order as by a word-by-word
    loop, and ids come out the same. (Arrays are few and updated in place:
    at 100k items, fresh memory costs as much as the arithmetic.)"""
    import numpy as np

    arr = np.frombuffer(data, dtype=np.uint8)
    is_word = arr > 32  # letters and digits; NUL is 0, anything else a space
    edges = np.flatnonzero(is_word[1:] != is_word[:-1])  # the padding ends every word
    edges += 1
    if is_word[0]:
        edges = np.concatenate([[0], edges])
    word_starts, word_ends = edges[0::2], edges[1::2]
    first = arr == 0
    first[word_starts] = True
    pos = np.flatnonzero(first)  # where every token starts, in order
    del first
    length = np.ones(len(pos), dtype=np.int32)
    length[is_word[pos]] = word_ends - word_starts
    del is_word, edges, word_starts, word_ends
    windows = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))  # 8 bytes at every offset
    key = windows[pos]
    shift = np.minimum(length, 8).astype(np.uint8)  # the bytes past the word's end: shifted out
    np.subtract(8, shift, out=shift)
    shift <<= 3
    key <<= shift
    key >>= shift
    del shift
    # words of more than 8 characters: their next windows (all of them: one
    # column per 8 characters up to _EXACT_CHARS; beyond, a number per word)
    long = np.flatnonzero(length > 8)
    tail = np.zeros((len(long), _EXACT_CHARS // 8 - 1), dtype=np.uint64)
    masks = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
    for k in range(tail.shape[1]):
        tail[:, k] = windows[pos[long] + 8 * (k + 1)] & masks[np.clip(length[long] - 8 * (k + 1), 0, 8)]
    too_long = np.flatnonzero(length[long] > _EXACT_CHARS)
    if len(too_long):
        seen: dict[bytes, int] = {}
        at = long[too_long]
        key[at] = [seen.setdefault(data[p:p + size], len(seen))
                   for p, size in zip(pos[at].tolist(), length[at].tolist())]
        tail[too_long] = 0  # told apart from shorter words by their length
    firsts, inverse = group_equal(_word_keys(key, length, long, tail))
    by_appearance = np.argsort(firsts)
    firsts = firsts[by_appearance]  # the first token of every distinct word, in order of appearance
    got = [words[data[p:p + size]] for p, size in zip(pos[firsts].tolist(), length[firsts].tolist())]
    ids = np.empty(len(firsts), dtype=np.int64)
    ids[by_appearance] = got
    return ids[inverse]


def _word_keys(head: "np.ndarray", length: "np.ndarray", long: "np.ndarray", tail: "np.ndarray") -> "np.ndarray":
    """One 64-bit key per token (``head``, its first window, is turned into
    it in place). Up to 8 characters, ``head * K0``: a bijection of the word's
    bytes, exact. For the ``long`` tokens, a polynomial of all their windows
    (``tail``) and their length: two different words share a key with a
    chance of about 2**-64 (for 100,000 distinct long words, about 3e-10 that
    any two do)."""
    import numpy as np

    k0, k1 = np.uint64(_MIX[0]), np.uint64(_MIX[1])
    with np.errstate(over="ignore"):
        key = head
        key *= k0  # in place: ``head`` is not needed any more
        if len(long):
            mixed = key[long]
            for k in range(tail.shape[1]):
                mixed = (mixed + tail[:, k]) * k1
            key[long] = (mixed + length[long].astype(np.uint64)) * k1
    return key


TERMS = TermTable()

_HEX_VALUES = bytes(int(chr(c), 16) if chr(c) in "0123456789abcdefABCDEF" else 255 for c in range(256))


def _unquote_bytes(data: bytes) -> bytes:
    """``urllib.parse.unquote_to_bytes(data)`` with numpy (urllib splits the
    text at every ``%``: ~0.1 s for 100k URLs with accents): a ``%`` followed
    by two hexadecimal digits is that byte, anything else stays as it is
    (escapes never overlap: a hexadecimal digit is not ``%``)."""
    import numpy as np

    arr = np.frombuffer(data, dtype=np.uint8)
    if len(arr) < 3:
        return unquote_to_bytes(data)
    value = np.frombuffer(_HEX_VALUES, dtype=np.uint8)[arr]
    at = np.flatnonzero((arr[:-2] == 0x25) & (value[1:-1] != 255) & (value[2:] != 255))
    if not len(at):
        return data
    out = arr.copy()
    out[at] = (value[at + 1] << 4) | value[at + 2]
    keep = np.ones(len(arr), dtype=bool)
    keep[at + 1] = False
    keep[at + 2] = False
    return out[keep].tobytes()


class ItemBatch:
    """The stem ids of many items' titles and summaries (see :meth:`TermTable.batch`),
    computed once for both the keywords and the text model."""

    def __init__(self, items: Sequence[Item]):
        TERMS.maybe_reset()
        self.title = TERMS.batch(list(map(attrgetter("title"), items)))  # None read as ""
        self.summary = TERMS.batch(list(map(attrgetter("summary"), items)))
        self.size = len(items)


# --------------------------------------------------------------------------
# Taxonomy


@dataclass
class Category:
    slug: str
    label: str
    keywords: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)  # keyword -> weight (default 1)
    examples: list[str] = field(default_factory=list)  # short texts the model learns from (curate/model.py)
    description: str = ""  # what the rubric covers, in French: the officer's filing rule (not scored)
    titles: list[str] = field(default_factory=list)  # phrases that, in a title, impose the rubric (job offers)


# French function words of more than two letters: not counted as content in a phrase
_FUNCTION_WORDS = frozenset(
    stem(w) for w in (
        "les des aux une dans pour par sur sous avec sans entre vers chez contre leur leurs "
        "qui que dont est cette ces ses nos vos"
    ).split()
)

_SETTINGS_DEFAULTS = {"title_weight": 3.0, "summary_weight": 1.0, "source_bias": 2.0, "min_points": 1.0,
                      "model_weight": 0.5, "model_min": 0.5}
_CATEGORY_KEYS = {"slug", "label", "description", "keywords", "hashtags", "paths", "examples", "titles"}


def training_path(name: str, taxonomy_path: Path | None) -> Path:
    """A taxonomy's ``training:`` file: next to the taxonomy file, else the
    packaged one of that name (a centre's own taxonomy can name the shipped
    ``training.jsonl`` without copying it)."""
    name = name.strip()
    base = taxonomy_path.parent if taxonomy_path else Path.cwd()
    own = base / name
    return own if own.is_file() or Path(name).is_absolute() else packaged_sources() / name


def load_training(path: Path) -> list[tuple[str, str, str]]:
    """Labelled pages, one JSON object a line with ``title``, ``summary``
    (optional) and ``label`` (a category slug): ``(title, summary, slug)``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TaxonomyError(f"taxonomy training file {path}: cannot be read ({exc.strerror or exc})") from None
    rows = []
    try:
        for number, row in jsonl_objects(lines):
            if not isinstance(row.get("title"), str) or not isinstance(row.get("label"), str):
                raise TaxonomyError(f"{path}, line {number}: expected an object with 'title' and 'label' strings")
            rows.append((row["title"], str(row.get("summary") or ""), row["label"]))
    except ValueError as exc:
        raise TaxonomyError(f"{path}, {exc}") from None
    return rows


class Taxonomy:
    """Categories in display order (``autres`` last) and the keyword index."""

    def __init__(
        self,
        categories: list[Category],
        *,
        sources: dict[str, str] | None = None,
        settings: dict[str, float] | None = None,
        path: Path | None = None,
        training: Iterable[tuple[str, str, str]] | None = None,
    ):
        self.path = path
        where = str(path) if path else "taxonomy"
        by_slug: dict[str, Category] = {}
        for cat in categories:
            if cat.slug in by_slug:
                raise TaxonomyError(f"{where}: duplicate category slug {cat.slug!r}")
            by_slug[cat.slug] = cat
        if FALLBACK not in by_slug:
            raise TaxonomyError(f"{where}: a category with slug {FALLBACK!r} is required (used when nothing fits)")
        # display order: as written, `autres` last
        self.categories: list[Category] = [c for c in categories if c.slug != FALLBACK] + [by_slug[FALLBACK]]
        self._by_slug = by_slug
        self.sources = dict(sources or {})
        for name, slug in self.sources.items():
            if slug not in by_slug:
                raise TaxonomyError(f"{where}: sources: {name!r} points to unknown category {slug!r}")
        self.settings = dict(_SETTINGS_DEFAULTS)
        self.settings.update(settings or {})
        # labelled pages the text model also learns from: (title, summary, slug),
        # those of categories this taxonomy has (see ``training:``, load_training)
        self.training: list[tuple[str, str, str]] = [t for t in training or () if t[2] in by_slug]
        self._order = {c.slug: i for i, c in enumerate(self.categories)}
        # first term -> list of (rest of phrase, slug, weight)
        self._index: dict[str, list[tuple[tuple[str, ...], str, float]]] = {}
        self._paths: list[tuple[str, str]] = []
        # title phrases that impose a category (``titles:``), indexed as the keywords
        self._title_index: dict[str, list[tuple[tuple[str, ...], str, float]]] = {}
        self._title_phrases: dict[tuple[str, tuple[str, ...]], str] = {}  # as the taxonomy writes them
        for cat in self.categories:
            seen: set[tuple[str, ...]] = set()
            for kw in cat.keywords:
                toks = tuple(terms(kw))
                if not toks:
                    raise TaxonomyError(f"{where}: category {cat.slug!r}: keyword {kw!r} has no letters")
                if toks in seen:
                    continue
                seen.add(toks)
                # a phrase counts one point per content word: short words ("de", "l")
                # and French articles and prepositions ("des", "les", "pour") do not count
                content = sum(1 for t in toks if len(t) > 2 and t not in _FUNCTION_WORDS) or 1
                weight = float(cat.weights.get(kw, 1.0)) * content
                self._index.setdefault(toks[0], []).append((toks[1:], cat.slug, weight))
            for p in cat.paths:
                self._paths.append((fold(p).replace(" ", "-").rstrip("/") or "/", cat.slug))
            for phrase in cat.titles:
                toks = tuple(terms(phrase))
                if not toks:
                    raise TaxonomyError(f"{where}: category {cat.slug!r}: title phrase {phrase!r} has no letters")
                if (cat.slug, toks) in self._title_phrases:  # the same phrase once more (a plural)
                    continue
                self._title_index.setdefault(toks[0], []).append((toks[1:], cat.slug, 1.0))
                self._title_phrases[(cat.slug, toks)] = phrase.strip()
        self._path_slugs: dict[str, str] = {}
        for prefix, slug in self._paths:
            self._path_slugs.setdefault(prefix, slug)
        self._path_re = re.compile("|".join(re.escape(p) for p in self._path_slugs) or "(?!)")
        self._path_anywhere = re.compile(self._path_re.pattern, re.IGNORECASE)
        self._path_anywhere_folded = re.compile(self._path_re.pattern.encode("ascii"))

    # -- public helpers ---------------------------------------------------
    @property
    def slugs(self) -> list[str]:
        return [c.slug for c in self.categories]

    def __contains__(self, slug: object) -> bool:
        return slug in self._by_slug

    def category(self, slug: str) -> Category:
        try:
            return self._by_slug[slug]
        except KeyError:
            raise KeyError(f"unknown category {slug!r} (known: {', '.join(self.slugs)})") from None

    def label(self, slug: str) -> str:
        return self.category(slug).label

    def hashtags(self, slug: str) -> list[str]:
        return list(self.category(slug).hashtags)

    def labels(self) -> dict[str, str]:
        return {c.slug: c.label for c in self.categories}

    # -- loading ------------------------------------------------------------
    @classmethod
    def default(cls) -> "Taxonomy":
        return cls.load(config_path(TAXONOMY_FILE))

    @classmethod
    def load(cls, path: str | Path) -> "Taxonomy":
        path = Path(path)
        data = load_yaml(path, TaxonomyError, "taxonomy file")
        return cls.from_dict(data, path=path)

    @classmethod
    def from_dict(cls, data: Any, *, path: Path | None = None) -> "Taxonomy":
        where = str(path) if path else "taxonomy"
        if not isinstance(data, dict) or not isinstance(data.get("categories"), list) or not data["categories"]:
            raise TaxonomyError(f"{where}: expected a top-level 'categories:' list")
        unknown = sorted(set(data) - {"categories", "sources", "settings", "version", "training"})
        if unknown:
            raise TaxonomyError(f"{where}: unknown top-level key(s) {', '.join(map(repr, unknown))}")
        settings = data.get("settings") or {}
        if not isinstance(settings, dict):
            raise TaxonomyError(f"{where}: 'settings' must be a mapping")
        for key, value in settings.items():
            if key not in _SETTINGS_DEFAULTS:
                raise TaxonomyError(
                    f"{where}: settings: unknown key {key!r} (allowed: {', '.join(_SETTINGS_DEFAULTS)})"
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise TaxonomyError(f"{where}: settings.{key} must be a number >= 0, got {value!r}")
        sources = data.get("sources") or {}
        if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
            raise TaxonomyError(f"{where}: 'sources' must map a source name to a category slug")
        categories = [cls._category(raw, i, where) for i, raw in enumerate(data["categories"], start=1)]
        training = data.get("training")
        if training is not None and (not isinstance(training, str) or not training.strip()):
            raise TaxonomyError(f"{where}: 'training' must be the name of a JSON Lines file of labelled pages")
        return cls(categories, sources={str(k): v for k, v in sources.items()},
                   settings={k: float(v) for k, v in settings.items()}, path=path,
                   training=load_training(training_path(training, path)) if training else None)

    @staticmethod
    def _category(raw: Any, index: int, where: str) -> Category:
        label = f"{where}: category #{index}"
        if not isinstance(raw, dict):
            raise TaxonomyError(f"{label}: expected a mapping with slug, label, hashtags and keywords")
        if raw.get("slug"):
            label = f"{where}: category #{index} ({raw['slug']!r})"
        unknown = sorted(set(raw) - _CATEGORY_KEYS)
        if unknown:
            raise TaxonomyError(f"{label}: unknown key(s) {', '.join(map(repr, unknown))}")
        slug = raw.get("slug")
        if not isinstance(slug, str) or not _SLUG.match(slug):
            raise TaxonomyError(f"{label}: 'slug' must be lower-case letters, digits and dashes, got {slug!r}")
        name = raw.get("label")
        if not isinstance(name, str) or not name.strip():
            raise TaxonomyError(f"{label}: missing or empty 'label' (the French section title)")
        hashtags = raw.get("hashtags")
        if hashtags is None:
            raise TaxonomyError(f"{label}: missing 'hashtags' (a list, may be empty)")
        if not isinstance(hashtags, list) or not all(isinstance(h, str) and h.strip() for h in hashtags):
            raise TaxonomyError(f"{label}: 'hashtags' must be a list of strings")
        for tag in hashtags:
            if not HASHTAG.match(tag.strip()):
                raise TaxonomyError(f"{label}: hashtag {tag.strip()!r} is not a single word (letters, digits, _)")
        keywords: list[str] = []
        weights: dict[str, float] = {}
        raw_keywords = raw.get("keywords") or []
        if not isinstance(raw_keywords, list):
            raise TaxonomyError(f"{label}: 'keywords' must be a list")
        for kw in raw_keywords:
            if isinstance(kw, dict) and len(kw) == 1:
                (term, weight), = kw.items()
                if not isinstance(term, str) or isinstance(weight, bool) or not isinstance(weight, (int, float)):
                    raise TaxonomyError(f"{label}: keyword {kw!r} must be written \"term\": weight")
                keywords.append(term)
                weights[term] = float(weight)
            elif isinstance(kw, str) and kw.strip():
                keywords.append(kw)
            else:
                raise TaxonomyError(f"{label}: keyword {kw!r} must be a non-empty string")
        paths = raw.get("paths") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise TaxonomyError(f"{label}: 'paths' must be a list of URL paths starting with '/'")
        examples = raw.get("examples") or []
        if not isinstance(examples, list) or not all(isinstance(e, str) and e.strip() for e in examples):
            raise TaxonomyError(f"{label}: 'examples' must be a list of sentences")
        titles = raw.get("titles") or []
        if not isinstance(titles, list) or not all(isinstance(t, str) and t.strip() for t in titles):
            raise TaxonomyError(f"{label}: 'titles' must be a list of phrases (words found in a title)")
        description = raw.get("description")
        if description is not None and not isinstance(description, str):
            raise TaxonomyError(f"{label}: 'description' must be a sentence (text), got {description!r}")
        return Category(slug=slug, label=name.strip(), keywords=keywords,
                        hashtags=[h.strip() for h in hashtags], paths=paths, weights=weights,
                        examples=[e.strip() for e in examples], description=" ".join((description or "").split()),
                        titles=[t.strip() for t in titles])

    # -- scoring ------------------------------------------------------------
    def _hits(self, toks: list[str]) -> set[tuple[str, tuple[str, ...], float]]:
        """Distinct keywords found in ``toks``; a keyword found only inside a
        longer keyword of the same category ("renouvellement urbain" inside
        "projet de renouvellement urbain") does not count again."""
        matches = _phrase_matches(toks, self._index)
        if len(matches) > 1:
            matches.sort(key=lambda m: m[0] - m[1])  # longest first
            spans: dict[str, list[tuple[int, int]]] = {}
            kept = []
            for start, end, slug, kw, weight in matches:
                taken = spans.setdefault(slug, [])
                if any(a <= start and end <= b for a, b in taken):
                    continue
                taken.append((start, end))
                kept.append((start, end, slug, kw, weight))
            matches = kept
        return {(slug, kw, weight) for _s, _e, slug, kw, weight in matches}

    def points(self, item: Item) -> dict[str, float]:
        """Raw points per category slug for ``item`` (keywords and source bias)."""
        pts: dict[str, float] = {}
        tw = self.settings["title_weight"]
        sw = self.settings["summary_weight"]
        title_hits = self._hits(terms(item.title or ""))
        for slug, _kw, weight in title_hits:
            pts[slug] = pts.get(slug, 0.0) + tw * weight
        if item.summary:
            for slug, kw, weight in self._hits(terms(item.summary)) - title_hits:
                pts[slug] = pts.get(slug, 0.0) + sw * weight
        biased = self.sources.get(item.source or "")
        if biased:
            pts[biased] = pts.get(biased, 0.0) + self.settings["source_bias"]
        return pts

    def path_candidates(self, items: Sequence[Item]) -> set[int]:
        """Indices of the items whose URL (or canonical URL) may start with one of
        the ``paths``: one scan of all the URLs, decoded and folded as
        :meth:`path_category` does, for a prefix anywhere; :meth:`path_category`
        decides for those."""
        if not self._paths or not items:
            return set()
        import numpy as np

        urls = "\0".join(map(" ".join, zip([i.url or "" for i in items], [i.canonical_url or "" for i in items])))
        if "%" in urls:
            # unquote() of every URL, in one pass over the bytes (unquote() itself
            # splits the text at every accent): the same text, as UTF-8 decoding
            # with "replace" reads an escape next to a raw character or a NUL
            # the same way (a raw character is a whole UTF-8 sequence)
            try:
                urls = _unquote_bytes(urls.encode("utf-8")).decode("utf-8", "replace")
            except UnicodeEncodeError:  # a lone surrogate
                urls = "\0".join(unquote(u) for u in urls.split("\0"))
        folded = fold_joined(urls.split("\0"))
        hits = [m.start() for m in self._path_anywhere_folded.finditer(folded.replace(b" ", b"-"))]
        if not hits:
            return set()
        ends = np.flatnonzero(np.frombuffer(folded + b"\0", dtype=np.uint8) == 0)
        if len(ends) != len(items):  # a NUL inside a URL: check them all
            return set(range(len(items)))
        return set(np.searchsorted(ends, hits).tolist())

    def path_category(self, url: str | None) -> str | None:
        if not url or not self._paths:
            return None
        # quick no: a plain ASCII URL that holds none of the prefixes anywhere
        if not self._path_anywhere.search(url) and "%" not in url and url.isascii():
            return None
        rest = url.split("://", 1)[-1]
        slash = rest.find("/")
        path = rest[slash:] if slash >= 0 else "/"
        path = path.split("?", 1)[0].split("#", 1)[0]
        if "%" in path:
            path = unquote(path)
        path = path.lower() if path.isascii() else fold(path).replace(" ", "-")
        match = self._path_re.match(path)
        return self._path_slugs[match.group()] if match else None


    def title_rule(self, title: str | None) -> tuple[str, str] | None:
        """``(slug, phrase)`` when the title holds one of a category's ``titles:``
        phrases (matched as keywords are: case, accents and plurals aside; the
        first category in the taxonomy's order wins), else None."""
        if not self._title_index or not title:
            return None
        found = [(self._order[slug], start, slug, phrase)
                 for start, _end, slug, phrase, _w in _phrase_matches(terms(title), self._title_index)]
        if not found:
            return None
        _order, _at, slug, phrase = min(found)
        return slug, self._title_phrases[(slug, phrase)]

    def title_rules(self, batch: "ItemBatch") -> "np.ndarray":
        """:meth:`title_rule` for a batch: per item, the imposed category's column
        in :attr:`slugs`, or -1 (a test checks the two agree)."""
        import numpy as np

        out = np.full(batch.size, -1, dtype=np.int64)
        if not self._title_index or not batch.size:
            return out
        matcher = getattr(self, "_title_matcher", None)
        if matcher is None or matcher.generation != TERMS.generation:
            matcher = self._title_matcher = _KeywordMatcher(_TitleIndex(self._title_index, self._order))
        keys = matcher.found(*batch.title)
        docs, entries = np.divmod(keys, matcher.size)
        columns = matcher.column[entries]
        # the first category in the taxonomy's order wins: assign from the last column to the first
        order = np.argsort(-columns, kind="stable")
        out[docs[order]] = columns[order]
        return out

    # -- batches ------------------------------------------------------------
    def _keyword_matcher(self) -> "_KeywordMatcher":
        matcher = getattr(self, "_matcher", None)
        if matcher is None or matcher.generation != TERMS.generation:
            matcher = self._matcher = _KeywordMatcher(self)
        return matcher

    def points_matrix(self, items: Sequence[Item], batch: "ItemBatch | None" = None) -> "np.ndarray":
        """:meth:`points` of many items at once: an array (items x :attr:`slugs`),
        row i equal to ``points(items[i])`` (a test checks it). ``batch``: the
        items' words, when the caller already has them (:class:`ItemBatch`)."""
        with TERMS.lock:
            return self._points_matrix(items, batch or ItemBatch(items))

    def _points_matrix(self, items: Sequence[Item], batch: "ItemBatch") -> "np.ndarray":
        import numpy as np

        title_ids, title_starts = batch.title
        summary_ids, summary_starts = batch.summary
        matcher = self._keyword_matcher()
        pts = np.zeros((len(items), len(self.categories)))
        title_keys = matcher.found(title_ids, title_starts)
        summary_keys = matcher.found(summary_ids, summary_starts)
        summary_keys = summary_keys[~np.isin(summary_keys, title_keys)]
        for keys, factor in ((title_keys, self.settings["title_weight"]),
                             (summary_keys, self.settings["summary_weight"])):
            docs, entries = np.divmod(keys, matcher.size)
            np.add.at(pts, (docs, matcher.column[entries]), factor * matcher.weight[entries])
        if self.sources:
            bias = self.settings["source_bias"]
            for row, item in enumerate(items):
                biased = self.sources.get(item.source or "")
                if biased:
                    pts[row, self._order[biased]] += bias
        return pts


def _phrase_matches(toks: list[str], index: dict[str, list[tuple[tuple[str, ...], str, float]]]
                    ) -> list[tuple[int, int, str, tuple[str, ...], float]]:
    """Every phrase of ``index`` (first term -> (rest, slug, weight)) found in ``toks``:
    ``(start, end, slug, phrase, weight)``, in the order of the text."""
    matches = []
    for i, tok in enumerate(toks):
        for rest, slug, weight in index.get(tok, ()):
            if not rest or tuple(toks[i + 1: i + 1 + len(rest)]) == rest:
                matches.append((i, i + 1 + len(rest), slug, (tok, *rest), weight))
    return matches


@dataclass
class _TitleIndex:
    """What :class:`_KeywordMatcher` reads of a taxonomy, for its ``titles:`` phrases."""
    _index: dict[str, list[tuple[tuple[str, ...], str, float]]]
    _order: dict[str, int]


class _KeywordMatcher:
    """The taxonomy's keywords as arrays of stem ids, matched on whole batches.

    Same rules as :meth:`Taxonomy._hits`: distinct keywords per text, and a
    keyword found only inside a longer keyword of the same category (a
    containment known in advance: "renouvellement urbain" inside "projet de
    renouvellement urbain") does not count again."""

    _BASE = 0x9E3779B97F4A7C15  # odd multiplier: windows of stem ids hashed to 64 bits

    def __init__(self, taxonomy: Taxonomy):
        import numpy as np

        self.generation = TERMS.generation
        entries = [(tuple(rest and (first, *rest) or (first,)), slug, weight)
                   for first, lst in taxonomy._index.items() for rest, slug, weight in lst]
        self.size = max(1, len(entries))
        self.column = np.array([taxonomy._order[slug] for _t, slug, _w in entries], dtype=np.int64)
        self.weight = np.array([w for _t, _s, w in entries], dtype=float)
        ids = [TERMS.ids_of(toks) for toks, _s, _w in entries]
        n_stems = len(TERMS.stem_list)
        # per phrase length: the stems phrases start with, the sorted window hashes, and the entries per hash
        self.lengths = []
        by_length: dict[int, list[int]] = {}
        for e, seq in enumerate(ids):
            by_length.setdefault(len(seq), []).append(e)
        for length, members in sorted(by_length.items()):
            first = np.zeros(n_stems, dtype=bool)
            first[[ids[e][0] for e in members]] = True
            seqs = np.array([ids[e] for e in members], dtype=np.int64).reshape(len(members), length)
            hashes = self._hash(seqs)
            order = np.argsort(hashes, kind="stable")
            hashes, owners = hashes[order], np.array(members, dtype=np.int64)[order]
            self.lengths.append((length, first, hashes, owners))
        # containment: entry e2 inside entry e1 (same category) at offset o
        where = {(slug, toks): e for e, (toks, slug, _w) in enumerate(entries)}
        pairs = []
        for e1, (toks, slug, _w) in enumerate(entries):
            for size in range(1, len(toks)):
                for off in range(len(toks) - size + 1):
                    e2 = where.get((slug, toks[off:off + size]))
                    if e2 is not None:
                        pairs.append((e1, off, e2))
        self.contains = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 3)
        self.max_length = max(by_length) if by_length else 1

    @classmethod
    def _hash(cls, windows: "np.ndarray") -> "np.ndarray":
        import numpy as np

        h = np.zeros(len(windows), dtype=np.uint64)
        base = np.uint64(cls._BASE)
        with np.errstate(over="ignore"):
            for j in range(windows.shape[1]):
                h = h * base + windows[:, j].astype(np.uint64)
        return h

    def found(self, ids: "np.ndarray", starts: "np.ndarray") -> "np.ndarray":
        """Sorted distinct keys ``text index * size + entry`` of the keywords found."""
        import numpy as np

        padded = np.concatenate([ids, np.zeros(self.max_length, dtype=ids.dtype)])
        positions, owners = [], []
        n_stems = len(TERMS.stem_list)
        for k, (length, first, hashes, entry_of) in enumerate(self.lengths):
            if len(first) < n_stems:  # stems seen since: none starts a keyword
                first = np.concatenate([first, np.zeros(n_stems - len(first), dtype=bool)])
                self.lengths[k] = (length, first, hashes, entry_of)
            cand = np.nonzero(first[ids])[0]
            if not len(cand):
                continue
            windows = padded[cand[:, None] + np.arange(length)]
            h = self._hash(windows)
            at = np.searchsorted(hashes, h)
            # several entries (of different categories) may share one phrase
            lo, hi = at, np.searchsorted(hashes, h, side="right")
            counts = hi - lo
            hit = counts > 0
            if not hit.any():
                continue
            rep = np.repeat(np.nonzero(hit)[0], counts[hit])
            offs = np.arange(len(rep)) - np.repeat(np.cumsum(counts[hit]) - counts[hit], counts[hit])
            positions.append(cand[rep])
            owners.append(entry_of[lo[rep] + offs])
        if not positions:
            return np.zeros(0, dtype=np.int64)
        pos = np.concatenate(positions)
        ent = np.concatenate(owners)
        if len(self.contains):
            c = self.contains
            lo = np.searchsorted(c[:, 0], ent)
            hi = np.searchsorted(c[:, 0], ent, side="right")
            counts = hi - lo
            if counts.any():
                rep = np.repeat(np.arange(len(ent)), counts)
                offs = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts)
                pair = lo[rep] + offs
                hidden = (pos[rep] + c[pair, 1]) * self.size + c[pair, 2]
                keep = ~np.isin(pos * self.size + ent, hidden)
                pos, ent = pos[keep], ent[keep]
        docs = np.searchsorted(starts, pos, side="right") - 1
        return sorted_unique(docs * self.size + ent)


def classify_item(item: Item, taxonomy: Taxonomy) -> tuple[str, float]:
    """The primary category slug and a score in 0..1 for one item (see module doc)."""
    if item.category and item.category in taxonomy:
        return item.category, 1.0
    forced = taxonomy.path_category(item.url)
    if not forced and item.canonical_url and item.canonical_url != item.url:
        forced = taxonomy.path_category(item.canonical_url)
    if forced:
        return forced, 1.0
    rule = taxonomy.title_rule(item.title)
    if rule:
        return rule[0], 1.0
    pts = taxonomy.points(item)
    if not pts:
        return FALLBACK, 0.0
    order = taxonomy._order
    slug, best = max(pts.items(), key=lambda kv: (kv[1], -order.get(kv[0], 0)))
    if best < taxonomy.settings["min_points"]:
        return FALLBACK, 0.0
    return slug, round(best / (best + 3.0), 3)


def classify(items: Iterable[Item], taxonomy: Taxonomy, *,
             examples: Iterable[tuple[str, str]] | None = None) -> None:
    """Set ``category`` and ``score`` on every item.

    A category preset on the item (forced by its source) is kept with score
    1.0 when the taxonomy knows it; an unknown preset slug is replaced and
    noted in ``item.extra["classify_note"]``. A URL path rule forces its
    category too. Otherwise the keyword points are blended with a small
    text model trained on the taxonomy's keywords and ``examples:`` and on
    ``examples``, the officer's corrections as ``(text, slug)`` pairs (see
    ``newsletter.curate.model``); ``settings.model_weight: 0`` in the
    taxonomy turns the model off (keywords only, as :func:`classify_item`).
    """
    with gc_paused():
        _classify(list(items), taxonomy, examples)


def _classify(items: list[Item], taxonomy: Taxonomy, examples: Iterable[tuple[str, str]] | None) -> None:
    from newsletter.curate import model as text_model  # the model module imports this one

    pending: list[Item] = []
    maybe_path = taxonomy.path_candidates(items)
    for row, item in enumerate(items):
        if item.category and item.category not in taxonomy:
            item.extra["classify_note"] = (
                f"catégorie « {item.category} » imposée par la source inconnue de la taxonomie : ignorée"
            )
            item.category = None
        if item.category or (row in maybe_path and (taxonomy.path_category(item.url) or (
            item.canonical_url and item.canonical_url != item.url and taxonomy.path_category(item.canonical_url)
        ))):
            item.category, item.score = classify_item(item, taxonomy)
        else:
            pending.append(item)
    if pending:
        with TERMS.lock:
            text_model.classify_pending(pending, taxonomy, examples)


# --------------------------------------------------------------------------
# JSON Lines


def jsonl_objects(lines: Iterable[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSON Lines text.

    Raises ValueError naming the line when it is not JSON or not an object."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(data, dict):
            raise ValueError(f"line {number}: expected a JSON object, got {type(data).__name__}")
        yield number, data


def read_items_jsonl(in_stream: IO[str]) -> tuple[list[Item], str | None]:
    """Parse JSON Lines into items. Returns (items, None) or ([], error message)."""
    items: list[Item] = []
    try:
        for number, data in jsonl_objects(in_stream):
            try:
                items.append(Item.from_dict(data))
            except (TypeError, ValueError) as exc:
                return [], f"line {number}: {exc}"
    except ValueError as exc:
        return [], str(exc)
    return items, None


def write_items_jsonl(items: Iterable[Item], out_stream: IO[str]) -> None:
    out_stream.write("".join(json.dumps(i.to_dict(), ensure_ascii=False) + "\n" for i in items))


def classify_jsonl(in_stream: IO[str], out_stream: IO[str], err_stream: IO[str],
                   taxonomy_path: str | Path | None = None) -> int:
    """`newsletter classify`: items in, the same items with category and score out.

    Returns the exit code: 0, or 2 with a message on ``err_stream`` (nothing written).
    """
    try:
        taxonomy = Taxonomy.load(taxonomy_path) if taxonomy_path else Taxonomy.default()
    except TaxonomyError as exc:
        err_stream.write(f"newsletter classify: {exc}\n")
        return 2
    items, error = read_items_jsonl(in_stream)
    if error:
        err_stream.write(f"newsletter classify: {error}\n")
        return 2
    classify(items, taxonomy)
    write_items_jsonl(items, out_stream)
    return 0


# --------------------------------------------------------------------------
# The officer's corrections


_SERIES = re.compile(r"^\s*([^:|–—]{3,60}?)\s*[:|–—]\s+\S")


def series_key(item: Item) -> str | None:
    """The recurring series an item belongs to: its source and its title's
    prefix ("Webinaire flash :", "Lettre du réseau |"), folded; None without one."""
    match = _SERIES.match(item.title or "")
    if not match or len(match.group(1).split()) > 5:
        return None
    prefix = " ".join(_WORD.findall(fold(match.group(1))))
    return f"{fold(item.source or item.outlet or '').strip()}|{prefix}" if prefix else None


def record_correction(store: Any, item: Item, category: str, actor: str) -> None:
    """Remember that the officer filed ``item`` under ``category``: later runs
    give that category to the same URL and to the same source's series."""
    store.add_correction({
        "url": item.key, "source": item.source or None, "outlet": item.outlet, "series_key": series_key(item),
        "title": item.title, "summary": (item.summary or "")[:1000], "category": category, "actor": actor,
    })


def correction_examples(corrections: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """The officer's corrections as ``(text, slug)`` training examples for
    :func:`classify` (``examples=``): what the model learns from them."""
    from newsletter.curate.model import item_text

    return [(item_text(c.get("title"), c.get("summary")), c["category"])
            for c in corrections if c.get("title") and c.get("category")]


def apply_corrections(items: Iterable[Item], corrections: Iterable[dict[str, Any]], taxonomy: Taxonomy) -> int:
    """Preset the category of items the officer corrected before: same URL
    (canonical), else same source's series. Returns how many items got one.

    Run before :func:`classify`, which keeps a preset category (score 1.0).
    Corrections to a category the taxonomy no longer has are ignored.
    """
    by_url: dict[str, str] = {}
    by_series: dict[str, str] = {}
    for c in corrections:  # oldest first: a later correction wins
        if c.get("category") not in taxonomy:
            continue
        by_url[c["url"]] = c["category"]
        if c.get("series_key"):
            by_series[c["series_key"]] = c["category"]
    count = 0
    for item in items:
        got = by_url.get(item.key) or by_url.get(item.url)
        if got is None and by_series:
            key = series_key(item)
            got = by_series.get(key) if key else None
        if got is not None:
            item.category = got
            item.extra["category_from"] = "correction"
            count += 1
    return count
