"""The package's layout rules: no module reaches into another's private names; every error a user
can cause is a UserError; the package data ships with the package."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import newsletter
from newsletter.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
CODE = [*sorted((ROOT / "src" / "newsletter").rglob("*.py")), *sorted((ROOT / "flows").rglob("*.py"))]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT / "src") if (ROOT / "src") in path.parents else path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for path in CODE:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        here = _module_name(path)
        module_aliases: dict[str, str] = {}  # local name -> project module imported whole
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = "." * node.level + (node.module or "")  # relative imports are always project ones
                if not (node.level or source.startswith(("newsletter", "flows"))):
                    continue
                for alias in node.names:
                    if _private(alias.name) and source != here:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {source} import {alias.name}")
                    else:
                        module_aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(("newsletter", "flows")):
                        module_aliases[alias.asname or alias.name.split(".")[0]] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in module_aliases
                and _private(node.attr)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert offenders == []


def _all_modules():
    yield newsletter
    for info in pkgutil.walk_packages(newsletter.__path__, "newsletter."):
        if info.name.endswith(".__main__") or info.name.startswith("newsletter.migrations"):
            continue  # migration scripts run only inside Alembic
        yield importlib.import_module(info.name)


# Raised and caught inside the collector, which turns them into a SourceError
# (a report line naming the source), so they never reach a person as exceptions.
COLLECTOR_INTERNAL = {"FetchError", "NotAFeed", "FeedParseError", "PageError", "_PageProblem", "_RefusedRedirect"}


def test_every_error_a_user_can_cause_is_a_user_error():
    offenders = []
    for module in _all_modules():
        for name, cls in vars(module).items():
            if not (inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == module.__name__):
                continue
            if issubclass(cls, UserError) or any(issubclass(cls, base) for base in _internal_bases(module)):
                continue
            offenders.append(f"{module.__name__}.{name}")
    assert offenders == []


def _internal_bases(module) -> list[type]:
    return [cls for name, cls in vars(module).items() if name in COLLECTOR_INTERNAL and inspect.isclass(cls)]


def test_the_package_data_is_found_through_the_package():
    from newsletter.home import packaged_sources, packaged_templates

    assert (packaged_templates() / "newsletter.mjml.j2").is_file()
    assert (packaged_templates() / "partials" / "macros.mjml.j2").is_file()
    for name in ("sources.yaml", "taxonomy.yaml", "branding.yaml", "README.md", "sample-site/data.yaml"):
        assert (packaged_sources() / name).is_file(), name
    # ... and is the repository's top-level templates/ and sources/, not a copy that could drift.
    assert packaged_templates().resolve() == (ROOT / "templates").resolve()
    assert packaged_sources().resolve() == (ROOT / "sources").resolve()
