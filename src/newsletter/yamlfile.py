"""Read a YAML configuration file, with errors that name the file and the problem.

Every configuration file a person edits (sources, taxonomy, branding, the
sample site's data) is read through :func:`load_yaml`, so a typo always gets
the same kind of one-line message: ``path: invalid YAML at line 3, column 5: …``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_yaml(path: str | Path, error: type[Exception], what: str = "YAML file") -> Any:
    """Parse ``path``; raise ``error`` with a message naming the file on any problem."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{where}: file not found") from None
    except IsADirectoryError:
        raise error(f"{where}: is a directory, not a {what}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{where}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{where}: invalid YAML{pos}: {problem}") from None
