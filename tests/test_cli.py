"""The command line: collect's contract, clear errors for bad input, the fast path without Prefect."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from newsletter.cli import main

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>IREV</title><link>https://www.irev.fr/</link><description>x</description>
<item><title>Assemblée générale : le programme {n} adopté</title><link>https://www.irev.fr/actualites/ag-{n}</link>
<description>&lt;p&gt;Les membres du GIP ont adopté le &lt;b&gt;programme&lt;/b&gt;.&lt;/p&gt;</description>
<pubDate>Mon, 16 Nov 2026 09:00:00 +0100</pubDate></item>
</channel></rss>"""


def _sources(tmp_path, server, entries):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        + "".join(
            f"  - name: {name}\n    kind: {kind}\n    type: feed\n    url: {url}\n" for name, kind, url in entries
        ),
        encoding="utf-8",
    )
    return path


def test_collect_writes_json_lines_and_reports_failures_on_stderr(tmp_path, server, capsys):
    server.add("/a.xml", RSS.format(n=2027), headers={"Content-Type": "application/rss+xml"})
    server.add("/missing.xml", b"nope", status=404)
    path = _sources(
        tmp_path,
        server,
        [("Site IREV", "article", server.url("/a.xml")), ("Flux cassé", "press", server.url("/missing.xml"))],
    )
    assert main(["collect", "--sources", str(path)]) == 0
    out, err = capsys.readouterr()
    items = [json.loads(line) for line in out.splitlines()]
    assert len(items) == 1
    item = items[0]
    for key in ("kind", "title", "url", "published", "source", "summary"):
        assert key in item
    assert item["kind"] == "article" and item["source"] == "Site IREV"
    assert item["summary"] == "Les membres du GIP ont adopté le programme."
    assert item["published"].startswith("2026-11-16T09:00:00")
    assert "Flux cassé" in err and "404" in err


@pytest.mark.parametrize(
    "content,problem",
    [
        ("sources: [", "invalid YAML at line"),
        ("feeds: []", "top-level 'sources:'"),
        ("sources:\n  - name: A\n    kind: blog\n    type: feed\n    url: a.xml\n", "kind 'blog'"),
        ("sources:\n  - name: A\n    kind: article\n    type: page\n    url: https://www.irev.fr/a\n", "selectors.item"),
        ("sources:\n  - name: A\n    kind: article\n    type: feed\n", "missing or empty 'url'"),
        ("sources:\n  - name: A\n    kind: article\n    type: feed\n    url: ftp://x/a\n", "ftp: URLs are refused"),
    ],
)
def test_invalid_sources_file_is_one_clear_line(tmp_path, capsys, content, problem):
    path = tmp_path / "mes-sources.yaml"
    path.write_text(content, encoding="utf-8")
    assert main(["collect", "--sources", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and problem in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_sources_file(tmp_path, capsys):
    assert main(["collect", "--sources", str(tmp_path / "absent.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_run_rejects_a_bad_month_before_starting_prefect(tmp_path, capsys):
    assert main(["run", "--month", "2026-13"]) == 2
    assert "--month" in capsys.readouterr().err


def test_commands_other_than_run_do_not_import_prefect(tmp_path):
    code = (
        "import sys; from newsletter.cli import main; "
        "main(['outbox', 'list']); "
        "assert 'prefect' not in sys.modules, 'prefect imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_domain_package_never_imports_prefect():
    from pathlib import Path

    pkg = Path(__file__).resolve().parent.parent / "src" / "newsletter"
    offenders = [p.name for p in pkg.rglob("*.py") if "import prefect" in p.read_text() or "from prefect" in p.read_text()]
    assert offenders == []


def test_invalid_css_selector_is_reported_at_load(tmp_path):
    from newsletter.collect.sources import SourcesError, load_sources

    path = tmp_path / "s.yaml"
    path.write_text(
        "sources:\n  - name: Agenda\n    kind: event\n    type: page\n    url: https://www.irev.fr/agenda\n"
        "    selectors:\n      item: 'div[class='\n",
        encoding="utf-8",
    )
    with pytest.raises(SourcesError, match=r"selectors.item .* not a valid CSS selector"):
        load_sources(path)
