"""Shared fixtures. Every test that talks HTTP talks to 127.0.0.1 only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))  # so that `flows` imports as a package

from httpserver import LocalServer  # noqa: E402


@pytest.fixture
def server():
    srv = LocalServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def static_server():
    """Factory: serve a directory on 127.0.0.1."""
    started = []

    def make(root: Path) -> LocalServer:
        srv = LocalServer(root).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Each test gets its own outbox and database unless it sets them itself."""
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{tmp_path / 'newsletter.db'}")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
