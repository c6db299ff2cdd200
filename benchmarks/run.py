"""Benchmark collection THROUGH `newsletter run` against a running Prefect server.

Serves N synthetic feeds (those of ``benchmarks/collect.py``: RSS 2.0 and Atom
1.0 alternating, ~1.5 KB per item) on several local servers (one port = one
host for the per-host bound) with a fixed latency per request, starts
``prefect server start --host 127.0.0.1 --port <free>`` with a temporary
PREFECT_HOME, and runs ``newsletter run`` twice on them, as an operator would:

* a first run (every source answers 200 with its feed);
* a second run (every source answers 304 to the ETag the first run kept).

The collection time of each run is read from the draft's
``manifest.json`` (``timings.collect``: seconds in the collect stage, from
the first request to the last source recorded in the database). In the same
benchmark, on the same feeds and servers, a plain ``ThreadPoolExecutor(16)``
running ``requests.get`` + ``feedparser.parse`` is measured on a first run and
on a 304 run (``benchmarks/collect.py``'s plain child, in a fresh process).

Targets (issue 8): collection no slower than the plain pool on the first
run, and within 1.5x of it on the 304 run.

Usage: python benchmarks/run.py [--feeds 200] [--items 30] [--latency 0.05] [--hosts 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import collect as collect_bench  # noqa: E402  (benchmarks/collect.py: feeds and the plain pool)
from httpserver import LocalServer, free_port  # noqa: E402

BIN = Path(sys.executable).parent


def wait_for_server(api_url: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"prefect server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(api_url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"prefect server did not answer on {api_url} within {timeout:.0f} s")


def newsletter_run(env: dict[str, str], cwd: Path, sources: Path, month: str, today: str) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "newsletter"), "run", "--sources", str(sources), "--month", month, "--today", today],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"newsletter run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    draft_id = proc.stdout.strip().splitlines()[-1]
    manifest = json.loads((cwd / "outbox" / draft_id / "manifest.json").read_text(encoding="utf-8"))
    return {"wall": wall, "timings": manifest["timings"], "sources": manifest["sources"], "id": draft_id}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--hosts", type=int, default=20)
    args = parser.parse_args(argv)

    servers = [LocalServer().start() for _ in range(max(1, args.hosts))]
    tmp = Path(tempfile.mkdtemp(prefix="newsletter-bench-run-"))
    prefect = None
    try:
        urls = []
        for i in range(args.feeds):
            body, ctype = collect_bench.make_feed(i, args.items)
            urls.append(servers[i % len(servers)].add(
                f"/feed{i}.xml", body, headers={"Content-Type": ctype}, delay=args.latency, etag=f'"feed-{i}-v1"'))
        sources = tmp / "sources.yaml"
        sources.write_text("sources:\n" + "".join(
            f"  - name: Source {i}\n    kind: article\n    type: feed\n    url: {url}\n" for i, url in enumerate(urls)
        ), encoding="utf-8")
        home = tmp / "home"
        home.mkdir()
        port = free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        env = {
            **os.environ,
            "PREFECT_HOME": str(tmp / "prefect-home"),
            "PREFECT_API_URL": api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "NEWSLETTER_HOME": str(home),
            "NEWSLETTER_OUTBOX": str(home / "outbox"),
            "NEWSLETTER_ARCHIVE": str(home / "archive"),
            "NEWSLETTER_DATABASE_URL": f"sqlite:///{home / 'newsletter.db'}",
            "PYTHONWARNINGS": "ignore",
        }
        env.pop("NEWSLETTER_MAX_WORKERS", None)  # the default: 16, like the plain pool
        prefect = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp,
        )
        wait_for_server(api_url, prefect)

        config = tmp / "config.json"
        config.write_text(json.dumps({"urls": urls}))
        plain_state = tmp / "plain-state.json"
        plain_first = collect_bench.run_child("plain", "first", config, plain_state)
        first = newsletter_run(env, home, sources, "2025-11", "2025-11-22")
        second = newsletter_run(env, home, sources, "2025-12", "2025-12-01")
        plain_second = collect_bench.run_child("plain", "second", config, plain_state)
    finally:
        if prefect is not None:
            prefect.terminate()
            try:
                prefect.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prefect.kill()
        for srv in servers:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"run benchmark: `newsletter run` against `prefect server` on {args.feeds} feeds x {args.items} items, "
          f"latency {args.latency * 1000:.0f} ms, {len(servers)} hosts on 127.0.0.1, {os.cpu_count()} CPUs")
    print("collection: manifest timings.collect; plain pool: requests + feedparser, 16 threads, same feeds, same run")
    print()
    print(f"{'run':<8} {'newsletter collect s':>20} {'plain pool s':>13} {'ratio':>6}   "
          f"{'curate s':>8} {'render s':>8} {'queue s':>8} {'whole run s':>11}  items  304s")
    verdicts = []
    for label, run, plain, goal in (("first", first, plain_first, 1.0), ("304", second, plain_second, 1.5)):
        t = run["timings"]
        ratio = t["collect"] / plain["wall"]
        print(f"{label:<8} {t['collect']:>20.2f} {plain['wall']:>13.2f} {ratio:>6.2f}   "
              f"{t.get('curate', 0):>8.2f} {t.get('render', 0):>8.2f} {t.get('queue', 0):>8.2f} {run['wall']:>11.2f}"
              f"  {run['sources']['items']:>5} {run['sources']['not_modified']:>5}")
        verdicts.append(f"{label} run: collection {ratio:.2f}x the plain pool's time (target <= {goal:g}x): "
                        + ("OK" if ratio <= goal else "MISSED"))
    print()
    for line in verdicts:
        print(line)
    if second["sources"]["not_modified"] != args.feeds:
        print(f"304 run: only {second['sources']['not_modified']} of {args.feeds} sources answered 304: MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
