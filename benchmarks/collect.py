"""Benchmark the collect step against a plain thread pool.

Serves N synthetic feeds (RSS 2.0 and Atom 1.0, alternating; ~1.5 KB per
item) on 127.0.0.1 with a fixed latency per request, spread over several
local servers (one port = one host for the per-host bound), then measures:

* ``collect_all`` with a MemoryStateStore (16 workers, 4 per host);
* a plain ``ThreadPoolExecutor(16)`` running ``requests.get`` + ``feedparser.parse``;

each for a first run (every source answers 200) and a second run in which
every source answers 304 (conditional headers from the first run). Both use
the same global concurrency (16 threads).

Each measurement is repeated (``--repeat``, default 3; plain and collect
interleaved) and the median is reported, so that one noisy sample on a busy
machine does not decide a verdict. Targets (issue 3): collect_all at least 2x
faster than the plain pool on the first run, and no slower on the second.

Every measurement runs in a fresh child process so that memory figures are
not polluted by the previous one. Memory is the growth of the child's peak
resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, KiB on
Linux) over its baseline after imports and state loading.

Usage: python benchmarks/collect.py [--feeds 200] [--items 30] [--latency 0.05] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

WORDS = (
    "politique de la ville quartiers prioritaires contrat de ville renouvellement urbain "
    "cohésion sociale égalité discriminations droit commun pilotes ingénierie territoriale "
    "Hauts-de-France centre de ressources qualification professionnels habitants emploi "
    "éducation santé tranquillité publique participation citoyenne conseil citoyen"
).split()


def _text(seed: int, n_words: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(n_words))


def make_feed(index: int, n_items: int) -> tuple[bytes, str]:
    """(bytes, content type) of synthetic feed ``index``: RSS 2.0 if even, Atom 1.0 if odd."""
    base = datetime(2025, 11, 20, 9, 0, tzinfo=timezone.utc)
    host = f"https://site{index}.example.org"
    if index % 2 == 0:
        items = []
        for i in range(n_items):
            when = format_datetime(base - timedelta(hours=i * 7 + index))
            body = _text(index + i, 120)
            items.append(
                f"<item><title>{_text(i, 8).capitalize()} n°{i}</title>"
                f"<link>{host}/actualites/{index}-{i}</link>"
                f"<guid isPermaLink=\"false\">{index}-{i}</guid>"
                f"<description><![CDATA[<p>{body}</p><p><a href=\"/en-savoir-plus\">En savoir plus</a></p>]]></description>"
                f"<pubDate>{when}</pubDate>"
                f"<enclosure url=\"{host}/media/{i}.jpg\" type=\"image/jpeg\" length=\"1000\"/></item>"
            )
        doc = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Source {index}</title><link>{host}/</link><description>Flux {index}</description>"
            + "".join(items)
            + "</channel></rss>"
        )
        return doc.encode("utf-8"), "application/rss+xml; charset=utf-8"
    entries = []
    for i in range(n_items):
        when = (base - timedelta(hours=i * 5 + index)).isoformat()
        body = _text(index + i, 120)
        entries.append(
            f"<entry><title type=\"html\">{_text(i, 8).capitalize()} n°{i}</title>"
            f"<link rel=\"alternate\" href=\"{host}/actualites/{index}-{i}\"/>"
            f"<id>{host}/actualites/{index}-{i}</id><published>{when}</published><updated>{when}</updated>"
            f"<summary type=\"html\">&lt;p&gt;{body}&lt;/p&gt;</summary></entry>"
        )
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Source {index}</title><id>{host}/</id><updated>{base.isoformat()}</updated>"
        + "".join(entries)
        + "</feed>"
    )
    return doc.encode("utf-8"), "application/atom+xml; charset=utf-8"


# --- child side ------------------------------------------------------------------------


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(mode: str, phase: str, config_path: Path, state_path: Path) -> None:
    config = json.loads(config_path.read_text())
    urls: list[str] = config["urls"]
    if mode == "collect":
        from newsletter.collect.collector import MemoryStateStore, collect_all
        from newsletter.collect.fetch import Fetcher
        from newsletter.collect.sources import Source

        sources = [Source(name=f"s{i}", kind="article", type="feed", url=u) for i, u in enumerate(urls)]
        state = MemoryStateStore.from_dict(json.loads(state_path.read_text())) if phase == "second" else MemoryStateStore()
        base_rss = _maxrss_kib()
        start = time.perf_counter()
        results = collect_all(sources, fetcher=Fetcher(), state=state, max_workers=16)
        wall = time.perf_counter() - start
        peak = _maxrss_kib() - base_rss
        items = sum(len(r.items) for r in results)
        errors = sum(1 for r in results if not r.ok)
        not_modified = sum(1 for r in results if r.not_modified)
        if phase == "first":
            state_path.write_text(json.dumps(state.to_dict()))
    else:
        from concurrent.futures import ThreadPoolExecutor

        import feedparser
        import requests

        etags = json.loads(state_path.read_text()) if phase == "second" else {}

        def one(url: str):
            headers = {"If-None-Match": etags[url]} if url in etags else {}
            resp = requests.get(url, headers=headers, timeout=(5, 20))
            if resp.status_code == 304:
                return url, resp.headers.get("ETag"), None, True
            parsed = feedparser.parse(resp.content)
            return url, resp.headers.get("ETag"), len(parsed.entries), False

        base_rss = _maxrss_kib()
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            out = list(pool.map(one, urls))
        wall = time.perf_counter() - start
        peak = _maxrss_kib() - base_rss
        items = sum(n or 0 for _, _, n, _ in out)
        errors = 0
        not_modified = sum(1 for *_, nm in out if nm)
        if phase == "first":
            state_path.write_text(json.dumps({u: e for u, e, _, _ in out if e}))
    print(json.dumps({"wall": wall, "rss_kib": peak, "items": items, "errors": errors, "not_modified": not_modified}))


# --- parent side -----------------------------------------------------------------------


def run_child(mode: str, phase: str, config: Path, state: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--phase", phase, "--config", str(config), "--state", str(state)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child {mode}/{phase} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200, help="number of feed sources (default 200)")
    parser.add_argument("--items", type=int, default=30, help="items per feed (default 30)")
    parser.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds (default 0.05)")
    parser.add_argument("--hosts", type=int, default=20, help="local servers (distinct host:port) to spread feeds over (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per figure, median reported (default 3)")
    parser.add_argument("--child", choices=("collect", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=("first", "second"), help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.phase, args.config, args.state)
        return 0

    from httpserver import LocalServer

    servers = [LocalServer().start() for _ in range(max(1, args.hosts))]
    try:
        urls = []
        total_bytes = 0
        for i in range(args.feeds):
            body, ctype = make_feed(i, args.items)
            total_bytes += len(body)
            srv = servers[i % len(servers)]
            urls.append(srv.add(f"/feed{i}.xml", body, headers={"Content-Type": ctype},
                                delay=args.latency, etag=f'"feed-{i}-v1"'))
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.json"
            config.write_text(json.dumps({"urls": urls}))
            figures: dict[tuple[str, str], dict] = {}
            samples: dict[tuple[str, str], list[dict]] = {}
            for mode in ("plain", "collect"):  # the first run also writes the state the second run reads
                state = Path(tmp) / f"state-{mode}.json"
                samples[(mode, "first")] = [run_child(mode, "first", config, state)]
            for phase in ("first", "second"):
                for n in range(max(1, args.repeat)):
                    for mode in ("plain", "collect"):
                        if phase == "first" and n == 0:
                            continue  # measured above
                        state = Path(tmp) / f"state-{mode}.json"
                        if phase == "first":  # keep the state written by the first measurement
                            state = Path(tmp) / f"state-{mode}-scratch.json"
                        samples.setdefault((mode, phase), []).append(run_child(mode, phase, config, state))
            for key, runs in samples.items():
                figures[key] = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
    finally:
        for srv in servers:
            srv.stop()

    print(f"collect benchmark: {args.feeds} feeds x {args.items} items "
          f"({total_bytes / args.feeds / 1024:.0f} KiB per feed, {total_bytes / args.feeds / args.items:.0f} B per item), "
          f"latency {args.latency * 1000:.0f} ms, {len(servers)} hosts on 127.0.0.1, {os.cpu_count()} CPUs")
    print(f"wall: median of {max(1, args.repeat)} measurements, each in a fresh child process (plain and collect interleaved)")
    print("memory: growth of peak RSS (ru_maxrss) in a fresh child process, MiB (median)")
    print("both variants run 16 requests at once; collect_all also keeps at most 4 per host")
    floor = -(-args.feeds // 16) * args.latency
    print(f"no variant can beat {floor:.2f} s: ceil({args.feeds} / 16) rounds of {args.latency * 1000:.0f} ms latency")
    print()
    print(f"{'run':<8} {'variant':<34} {'wall s':>8} {'peak MiB':>9} {'items':>7} {'304s':>5} {'errors':>6}")
    labels = {"plain": "plain pool (requests + feedparser)", "collect": "collect_all (16 workers, 4/host)"}
    for phase in ("first", "second"):
        for mode in ("plain", "collect"):
            f = figures[(mode, phase)]
            walls = " ".join(f"{r['wall']:.2f}" for r in samples[(mode, phase)])
            print(f"{phase:<8} {labels[mode]:<34} {f['wall']:>8.2f} {f['rss_kib'] / 1024:>9.1f} "
                  f"{f['items']:>7.0f} {f['not_modified']:>5.0f} {f['errors']:>6.0f}   (runs: {walls})")
    print()
    targets = {"first": (2.0, "at least 2x faster"), "second": (1.0, "no slower")}
    failed = False
    for phase in ("first", "second"):
        speedup = figures[("plain", phase)]["wall"] / figures[("collect", phase)]["wall"]
        goal, wording = targets[phase]
        ok = speedup >= goal
        failed |= not ok
        print(f"{phase} run: {speedup:.2f}x the speed of the plain pool "
              f"(target: {wording}, >= {goal:g}x): {'OK' if ok else 'MISSED'}")
    if figures[("collect", "second")]["items"] != figures[("collect", "first")]["items"]:
        failed = True
        print("second run: collect_all did not return the items kept from the first run: MISSED")
    print("verdict: every target met" if not failed else "verdict: a target was missed (see above)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
