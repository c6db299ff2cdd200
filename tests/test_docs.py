"""Every command and setting is documented in the README; the README opens with the two commands."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from newsletter.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: str = "newsletter") -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix} {name}"
                nested = _commands(sub, full)
                out.extend(nested or [full])
    return out


def test_every_command_is_documented():
    commands = _commands(build_parser())
    assert "newsletter outbox approve" in commands
    missing = [c for c in commands if f"`{c}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_every_option_is_documented():
    parser = build_parser()
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for opt in sub._actions:
                    for flag in opt.option_strings:
                        if flag.startswith("--") and flag not in ("--help", "--actor", "--json") and flag not in README:
                            missing.append(f"{name} {flag}")
    assert not missing, f"undocumented options: {missing}"


def test_every_setting_is_documented():
    source = (ROOT / "src" / "newsletter" / "settings.py").read_text()
    names = set(re.findall(r"NEWSLETTER_[A-Z_]+", source)) | {"NEWSLETTER_SOURCES"}
    missing = sorted(n for n in names if n not in README)
    assert not missing, f"undocumented settings: {missing}"


def test_readme_starts_with_make_run_and_make_test():
    first_block = README.split("```")[1]
    lines = [l.split("#")[0].strip() for l in first_block.splitlines() if l.strip() and not l.startswith("sh")]
    assert lines[:2] == ["make run", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_tests_cannot_reach_beyond_loopback():
    import socket

    import pytest

    with pytest.raises(ConnectionRefusedError, match="127.0.0.1"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
