"""Stage 2, curation: duplicates, categories, history, the issue's sections."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off meanwhile, as it was afterwards.

    Dedupe and classify allocate millions of small sets, lists and bytes and
    make no reference cycles; a collection would walk the caller's items again
    and again (~20 % of dedupe's time, ~0.1 s a collection at 100k items)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
