"""The officer's edits of a draft: versioned, never lost, kept by a second run of the month."""

from __future__ import annotations

import json
from datetime import date

import pytest

from newsletter.cli import main
from newsletter.outbox import drafts as outbox
from newsletter.outbox.edits import StaleEdit, load_edits, removed_items
from newsletter.pipeline import draft_curated, rerender_draft, run_monthly, update_draft
from newsletter.samples import build_sample_site
from newsletter.settings import Settings
from newsletter.store import Store
from newsletter.urls import strip_tracking

TODAY = date(2026, 11, 23)
MONTH = TODAY.replace(day=1)


@pytest.fixture
def site(tmp_path, static_server):
    root = tmp_path / "site"
    server = static_server(root)
    return build_sample_site(root, TODAY, base_url=server.base_url)


@pytest.fixture
def ctx(site):
    settings = Settings.from_env()
    draft = run_monthly(site, month=MONTH, today=TODAY, settings=settings)
    return settings, Store(settings.database_url), draft, site


def _issue(draft) -> dict:
    return json.loads(draft.file("issue.json").read_text(encoding="utf-8"))


def _urls(section: list[dict]) -> list[str]:
    return [i["url"] for i in section]


def test_remove_restore_move_feature_and_recategorise(ctx):
    settings, store, draft, _ = ctx
    issue = _issue(draft)
    agenda = _urls(issue["agenda"])
    assert len(agenda) >= 3
    victim, second = agenda[0], agenda[2]

    def remove(e):
        e.removed.append(victim)

    d = update_draft(settings, store, draft.id, remove, actor="Camille", note="retrait")
    assert victim not in _urls(_issue(d)["agenda"])
    assert not any(victim in n for n in d.file("newsletter.html").read_text(encoding="utf-8").split('href="')[1:2])
    assert victim not in d.file("newsletter.html").read_text(encoding="utf-8")
    assert not any(victim in (p.get("item_url") or "") for p in json.loads(d.file("social.json").read_text()))
    curated, _ = draft_curated(d)
    assert [i.url for i in removed_items(curated, load_edits(store, draft.id))] == [victim]

    # move the third event to the top of the agenda, then bring the removed one back
    def move(e):
        e.order["agenda"] = [second]

    d = update_draft(settings, store, draft.id, move, actor="Camille", note="ordre")
    assert _urls(_issue(d)["agenda"])[0] == second
    d = update_draft(settings, store, draft.id, lambda e: e.removed.remove(victim), actor="Camille", note="remis")
    assert victim in _urls(_issue(d)["agenda"]) and _urls(_issue(d)["agenda"])[0] == second

    # change an article's category: it moves to that section
    news = _issue(d)["news"]
    slug, items = next(iter(news.items()))
    target = "sante" if slug != "sante" else "emploi"
    url = items[0]["url"]
    d = update_draft(settings, store, draft.id, lambda e: e.categories.__setitem__(url, target), actor="Camille",
                     note="catégorie")
    assert url in _urls(_issue(d)["news"][target])
    assert url not in _urls(_issue(d)["news"].get(slug, []))

    # feature an item
    d = update_draft(settings, store, draft.id, lambda e: setattr(e, "featured", [second]), actor="Camille",
                     note="à la une")
    assert _urls(_issue(d)["featured"]) == [second]
    notes = [ev.get("note") for ev in d.manifest["events"]]
    assert {"retrait", "ordre", "remis", "catégorie", "à la une"} <= set(notes)
    assert all(ev["actor"] in ("Camille", "pipeline") for ev in d.manifest["events"])


def test_an_edit_that_names_an_unknown_item_changes_nothing(ctx):
    settings, store, draft, _ = ctx
    before = draft.file("newsletter.html").read_bytes()
    with pytest.raises(outbox.OutboxError, match="n'est pas un élément"):
        update_draft(settings, store, draft.id, lambda e: e.removed.append("https://ailleurs.example/x"))
    assert load_edits(store, draft.id).version == 0
    assert draft.file("newsletter.html").read_bytes() == before


def test_two_editors_saving_from_the_same_version_one_wins_the_other_is_told(ctx):
    settings, store, draft, _ = ctx
    base = load_edits(store, draft.id).version
    update_draft(settings, store, draft.id, lambda e: setattr(e, "editorial", "Texte d'Alice"), base_version=base,
                 actor="Alice", note="éditorial")
    with pytest.raises(StaleEdit) as err:
        update_draft(settings, store, draft.id, lambda e: setattr(e, "editorial", "Texte de Bob"), base_version=base,
                     actor="Bob", note="éditorial")
    message = str(err.value)
    assert "Alice" in message and "l'éditorial a été modifié" in message
    after = outbox.load_draft(settings.outbox, draft.id, store)
    assert _issue(after)["editorial"] == "Texte d'Alice"
    assert "Texte de Bob" not in after.file("newsletter.html").read_text(encoding="utf-8")


def test_a_second_run_of_the_month_updates_the_pending_draft_and_keeps_the_edits(ctx):
    settings, store, draft, sources = ctx
    issue = _issue(draft)
    removed = _urls(issue["resources"])[0]
    featured = [_urls(issue["agenda"])[1]]
    merged = draft.manifest["curation"]["merged"][0]["absorbed_url"]

    def edit(e):
        e.editorial = "Bonjour à toutes et à tous"
        e.removed.append(removed)
        e.featured = featured
        e.unmerged.append(merged)

    update_draft(settings, store, draft.id, edit, actor="Camille", note="relecture")
    again = run_monthly(sources, month=MONTH, today=TODAY, settings=settings)
    assert again.id == draft.id
    assert [d.id for d in outbox.list_drafts(settings.outbox, store)] == [draft.id]
    assert again.status == outbox.PENDING
    issue2 = _issue(again)
    assert issue2["editorial"] == "Bonjour à toutes et à tous"
    assert removed not in _urls(issue2["resources"])
    assert _urls(issue2["featured"]) == featured
    assert strip_tracking(merged) in _urls(issue2["press"])
    assert "nouvelle collecte" in again.manifest["refreshed"]["summary"]
    assert "conservées" in again.manifest["refreshed"]["summary"]
    assert again.manifest["files"]["newsletter.html"] == outbox.sha256_file(again.file("newsletter.html"))


def test_a_second_run_once_approved_is_refused_unless_new_draft(ctx, capsys):
    settings, store, draft, sources = ctx
    outbox.transition(settings.outbox, store, draft.id, outbox.APPROVED, override_reason="hors ligne")
    code = main(["run", "--sources", str(sources), "--month", f"{MONTH:%Y-%m}", "--today", TODAY.isoformat()])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and draft.id in err[0] and "validé" in err[0] and "--new-draft" in err[0]
    with pytest.raises(outbox.MonthLocked):
        run_monthly(sources, month=MONTH, today=TODAY, settings=settings)
    second = run_monthly(sources, month=MONTH, today=TODAY, settings=settings, new_draft=True)
    assert second.id != draft.id
    assert outbox.load_draft(settings.outbox, draft.id, store).status == outbox.APPROVED


def test_the_sent_history_records_a_featured_item_once(ctx, tmp_path):
    from newsletter.deliver.engine import SendConfig, deliver_draft
    from newsletter.deliver.messenger import FileMessenger

    settings, store, draft, _ = ctx
    featured = _issue(draft)["featured"]
    assert featured
    outbox.transition(settings.outbox, store, draft.id, outbox.APPROVED, override_reason="hors ligne")
    deliver_draft(settings.outbox, store, draft.id, FileMessenger(tmp_path / "mail"),
                  config=SendConfig(sender="contact@irev.fr"), recipients=["liste@example.org"])
    keys = [h.key for h in store.history()]
    assert len(keys) == len(set(keys))
    assert len(keys) == len(outbox.load_draft(settings.outbox, draft.id).issue().all_items())


def test_cli_edit_of_an_already_undone_merge_is_refused(ctx):
    settings, store, draft, _ = ctx
    url = draft.manifest["curation"]["merged"][0]["absorbed_url"]
    rerender_draft(settings, store, draft.id, unmerge=[url])
    with pytest.raises(outbox.OutboxError, match="déjà annulée"):
        rerender_draft(settings, store, draft.id, unmerge=[url])
