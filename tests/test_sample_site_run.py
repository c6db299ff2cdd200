"""`newsletter sample-site --out DIR` with no flag, then `newsletter run`/`collect` on its
sources.yaml: the run serves the folder on 127.0.0.1 for its length (issue 8, points 2 and 6).

In-process and without an install; tests/test_install.py runs the same sequence from a
non-editable install.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from datetime import date
from pathlib import Path

import pytest
import requests
import yaml

from newsletter.cli import main
from newsletter.collect.sources import SourcesError, load_sources
from newsletter.home import packaged_sources
from newsletter.samples import build_sample_site, free_local_port, serving_sample_site

TODAY = date(2026, 11, 23)
_SERVED = re.compile(r"servi sur (http://127\.0\.0\.1:\d+)/")
_ATTR_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)


def _listening(base_url: str) -> bool:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


@pytest.fixture
def home(tmp_path, monkeypatch, capsys):
    """A home made by `newsletter init`, as the working directory, nothing set in the environment."""
    for name in ("NEWSLETTER_HOME", "NEWSLETTER_OUTBOX", "NEWSLETTER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["init", "home"]) == 0
    monkeypatch.chdir(tmp_path / "home")
    capsys.readouterr()
    return tmp_path / "home"


def _plain_sample_site(capsys) -> Path:
    assert main(["sample-site", "--out", "site", "--today", TODAY.isoformat()]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == str(Path("site") / "sources.yaml")
    assert "newsletter run --sources site/sources.yaml" in out.err  # says what comes next
    return Path("site") / "sources.yaml"


def test_plain_sample_site_then_run_queues_a_draft_of_web_links_only(home, capsys, prefect_harness):
    sources = _plain_sample_site(capsys)
    config = load_sources(sources)
    assert config.sample_site is not None and config.sample_site.built_for == TODAY
    assert all(s.url.startswith("http://127.0.0.1:") for s in config.sources)

    code = main(["run", "--sources", str(sources), "--today", TODAY.isoformat()])
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    base_url = _SERVED.search(out.err).group(1)
    draft_id = out.out.strip().splitlines()[-1]
    draft = home / "outbox" / draft_id
    manifest = json.loads((draft / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "pending"
    assert manifest["sources"]["failed"] == []
    assert manifest["counts"]["agenda"] > 0 and manifest["counts"]["press"] > 0

    # every link of the draft is a web link; the sample site's own pages are the local server's
    html = (draft / "newsletter.html").read_text(encoding="utf-8")
    links = _ATTR_LINK.findall(html)
    assert links and all(re.match(r"(?i)(https?://|mailto:|\{\{unsubscribe_url\}\}$)", link) for link in links)
    assert any(link.startswith(f"{base_url}/evenements/") for link in links)
    for path in draft.rglob("*"):
        if path.is_file() and path.name != "manifest.json":
            text = path.read_text(encoding="utf-8", errors="replace")
            assert str(home) not in text and "file:" not in text, path
    # the server lived for the run only; sources.yaml names it and is still the sample site's
    assert not _listening(base_url)
    again = load_sources(sources)
    assert again.sample_site == config.sample_site
    assert {s.url.split("/")[2] for s in again.sources} == {base_url.removeprefix("http://")}


def test_collect_serves_the_sample_site_for_its_length(home, capsys):
    sources = _plain_sample_site(capsys)
    assert main(["collect", "--sources", str(sources), "--today", TODAY.isoformat()]) == 0
    out = capsys.readouterr()
    base_url = _SERVED.search(out.err).group(1)
    items = [json.loads(line) for line in out.out.splitlines()]
    assert {i["kind"] for i in items} == {"article", "event", "resource", "press"}
    assert "failed" not in out.err
    assert any(i["url"].startswith(f"{base_url}/evenements/") for i in items)
    assert not _listening(base_url)


def test_the_server_stops_when_the_run_fails_and_comes_back_on_the_same_port(tmp_path):
    port = free_local_port()
    sources = build_sample_site(tmp_path / "site", TODAY, base_url=f"http://127.0.0.1:{port}", sample_site=True)
    config = load_sources(sources)
    with pytest.raises(RuntimeError, match="boom"):
        with serving_sample_site(config) as base_url:
            assert base_url == f"http://127.0.0.1:{port}"
            assert requests.get(f"{base_url}/agenda.html", timeout=5).status_code == 200
            raise RuntimeError("boom")
    assert not _listening(base_url)
    # the rebuilt sources.yaml names the server: the next run uses that port again when free,
    # so that the items' links stay the same from one run of the month to the next
    config = load_sources(sources)
    assert all(s.url.startswith(f"{base_url}/") for s in config.sources)
    with serving_sample_site(config) as second:
        assert second == base_url
    assert not _listening(base_url)


def test_a_sources_file_without_the_marker_starts_no_server(tmp_path):
    built = build_sample_site(tmp_path / "site", TODAY, base_url="http://127.0.0.1:8123")
    config = load_sources(built)
    assert config.sample_site is None
    assert "sample_site" not in built.read_text(encoding="utf-8")
    with serving_sample_site(config) as base_url:
        assert base_url is None
    assert load_sources(packaged_sources() / "sources.yaml").sample_site is None


def test_sample_site_with_base_url_writes_no_marker(tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["sample-site", "--out", str(out), "--base-url", "http://127.0.0.1:8123"]) == 0
    assert load_sources(out / "sources.yaml").sample_site is None


def _with_marker(path: Path, target: Path, built_for="2026-11-23") -> Path:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["sample_site"] = {"built_for": built_for}
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def test_the_marker_is_refused_in_a_centres_sources_file(tmp_path):
    # a centre's real sources (on the web) marked by mistake: no server, no rebuild of its folder
    centre = tmp_path / "sources"
    shutil.copytree(packaged_sources(), centre)
    real = _with_marker(centre / "sources.yaml", centre / "sources.yaml")
    with pytest.raises(SourcesError, match=r"sources\.yaml: sample_site: source .*newsletter sample-site"):
        load_sources(real)


def test_the_marker_is_refused_away_from_the_sample_sites_pages(tmp_path):
    built = build_sample_site(tmp_path / "site", TODAY, base_url="http://127.0.0.1:8123", sample_site=True)
    (tmp_path / "elsewhere").mkdir()
    moved = (tmp_path / "elsewhere" / "sources.yaml")
    moved.write_text(built.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(SourcesError, match=r"sample_site: source 'IREV – actualités'.*not a file of this folder"):
        load_sources(moved)


@pytest.mark.parametrize("value", ["bientôt", "2026-13-01", None])
def test_a_bad_marker_date_is_named(tmp_path, value):
    built = build_sample_site(tmp_path / "site", TODAY, base_url="http://127.0.0.1:8123", sample_site=True)
    _with_marker(built, built, built_for=value)
    with pytest.raises(SourcesError, match=r"sample_site: built_for .* is not a date"):
        load_sources(built)
