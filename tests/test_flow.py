"""The Prefect flow: retries on transient fetch errors only, and it always ends with a draft."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.prefect

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{title}</title><link>https://www.irev.fr/</link>
<description>Actualités</description>
<item><title>{item}</title><link>https://www.irev.fr/actualites/{slug}</link>
<description>{item} : compte rendu de la rencontre régionale des pilotes des contrats de ville.</description>
<pubDate>Fri, 20 Nov 2026 10:00:00 +0100</pubDate></item>
</channel></rss>"""


def _flaky(statuses, headers=None):
    """A route handler answering each status in turn, then 200 with a feed."""
    calls = []

    def handler(request):
        calls.append(time.monotonic())
        status = statuses[len(calls) - 1] if len(calls) <= len(statuses) else 200
        if status != 200:
            return status, dict(headers or {}), b"busy"
        body = RSS.format(title="Flaky", item="Quartiers 2030 : les pilotes se retrouvent", slug="quartiers-2030")
        return 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, body.encode()

    return handler, calls


def test_flow_retries_transient_errors_only(prefect_harness, server, tmp_path, monkeypatch):
    import flows.monthly as monthly

    monkeypatch.setattr(monthly, "RETRY_DELAYS", (0, 0, 0))
    flaky, flaky_calls = _flaky([503, 503])
    slow, slow_calls = _flaky([429], headers={"Retry-After": "1"})
    server.add("/flaky.xml", handler=flaky)
    server.add("/slow.xml", handler=slow)
    server.add("/gone.xml", b"not here", status=404)
    server.add(
        "/ok.xml",
        RSS.format(title="OK", item="Cités éducatives : un réseau régional", slug="cites-educatives"),
        headers={"Content-Type": "application/rss+xml"},
    )
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        + "".join(
            f"  - name: {name}\n    kind: article\n    type: feed\n    url: {server.url(path)}\n"
            for name, path in (("Flaky", "/flaky.xml"), ("Slow", "/slow.xml"), ("Gone", "/gone.xml"), ("OK", "/ok.xml"))
        ),
        encoding="utf-8",
    )
    draft_id = monthly.monthly_newsletter(sources=str(sources), month="2026-11", today="2026-11-22")

    assert len(flaky_calls) == 3  # two 503s, then success
    assert len(slow_calls) == 2 and slow_calls[1] - slow_calls[0] >= 1.0  # Retry-After honoured
    assert len(server.hits("/gone.xml")) == 1  # a 404 is not retried
    outbox = Path(monthly.Settings.from_env().outbox)
    manifest = json.loads((outbox / draft_id / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "pending"
    failed = {f["source"]: f for f in manifest["sources"]["failed"]}
    assert set(failed) == {"Gone"}
    assert failed["Gone"]["category"] == "http_status"
    assert set(manifest["timings"]) == {"collect", "curate", "render", "queue"}
    assert all(isinstance(v, float) and v >= 0 for v in manifest["timings"].values())
    # each source's outcome shows in the Prefect UI, as a table artifact
    from prefect.artifacts import Artifact

    artifact = Artifact.get("collected-sources")
    rows = {row["source"]: row for row in json.loads(artifact.data)}
    assert rows["Flaky"]["retries"] == 2 and rows["Flaky"]["outcome"] == "ok" and rows["Flaky"]["items"] == 1
    assert rows["Slow"]["retries"] == 1
    assert rows["Gone"]["retries"] == 0 and rows["Gone"]["outcome"] == "error: http_status"
    issue = json.loads((outbox / draft_id / "issue.json").read_text(encoding="utf-8"))
    titles = {i["title"] for items in issue["news"].values() for i in items}
    assert "Quartiers 2030 : les pilotes se retrouvent" in titles
    assert "Cités éducatives : un réseau régional" in titles


def test_a_second_run_of_the_month_keeps_the_officers_work_and_renders_once(prefect_harness, server, tmp_path,
                                                                              monkeypatch):
    """The real monthly flow (not only the plain pipeline) applies the officer's
    category corrections and keeps her edits of the pending draft, rendering it once."""
    import flows.monthly as monthly
    from newsletter import pipeline
    from newsletter.curate.classify import Taxonomy, record_correction
    from newsletter.models import Issue
    from newsletter.outbox.edits import save_edits
    from newsletter.render.plan import edit_post
    from newsletter.store import Store

    feed = RSS.replace(
        "</channel>",
        "<item><title>Webinaire flash : la mobilité des seniors</title>"
        "<link>https://www.irev.fr/actualites/mobilite-seniors</link>"
        "<description>Une heure d'échanges entre professionnels.</description>"
        "<pubDate>Thu, 19 Nov 2026 10:00:00 +0100</pubDate></item></channel>",
    ).format(title="IREV", item="Webinaire flash : les jardins partagés", slug="jardins-partages")
    server.add("/irev.xml", feed, headers={"Content-Type": "application/rss+xml"})
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: IREV – actualités\n    kind: article\n    type: feed\n    url: {server.url('/irev.xml')}\n",
        encoding="utf-8",
    )
    first = monthly.monthly_newsletter(sources=str(sources), month="2026-10", today="2026-10-22")
    settings = monthly.Settings.from_env()
    store = Store(settings.database_url)
    outbox = Path(settings.outbox)

    def news(draft_id):
        issue = Issue.from_dict(json.loads((outbox / draft_id / "issue.json").read_text(encoding="utf-8")))
        return {i.url: i for i in issue.all_items()}

    jardins = news(first)["https://www.irev.fr/actualites/jardins-partages"]
    target = next(s for s in Taxonomy.default().slugs if s not in (jardins.category, "autres"))
    record_correction(store, jardins, target, actor="chargée de communication")

    def write_editorial(e):
        e.editorial = "Bonne lecture à toutes et à tous."
        # a post text for a post the next run no longer plans: named, not fatal
        e.extra["plan"] = edit_post(None, "linkedin:item:disparu", "Un post disparu https://www.irev.fr/y")

    save_edits(store, first, write_editorial, base_version=None, actor="chargée de communication", note="édito")

    renders = []
    real_render = pipeline._render
    monkeypatch.setattr(pipeline, "_render", lambda *a, **k: renders.append(1) or real_render(*a, **k))
    second = monthly.monthly_newsletter(sources=str(sources), month="2026-10", today="2026-10-23")

    assert second == first  # the pending draft is updated in place
    items = news(second)
    assert items["https://www.irev.fr/actualites/jardins-partages"].category == target  # same URL
    assert items["https://www.irev.fr/actualites/mobilite-seniors"].category == target  # same source's series
    manifest = json.loads((outbox / second / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["editorial"] == "Bonne lecture à toutes et à tous."
    assert "Bonne lecture à toutes et à tous." in (outbox / second / "newsletter.txt").read_text(encoding="utf-8")
    assert any("calendrier" in n and "linkedin:item:disparu" in n for n in manifest["refreshed"]["notes"])
    assert len(renders) == 1
