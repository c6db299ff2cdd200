"""Shared fixtures. Every test that talks HTTP talks to 127.0.0.1 only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests' helpers (httpserver)

from httpserver import LocalServer  # noqa: E402

import ipaddress  # noqa: E402
import socket  # noqa: E402

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_loopback(address) -> None:
    """Refuse any connection beyond this machine: tests talk to 127.0.0.1 only."""
    if not isinstance(address, tuple):
        return  # unix socket
    host = address[0]
    if host in ("localhost",):
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ConnectionRefusedError(f"test tried to reach {host!r}: tests may only use 127.0.0.1")


def _guarded_connect(self, address):
    _check_loopback(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check_loopback(address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex


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
    """Each test gets its own home, outbox and database unless it sets them itself.

    The home is an empty folder: the packaged configuration and templates apply.
    """
    monkeypatch.setenv("NEWSLETTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{tmp_path / 'newsletter.db'}")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # SpamAssassin takes seconds per message: only the tests of the spam check turn it on.
    monkeypatch.setenv("NEWSLETTER_SPAMASSASSIN", "off")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One temporary Prefect API for the whole session, under a private PREFECT_HOME."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def prefect_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a `newsletter run` subprocess: private Prefect home, no analytics."""
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
    )
    env.pop("PREFECT_API_URL", None)
    return env


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files (tests/golden/) from the current output",
    )


def pytest_configure(config):
    if config.getoption("--update-golden", default=False):
        os.environ["UPDATE_GOLDEN"] = "1"


# -- databases: every database test runs on SQLite and on PostgreSQL ----------


@pytest.fixture(scope="session")
def postgres_server():
    """URL of a PostgreSQL server whose role may create databases (see tests/pg.py)."""
    import pg

    url = os.environ.get(pg.ENV_URL)
    if url:
        yield url
        return
    try:
        cluster = pg.ThrowawayPostgres()
        url = cluster.start()
    except Exception as exc:  # a test that cannot run must fail, not skip
        pytest.fail(f"no PostgreSQL for the tests: {exc}")
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, monkeypatch):
    """A fresh, empty database URL, once per engine; also set as NEWSLETTER_DATABASE_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    else:
        import pg

        url = pg.fresh_database(request.getfixturevalue("postgres_server"))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", url)
    return url


# -- the isolated home's settings and database (tests of drafts, checks, approval) --


@pytest.fixture
def settings():
    """The settings of the test's own home, outbox and database (see ``_isolated_settings``)."""
    from newsletter.settings import Settings

    return Settings.from_env()


@pytest.fixture
def store(settings):
    """The test's own database (a module may define its own ``store``, e.g. on both engines)."""
    from newsletter.store import Store

    return Store(settings.database_url)
