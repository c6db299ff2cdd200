"""The monthly job without Prefect: run, edit, approve, send, and the next month."""

from __future__ import annotations

import email
import json
from datetime import date, timedelta
from email import policy

import pytest

from newsletter.outbox import drafts as outbox
from newsletter.cli import main
from newsletter.deliver.engine import SendConfig, deliver_draft
from newsletter.deliver.messenger import FileMessenger
from newsletter.pipeline import rerender_draft, run_monthly
from newsletter.samples import build_sample_site
from newsletter.settings import Settings
from newsletter.store import Store

TODAY = date(2026, 11, 22)


@pytest.fixture
def site(tmp_path, static_server):
    root = tmp_path / "site"
    server = static_server(root)
    sources = build_sample_site(root, TODAY, base_url=server.base_url)
    return sources, server


def _issue(draft) -> dict:
    return json.loads(draft.file("issue.json").read_text(encoding="utf-8"))


def test_run_edit_approve_send_then_next_month_does_not_repeat(site, tmp_path):
    sources, _ = site
    settings = Settings.from_env()
    draft = run_monthly(sources, month=TODAY.replace(day=1), today=TODAY, settings=settings)
    assert draft.status == outbox.PENDING
    issue = _issue(draft)
    press = issue["press"]
    assert press, "the sample has a press watch"

    # the officer writes an editorial and picks the featured items
    chosen = press[0]["url"]
    store = Store(settings.database_url)
    edited = rerender_draft(settings, store, draft.id, editorial="Bonne lecture à toutes et à tous !", featured=[chosen])
    html = edited.file("newsletter.html").read_text(encoding="utf-8")
    assert "Bonne lecture à toutes et à tous !" in html
    assert [i["url"] for i in _issue(edited)["featured"]] == [chosen]
    assert edited.manifest["files"]["newsletter.html"] == outbox.sha256_file(edited.file("newsletter.html"))
    with pytest.raises(outbox.OutboxError, match="n'est pas un élément"):
        rerender_draft(settings, store, draft.id, featured=["https://ailleurs.example/x"])

    # The sample site answers on 127.0.0.1; the branding's links (irev.fr, social networks)
    # cannot be reached from the tests: the link check says so, and the officer overrides it.
    with pytest.raises(outbox.ChecksFailed) as refused:
        outbox.transition(settings.outbox, store, draft.id, outbox.APPROVED)
    assert [r.name for r in refused.value.report.failed] == ["links"]
    unreachable = refused.value.report.get("links").culprits
    assert unreachable and not [u for u in unreachable if u.startswith("http://127.0.0.1")]
    outbox.transition(settings.outbox, store, draft.id, outbox.APPROVED, override_reason="hors ligne")
    # an edit after approval sends the draft back to pending: what is sent is what was approved
    reopened = rerender_draft(settings, store, draft.id, editorial="Bonne lecture à toutes et à tous !")
    assert reopened.status == outbox.PENDING
    assert "repassé en attente" in reopened.manifest["events"][-2]["note"]
    outbox.transition(settings.outbox, store, draft.id, outbox.APPROVED, override_reason="hors ligne")
    mail_dir = tmp_path / "mail"
    deliver_draft(settings.outbox, store, draft.id, FileMessenger(mail_dir),
                  config=SendConfig(sender="contact@irev.fr",
                                    list_unsubscribe_url="https://www.irev.fr/desinscription?u=1"),
                  recipients=["liste@example.org"])
    (eml,) = mail_dir.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    body = msg.get_body(("html",)).get_content()
    assert "https://www.irev.fr/desinscription?u=1" in body and "{{unsubscribe_url}}" not in body
    assert msg["List-Unsubscribe"].startswith("<https://www.irev.fr/desinscription?u=1>, <mailto:contact@irev.fr")

    sent_keys = {h.key for h in store.history()}
    assert len(sent_keys) >= len(_issue(draft)["press"])

    # Next month, same sources: nothing already sent comes back, except events still to come.
    later = TODAY + timedelta(days=10)
    second = run_monthly(sources, month=date(2026, 12, 1), today=later, settings=settings)
    issue2 = _issue(second)
    urls2 = [i["url"] for k in ("resources", "press") for i in issue2[k]]
    urls2 += [i["url"] for items in issue2["news"].values() for i in items]
    first_urls = {i["url"] for k in ("resources", "press") for i in issue[k]}
    first_urls |= {i["url"] for items in issue["news"].values() for i in items}
    assert not (set(urls2) & first_urls)
    # events that have not yet taken place stay in the agenda
    still_upcoming = [e for e in issue["agenda"] if e["start"][:10] >= later.isoformat()]
    assert len(issue2["agenda"]) == len(still_upcoming)
    dropped = second.manifest["curation"]["dropped"]
    assert dropped, "the curation report says what was dropped and why"


def test_a_source_failing_three_runs_in_a_row_is_flagged(site, tmp_path):
    sources, _ = site
    text = sources.read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text + "  - name: Flux disparu\n    kind: press\n    type: feed\n    url: http://127.0.0.1:9/absent.xml\n",
                      encoding="utf-8")
    settings = Settings.from_env()
    for n in range(3):
        draft = run_monthly(broken, month=TODAY.replace(day=1), today=TODAY, settings=settings)
        (failed,) = draft.manifest["sources"]["failed"]
        assert failed["source"] == "Flux disparu"
        assert failed["consecutive_failures"] == n + 1
        assert failed["needs_attention"] is (n + 1 >= 3)
    assert draft.manifest["status"] == "pending"


def test_the_officer_can_undo_a_wrong_merge(site):
    sources, _ = site
    settings = Settings.from_env()
    draft = run_monthly(sources, month=TODAY.replace(day=1), today=TODAY, settings=settings)
    merged = draft.manifest["curation"]["merged"]
    assert merged
    entry = merged[0]
    press_before = len(_issue(draft)["press"])
    store = Store(settings.database_url)
    assert main(["outbox", "edit", draft.id, "--unmerge", entry["absorbed_url"]]) == 0
    after = outbox.load_draft(settings.outbox, draft.id, store)
    issue = _issue(after)
    assert len(issue["press"]) == press_before + 1
    titles = [i["title"] for i in issue["press"]]
    assert entry["absorbed_title"] in titles and entry["kept_title"] in titles
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(after.file("newsletter.html").read_bytes(), "lxml")
    link_texts = {" ".join(a.get_text(" ").split()) for a in soup.find_all("a")}
    assert " ".join(entry["absorbed_title"].split()) in link_texts
    assert after.manifest["curation"]["merged"][0]["undone"] is True
    assert "fusion annulée" in after.manifest["events"][-1]["note"]
    # the same merge cannot be undone twice, and an unknown URL is named
    assert main(["outbox", "edit", draft.id, "--unmerge", entry["absorbed_url"]]) == 2
    assert main(["outbox", "edit", draft.id, "--unmerge", "https://inconnu.example/x"]) == 2


def test_the_classifier_trains_once_in_the_background_while_the_sources_are_fetched(site, monkeypatch):
    """Importing scikit-learn and training take seconds: a run does them while
    collecting (collect_step starts train_ahead), and curation reuses that model."""
    import threading

    from newsletter.curate.model import TextModel

    sources, _ = site
    threads = []
    train = TextModel.train.__func__

    collected = threading.Event()

    def recording(cls, *args, **kwargs):
        threads.append((threading.current_thread().name, collected.is_set()))
        return train(cls, *args, **kwargs)

    from newsletter.collect import collector

    collect_all = collector.collect_all

    def collect(*args, **kwargs):
        try:
            return collect_all(*args, **kwargs)
        finally:
            collected.set()

    monkeypatch.setattr(TextModel, "train", classmethod(recording))
    monkeypatch.setattr(collector, "collect_all", collect)
    draft = run_monthly(sources, month=TODAY.replace(day=1), today=TODAY, settings=Settings.from_env())
    # once, in the background, started before the collection ended
    assert threads == [("newsletter-train-ahead", False)]
    items = [i for section in _issue(draft).values() if isinstance(section, list) for i in section]
    assert items and all(i.get("category") for i in items if isinstance(i, dict) and "url" in i)
