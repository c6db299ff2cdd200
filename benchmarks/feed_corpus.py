"""Run the real collector over a folder of real-world feed files and report.

Proves issue 3's last "Done when": against a large body of feeds written by
others (well-formed, ill-formed, odd encodings) ``newsletter collect`` never
crashes and every feed a reader would call readable yields its items.

The corpus is NOT in the repository (third-party files). Build one in
/tmp/feed-corpus, e.g. from the test suite shipped in feedparser's source
distribution plus a few feeds from public repositories, with a MANIFEST.tsv
saying where each file came from.

What it does:

1. serves every file on 127.0.0.1 (several local servers, so the per-host
   bound of the fetcher is exercised) under a few Content-Type variants:
   ``natural`` (the type the file declares in a feedparser-style
   ``Header: Content-Type`` comment, else one chosen by extension),
   ``bare`` (``application/xml`` with no charset) and ``wrong-charset``
   (``text/xml; charset=iso-8859-1`` whatever the bytes are); ``.gz`` and
   ``.z`` files are sent with ``Content-Encoding: gzip`` / ``deflate``;
2. runs ``collect_all`` on one ``Source`` per (file, variant), kinds
   alternating between "article" and "press";
3. runs ``newsletter collect`` as a subprocess on a generated sources.yaml for
   a sample of the files and checks exit code 0, no traceback, and the same
   number of items as ``collect_all``;
4. compares, for the natural variant, ``parse_feed`` with plain
   ``feedparser.parse`` (item count and titles).

It prints: files tried, crashes (must be 0), exceptions that escaped
``parse_feed`` but were caught by the collector's safety net, per error
category counts, "readable but yielded no items" cases (readable = plain
``feedparser.parse(bytes)`` finds at least one entry with a title or a link)
and the parse_feed / feedparser mismatches. Exit code 1 when there is a crash.

Usage: python benchmarks/feed_corpus.py [FOLDER] [--cli-sample 60] [--show 25]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import feedparser  # noqa: E402
import yaml  # noqa: E402
from httpserver import LocalServer  # noqa: E402

from newsletter.collect.collector import MemoryStateStore, collect_all  # noqa: E402
from newsletter.collect.feeds import FeedParseError, NotAFeed, parse_feed  # noqa: E402
from newsletter.collect.fetch import Fetcher  # noqa: E402
from newsletter.normalize import clean_text  # noqa: E402
from newsletter.collect.sources import Source  # noqa: E402

DEFAULT_CORPUS = Path("/tmp/feed-corpus")
SKIP_NAMES = {"MANIFEST.tsv", "README", "README.md"}
BY_SUFFIX = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".rdf": "application/rdf+xml",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
VARIANTS = ("natural", "bare", "wrong-charset")
_HEADER_LINE = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.M)


@dataclass
class CorpusFile:
    rel: str
    raw: bytes  # the bytes as stored (maybe compressed)
    body: bytes  # what the reader gets after Content-Encoding
    encoding: str | None  # Content-Encoding to send
    declared_type: str | None  # from a "Header: Content-Type" comment

    def headers(self, variant: str) -> dict[str, str]:
        if variant == "natural":
            ctype = self.declared_type or BY_SUFFIX.get(Path(self.rel.removesuffix(".gz")).suffix.lower(),
                                                        "application/xml")
        elif variant == "bare":
            ctype = "application/xml"
        else:
            ctype = "text/xml; charset=iso-8859-1"
        headers = {"Content-Type": ctype}
        if self.encoding:
            headers["Content-Encoding"] = self.encoding
        return headers


@dataclass
class Report:
    tried_files: int = 0
    tried_sources: int = 0
    crashes: list[str] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)  # exceptions caught only by the safety net
    escaped_sources: set[str] = field(default_factory=set)
    categories: collections.Counter = field(default_factory=collections.Counter)
    ok_with_items: collections.Counter = field(default_factory=collections.Counter)
    ok_empty: collections.Counter = field(default_factory=collections.Counter)
    readable: int = 0
    readable_empty: list[tuple[str, str, str]] = field(default_factory=list)  # (variant, file, why)
    mismatches: list[str] = field(default_factory=list)
    mismatch_kinds: collections.Counter = field(default_factory=collections.Counter)
    items_total: int = 0


def _decompress(rel: str, raw: bytes) -> tuple[bytes, str | None]:
    if rel.endswith(".gz"):
        try:
            return gzip.decompress(raw), "gzip"
        except (OSError, EOFError, zlib.error):
            return raw, "gzip"  # broken on purpose: the reader gets an error
    if rel.endswith(".z"):
        for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
            try:
                return zlib.decompress(raw, wbits), "deflate"
            except zlib.error:
                continue
        return raw, "deflate"
    return raw, None


def load_corpus(folder: Path, limit: int | None = None) -> list[CorpusFile]:
    files: list[CorpusFile] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name in SKIP_NAMES or path.suffix in (".py", ".tsv", ".md"):
            continue
        rel = path.relative_to(folder).as_posix()
        raw = path.read_bytes()
        body, encoding = _decompress(rel, raw)
        declared = None
        for name, value in _HEADER_LINE.findall(body[:2048]):
            if name.lower() == b"content-type":
                declared = value.decode("latin-1")
        files.append(CorpusFile(rel, raw, body, encoding, declared))
        if limit and len(files) >= limit:
            break
    return files


# --- the readable oracle: feedparser alone ---------------------------------------


def feedparser_view(body: bytes, headers: dict[str, str] | None = None):
    """Plain feedparser on the bytes: (entries, readable)."""
    kwargs = {"response_headers": {k.lower(): v for k, v in headers.items()}} if headers else {}
    parsed = feedparser.parse(body, **kwargs)
    entries = parsed.get("entries") or []
    readable = any(e.get("title") or e.get("link") for e in entries)
    return entries, readable


def _why_empty(entries, base: str) -> str:
    """Why a reader-readable feed may legitimately give no items."""
    def linked(e) -> bool:
        return _safe_join(base, e.get("link")).startswith(("http://", "https://"))

    if not any(linked(e) for e in entries):
        return "no entry has a web link (an item needs one)"
    if not any(linked(e) and (clean_text(e.get("title")) or clean_text(e.get("summary"))) for e in entries):
        return "linked entries have neither title nor text"
    return "UNEXPECTED"


def _safe_join(base: str, href: str | None) -> str:
    """urljoin, or "" for a link urllib cannot read (e.g. 'http://host[/')."""
    if not href:
        return ""
    try:
        return urljoin(base, href.strip())
    except ValueError:
        return ""


# --- run -------------------------------------------------------------------------------


def _route_name(index: int, variant: str, rel: str) -> str:
    return f"/{variant}/{index}/{quote(rel)}"


def run_collect(files: list[CorpusFile], servers: list[LocalServer], report: Report,
                max_workers: int) -> dict[str, list]:
    sources: list[Source] = []
    meta: dict[str, tuple[CorpusFile, str, str]] = {}
    for index, cf in enumerate(files):
        for variant in VARIANTS:
            if variant != "natural" and cf.rel.endswith(".json"):
                continue  # JSON is JSON: the charset games are for XML
            server = servers[(index + VARIANTS.index(variant)) % len(servers)]
            url = server.add(_route_name(index, variant, cf.rel), cf.raw, headers=cf.headers(variant))
            name = f"{variant}:{cf.rel}"
            kind = "press" if index % 2 else "article"
            sources.append(Source(name=name, kind=kind, type="feed", url=url))
            meta[name] = (cf, variant, url)
    report.tried_sources = len(sources)

    caught: list[str] = []

    class SafetyNet(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info:
                name = re.match(r"source '(.*)': ", record.getMessage())
                if name:
                    report.escaped_sources.add(name.group(1))
                caught.append(f"{record.getMessage()}: "
                              + "".join(traceback.format_exception(*record.exc_info)).strip().splitlines()[-1])

    net = SafetyNet(level=logging.ERROR)
    package_log = logging.getLogger("newsletter")
    saved = package_log.level, package_log.propagate
    package_log.setLevel(logging.ERROR)
    package_log.propagate = False
    package_log.addHandler(net)
    by_name: dict[str, list] = {}
    try:
        started = time.perf_counter()
        with Fetcher(per_host=4, timeout=10.0) as fetcher:
            results = collect_all(sources, fetcher=fetcher, state=MemoryStateStore(), max_workers=max_workers)
        report_time = time.perf_counter() - started
    except Exception:  # noqa: BLE001 - that is exactly what we count
        report.crashes.append("collect_all raised:\n" + traceback.format_exc())
        return {}
    finally:
        package_log.removeHandler(net)
        package_log.setLevel(saved[0])
        package_log.propagate = saved[1]
    report.escaped.extend(caught)
    print(f"collect_all: {len(sources)} sources in {report_time:.1f} s")

    readable_cache: dict[tuple[str, str], tuple[list, bool]] = {}
    for result in results:
        cf, variant, url = meta[result.source]
        by_name[result.source] = result.items
        report.items_total += len(result.items)
        if result.error is not None:
            report.categories[result.error.category] += 1
        elif result.items:
            report.ok_with_items[variant] += 1
        else:
            report.ok_empty[variant] += 1
        key = (cf.rel, variant)
        if key not in readable_cache:
            readable_cache[key] = feedparser_view(cf.body)
        entries, readable = readable_cache[key]
        if readable and variant == "natural":
            report.readable += 1
        if readable and not result.items:
            why = _why_empty(entries, url)
            if result.error is not None:
                why = f"{why}; error {result.error}"
            report.readable_empty.append((variant, cf.rel, why))
    return by_name


def compare_with_feedparser(files: list[CorpusFile], report: Report, base: str) -> None:
    """parse_feed vs plain feedparser on the natural variant, in process."""
    for index, cf in enumerate(files):
        headers = {k.lower(): v for k, v in cf.headers("natural").items() if k != "Content-Encoding"}
        url = f"{base}/natural/{index}/{quote(cf.rel)}"
        source = Source(name=cf.rel, kind="article", type="feed", url=url)
        try:
            ours = parse_feed(cf.body, url=url, source=source, headers=headers)
        except (NotAFeed, FeedParseError):
            ours = []
        except Exception:  # noqa: BLE001 - a bug: report, go on
            report.escaped.append(f"parse_feed({cf.rel}): " + traceback.format_exc().strip().splitlines()[-1])
            continue
        parsed = feedparser.parse(cf.body, response_headers=dict(headers, **{"content-location": url}))
        expected = []
        for e in parsed.get("entries") or []:
            link = _safe_join(url, e.get("link"))
            if not link.startswith(("http://", "https://")):
                continue
            title = clean_text(e.get("title"))
            if not title and not clean_text(e.get("summary") or (e.get("content") or [{}])[0].get("value")):
                continue
            expected.append(title)
        if len(ours) != len(expected):
            kind = "count: ours fewer" if len(ours) < len(expected) else "count: ours more"
            if not parsed.get("version") and cf.body.lstrip()[:1] in (b"{", b"["):
                kind = "JSON Feed (plain feedparser reads none)"
            report.mismatch_kinds[kind] += 1
            report.mismatches.append(f"{cf.rel}: {len(ours)} items, feedparser {len(expected)} [{kind}]")
            continue
        for mine, theirs in zip(ours, expected):
            if theirs and mine.title != theirs:
                report.mismatch_kinds["title"] += 1
                report.mismatches.append(f"{cf.rel}: title {mine.title!r} vs feedparser {theirs!r}")
                break


def run_cli(files: list[CorpusFile], servers: list[LocalServer], by_name: dict[str, list],
            report: Report, sample: int) -> tuple[int, int]:
    """`newsletter collect` on a sample; returns (sources run, items)."""
    if sample <= 0 or not files:
        return 0, 0
    # Half the sample from files that gave items (so the item count means
    # something), half spread over the rest.
    indexed = list(enumerate(files))
    fruitful = [(i, cf) for i, cf in indexed if by_name.get(f"natural:{cf.rel}")]
    others = [(i, cf) for i, cf in indexed if not by_name.get(f"natural:{cf.rel}")]
    half = sample // 2
    chosen = fruitful[:: max(1, len(fruitful) // max(1, half))][:half]
    rest = sample - len(chosen)
    chosen += others[:: max(1, len(others) // max(1, rest))][:rest]
    # Plus every file whose parsing raised in collect_all: the worst cases.
    chosen += [(i, cf) for i, cf in indexed if f"natural:{cf.rel}" in report.escaped_sources
               and (i, cf) not in chosen]
    entries = []
    expected_items = 0
    for i, cf in chosen:
        server = servers[i % len(servers)]
        entries.append({
            "name": f"natural:{cf.rel}",
            "kind": "press" if i % 2 else "article",
            "type": "feed",
            "url": server.url(_route_name(i, "natural", cf.rel)),
        })
        expected_items += len(by_name.get(f"natural:{cf.rel}", []))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sources.yaml"
        path.write_text(yaml.safe_dump({"sources": entries}, allow_unicode=True), encoding="utf-8")
        exe = ROOT / ".venv" / "bin" / "newsletter"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "newsletter.cli"]
        env = dict(os.environ, NEWSLETTER_DATABASE_URL=f"sqlite:///{tmp}/db.sqlite",
                   NEWSLETTER_OUTBOX=f"{tmp}/outbox")
        started = time.perf_counter()
        proc = subprocess.run([*cmd, "collect", "--sources", str(path), "--today", "2025-11-20"],
                              capture_output=True, timeout=600, env=env)
        elapsed = time.perf_counter() - started
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0 or "Traceback" in stderr:
        what = f"exit {proc.returncode}" + (", traceback on stderr" if "Traceback" in stderr else "")
        report.crashes.append(f"newsletter collect ({what}):\n{stderr[-3000:]}")
    lines = [line for line in proc.stdout.decode("utf-8", "replace").splitlines() if line.strip()]
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            report.crashes.append(f"newsletter collect wrote a non-JSON line: {line[:200]!r}")
            break
    print(f"newsletter collect: {len(entries)} sources, exit {proc.returncode}, {len(lines)} items "
          f"(collect_all gave {expected_items}) in {elapsed:.1f} s")
    if len(lines) != expected_items:
        report.mismatches.append(f"newsletter collect gave {len(lines)} items, collect_all {expected_items}")
        report.mismatch_kinds["cli vs collect_all"] += 1
    return len(entries), len(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_CORPUS))
    parser.add_argument("--cli-sample", type=int, default=60, help="files run through `newsletter collect`")
    parser.add_argument("--show", type=int, default=25, help="examples shown per list")
    parser.add_argument("--limit", type=int, help="only the first N files")
    parser.add_argument("--servers", type=int, default=4, help="local servers (= hosts)")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"feed_corpus: {folder} is not a folder of feed files", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.CRITICAL)  # the summary below is the output
    files = load_corpus(folder, args.limit)
    if not files:
        print(f"feed_corpus: no feed files under {folder}", file=sys.stderr)
        return 2
    report = Report(tried_files=len(files))
    servers = [LocalServer().start() for _ in range(max(1, args.servers))]
    try:
        by_name = run_collect(files, servers, report, args.workers)
        run_cli(files, servers, by_name, report, args.cli_sample)
    finally:
        for server in servers:
            server.stop()
    compare_with_feedparser(files, report, "http://127.0.0.1:1")

    show = args.show
    print()
    print(f"files tried:            {report.tried_files} ({report.tried_sources} sources over {len(VARIANTS)} "
          f"Content-Type variants)")
    print(f"crashes:                {len(report.crashes)}")
    for crash in report.crashes[:show]:
        print("  " + crash.replace("\n", "\n  "))
    print(f"escaped parse_feed:     {len(report.escaped)} (caught by the collector's safety net)")
    for line in report.escaped[:show]:
        print(f"  {line}")
    print(f"items yielded:          {report.items_total}")
    print("ok, with items:         " + ", ".join(f"{v} {report.ok_with_items[v]}" for v in VARIANTS))
    print("ok, no items:           " + ", ".join(f"{v} {report.ok_empty[v]}" for v in VARIANTS))
    print("errors by category:     " + (", ".join(f"{k} {n}" for k, n in report.categories.most_common()) or "none"))
    print(f"readable (feedparser):  {report.readable} files")
    reasons = collections.Counter((v, why.split(';')[0]) for v, _, why in report.readable_empty)
    print(f"readable, no items:     {len(report.readable_empty)} sources")
    for (variant, why), n in sorted(reasons.items()):
        print(f"  {variant:14} {n:4}  {why}")
    unexpected = [r for r in report.readable_empty if r[2].startswith("UNEXPECTED")]
    print(f"  of which unexplained: {len(unexpected)}")
    for variant, rel, why in unexpected[:show]:
        print(f"    {variant}: {rel}: {why}")
    print(f"parse_feed vs feedparser mismatches: {len(report.mismatches)} "
          f"({', '.join(f'{k} {n}' for k, n in report.mismatch_kinds.most_common()) or 'none'})")
    for line in report.mismatches[:show]:
        print(f"  {line}")
    return 1 if report.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
