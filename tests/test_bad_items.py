"""One bad item never spoils the month: it is cleaned or dropped, named in the report, and the draft is made."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import date

import pytest

from newsletter.collect.fetch import Fetcher, FetchError
from newsletter.models import ERROR_TIMEOUT
from newsletter.pipeline import run_monthly, run_summary
from newsletter.settings import Settings
from newsletter.store import Store

TODAY = date(2026, 11, 22)

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Centre</title><link>https://www.irev.fr/</link><description>x</description>
{items}
</channel></rss>"""
ITEM = """<item><title>{title}</title><link>{link}</link>
<description>{title} : compte rendu de la rencontre régionale des pilotes des contrats de ville.</description>
<pubDate>Fri, 20 Nov 2026 10:00:00 +0100</pubDate></item>"""

EVENTS = """<html><body>
<div class="ev"><h3><a href="{link}">Rencontre des chefs de projet</a></h3><time datetime="2026-12-03T09:30:00+01:00">3 décembre</time></div>
<div class="ev"><h3><a href="/agenda/forum">Forum régional des quartiers</a></h3><time datetime="2026-12-10T14:00:00+01:00">10 décembre</time></div>
</body></html>"""


def _sources(tmp_path, server, feed: str, page: str | None = None):
    server.add("/feed.xml", feed, headers={"Content-Type": "application/rss+xml; charset=utf-8"}, etag='"v1"')
    text = (f"sources:\n  - name: Flux du centre\n    kind: article\n    type: feed\n"
            f"    url: {server.url('/feed.xml')}\n")
    if page is not None:
        server.add("/agenda.html", page, headers={"Content-Type": "text/html; charset=utf-8"})
        text += (f"  - name: Agenda du centre\n    kind: event\n    type: page\n    url: {server.url('/agenda.html')}\n"
                 "    selectors:\n      item: .ev\n      title: h3\n      link: a\n      date: time\n")
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _issue(draft) -> dict:
    return json.loads(draft.file("issue.json").read_text(encoding="utf-8"))


def _titles(issue: dict) -> list[str]:
    return [i["title"] for k in ("agenda", "resources", "press") for i in issue[k]] + [
        i["title"] for items in issue["news"].values() for i in items]


def test_control_characters_in_titles_and_a_newline_in_a_link_do_not_stop_the_draft(tmp_path, server):
    items = "\n".join([
        ITEM.format(title="Quartiers\u0008 2030 : les pilotes se retrouvent", link="https://www.irev.fr/a/quartiers-2030"),
        ITEM.format(title="\x1b[31mCités éducatives\x1b[0m : un réseau régional", link="https://www.irev.fr/a/cites"),
    ])
    page = EVENTS.format(link="/agenda/rencontre%0Achefs-de-projet")
    sources = _sources(tmp_path, server, RSS.format(items=items), page)
    draft = run_monthly(sources, month=TODAY.replace(day=1), today=TODAY, settings=Settings.from_env())
    issue = _issue(draft)
    titles = _titles(issue)
    assert "Quartiers 2030 : les pilotes se retrouvent" in titles
    assert "[31mCités éducatives[0m : un réseau régional" in titles
    html = draft.file("newsletter.html").read_text(encoding="utf-8")
    assert "\x1b" not in html and "\u0008" not in html
    event = next(e for e in issue["agenda"] if e["title"] == "Rencontre des chefs de projet")
    assert event["url"] == server.url("/agenda/rencontrechefs-de-projet")
    ics = list((draft.path / "ics").glob("*.ics"))
    assert len(ics) == 2
    assert all("%0A" not in p.read_text(encoding="utf-8") for p in ics)


def test_an_item_that_breaks_rendering_is_dropped_named_and_its_source_read_again_next_time(
    tmp_path, server, monkeypatch
):
    import newsletter.render.newsletter as render

    real = render.format_event_when_fr

    def broken(start, end=None, *args, **kwargs):
        if start is not None and start.day == 10:
            raise ValueError("cannot format this date")
        return real(start, end, *args, **kwargs)

    monkeypatch.setattr(render, "format_event_when_fr", broken)
    items = ITEM.format(title="Quartiers 2030 : les pilotes se retrouvent", link="https://www.irev.fr/a/q")
    sources = _sources(tmp_path, server, RSS.format(items=items), EVENTS.format(link="/agenda/rencontre"))
    settings = Settings.from_env()
    draft = run_monthly(sources, month=TODAY.replace(day=1), today=TODAY, settings=settings)

    titles = _titles(_issue(draft))
    assert "Forum régional des quartiers" not in titles
    assert {"Rencontre des chefs de projet", "Quartiers 2030 : les pilotes se retrouvent"} <= set(titles)
    (entry,) = draft.manifest["dropped_items"]
    assert entry["source"] == "Agenda du centre" and entry["title"] == "Forum régional des quartiers"
    assert entry["stage"] == "render" and "cannot format this date" in entry["reason"]
    on_disk = json.loads(draft.file("manifest.json").read_text(encoding="utf-8"))
    assert on_disk["dropped_items"] == draft.manifest["dropped_items"]
    assert set(on_disk["timings"]) == {"collect", "curate", "render", "queue"}
    summary = run_summary(draft)
    assert "Éléments inutilisables écartés : 1" in summary
    assert "Agenda du centre : « Forum régional des quartiers »" in summary and "cannot format this date" in summary
    # The agenda is not recorded as healthy: no validator kept, so next month reads it in full.
    store = Store(settings.database_url)
    assert store.get("Agenda du centre").etag is None
    assert store.get("Flux du centre").etag == '"v1"'


def test_a_failure_no_single_item_causes_is_still_raised(tmp_path, server, monkeypatch):
    import newsletter.render.newsletter as render

    def broken(*args, **kwargs):
        raise RuntimeError("template broken")

    monkeypatch.setattr(render, "format_event_when_fr", broken)
    monkeypatch.setattr(render, "format_date_fr", broken)
    items = ITEM.format(title="Quartiers 2030 : les pilotes se retrouvent", link="https://www.irev.fr/a/q")
    sources = _sources(tmp_path, server, RSS.format(items=items), EVENTS.format(link="/agenda/rencontre"))
    with pytest.raises(RuntimeError, match="template broken"):
        run_monthly(sources, month=TODAY.replace(day=1), today=TODAY, settings=Settings.from_env())


def _trickling_server(total: int, every: float):
    """A raw HTTP server announcing ``total`` bytes and sending one every ``every`` seconds."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                             + f"Content-Length: {total}\r\n\r\n".encode())
                try:
                    for _ in range(total):
                        if stop.is_set():
                            break
                        conn.sendall(b"<")
                        time.sleep(every)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml", stop, listener


def test_the_fetch_deadline_holds_against_a_server_trickling_bytes():
    url, stop, listener = _trickling_server(total=10_000, every=0.05)
    try:
        fetcher = Fetcher(timeout=(2.0, 1.0), max_time=1.5)
        start = time.monotonic()
        with pytest.raises(FetchError) as info:
            fetcher.fetch(url)
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        listener.close()
    assert info.value.error.category == ERROR_TIMEOUT
    assert "over 1.5 s" in info.value.error.message
    assert elapsed < 1.5 + 0.5
