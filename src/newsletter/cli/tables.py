"""How the command line prints a listing: fixed-width columns, the last one as it is."""

from __future__ import annotations

from typing import Iterable, Sequence


def print_table(rows: Iterable[Sequence[str]], widths: Sequence[int], *, empty: str,
                header: Sequence[str] | None = None) -> None:
    """Print ``rows`` one a line, each column but the last padded to its width in
    ``widths`` and one space apart, after ``header`` when given; ``empty`` alone when
    there is no row."""
    rows = list(rows)
    if not rows:
        print(empty)
        return
    for row in ([header] if header else []) + rows:
        *padded, last = row
        print("".join(f"{value:<{width}} " for value, width in zip(padded, widths)) + last)
