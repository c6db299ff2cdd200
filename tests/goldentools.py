"""Helpers for the golden-file tests (tests/test_render.py, tests/test_social.py): the test issue and
the comparison with tests/golden/ (regenerate with ``--update-golden`` or UPDATE_GOLDEN=1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from newsletter.models import Issue

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
DATA = HERE / "data" / "render_issue.json"


def load_issue() -> Issue:
    """The issue the render and social tests (and their golden files) are made from."""
    return Issue.from_dict(json.loads(DATA.read_text(encoding="utf-8")))


def normalise(text: str) -> str:
    """Golden comparison ignores trailing spaces and the final newline (nothing else is volatile)."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines()) + "\n"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    actual = normalise(actual)
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        if os.environ.get("UPDATE_GOLDEN") != "1":
            pytest.fail(f"golden file {path} was missing and has been written: review it and run again")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from the golden file (UPDATE_GOLDEN=1 to regenerate)"
