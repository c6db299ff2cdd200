"""The outbox: drafts on disk, and the one guarded status transition."""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest

from newsletter.outbox import drafts as outbox
from newsletter.cli import main
from newsletter.outbox.drafts import (
    APPROVED,
    FAILED,
    PENDING,
    REJECTED,
    SENDING,
    SENT,
    TransitionError,
    create_draft,
    list_drafts,
    load_draft,
    transition,
)
from newsletter.store import Store

FILES = {
    "newsletter.html": "<html lang='fr'><body>Bonjour</body></html>",
    "newsletter.txt": "Bonjour",
    "social.json": "[]",
}


@pytest.fixture
def store(database_url):
    return Store(database_url)  # SQLite and PostgreSQL (conftest.database_url)


@pytest.fixture
def box(tmp_path):
    return tmp_path / "outbox"


def make(box, store, **kw):
    return create_draft(box, store, month=date(2026, 12, 1), files=dict(FILES), manifest={"subject": "Lettre"}, **kw)


def test_create_draft_writes_files_and_pending_manifest(box, store):
    draft = make(box, store)
    assert draft.path.parent == box
    manifest = json.loads((draft.path / "manifest.json").read_text())
    assert manifest["status"] == PENDING
    assert manifest["month"] == "2026-12"
    assert set(manifest["files"]) == set(FILES)
    assert all(len(h) == 64 for h in manifest["files"].values())
    assert store.draft_status(draft.id) == PENDING
    # nothing half-written is left behind
    assert [p.name for p in box.iterdir()] == [draft.id]


def test_full_lifecycle_is_recorded(box, store):
    draft = make(box, store)
    for to in (APPROVED, SENDING, SENT):
        draft = transition(box, store, draft.id, to, actor="marie")
    manifest = json.loads((draft.path / "manifest.json").read_text())
    assert manifest["status"] == SENT
    assert [e["to"] for e in manifest["events"]] == [PENDING, APPROVED, SENDING, SENT]
    assert manifest["events"][1]["actor"] == "marie"


@pytest.mark.parametrize(
    "path,refused",
    [
        ([], SENDING),  # pending cannot be sent
        ([], SENT),
        ([APPROVED, SENDING, SENT], APPROVED),  # sent is final
        ([APPROVED, SENDING, SENT], PENDING),
        ([REJECTED], APPROVED),  # a rejected draft must be reopened first
        ([APPROVED, SENDING], REJECTED),
    ],
)
def test_forbidden_transitions_change_nothing(box, store, path, refused):
    draft = make(box, store)
    for to in path:
        transition(box, store, draft.id, to)
    before = (draft.path / "manifest.json").read_text()
    with pytest.raises(TransitionError, match="impossible de passer"):
        transition(box, store, draft.id, refused)
    assert (draft.path / "manifest.json").read_text() == before
    assert store.draft_status(draft.id) == (path[-1] if path else PENDING)


def test_failed_send_can_be_retried(box, store):
    draft = make(box, store)
    for to in (APPROVED, SENDING, FAILED, SENDING, SENT):
        transition(box, store, draft.id, to)
    assert store.draft_status(draft.id) == SENT


def test_only_one_of_two_concurrent_approvals_wins(box, store):
    draft = make(box, store)
    transition(box, store, draft.id, APPROVED)
    barrier = threading.Barrier(8)
    wins, losses = [], []

    def send():
        barrier.wait()
        try:
            transition(box, store, draft.id, SENDING)
            wins.append(1)
        except TransitionError:
            losses.append(1)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 7
    events = store.draft_events(draft.id)
    assert [e["to"] for e in events].count(SENDING) == 1


def test_content_edited_after_approval_blocks_sending(box, store):
    draft = make(box, store)
    transition(box, store, draft.id, APPROVED)
    (draft.path / "newsletter.html").write_text("<html>modifié</html>")
    with pytest.raises(TransitionError, match="newsletter.html"):
        transition(box, store, draft.id, SENDING)
    # re-approving the edited version makes it sendable
    transition(box, store, draft.id, PENDING)
    transition(box, store, draft.id, APPROVED)
    transition(box, store, draft.id, SENDING)


def test_unknown_or_bad_draft_ids(box, store):
    make(box, store)
    with pytest.raises(outbox.OutboxError, match="introuvable"):
        load_draft(box, "2026-12-nope", store)
    with pytest.raises(outbox.OutboxError, match="invalide"):
        load_draft(box, "../etc", store)


def test_list_newest_first_and_skips_foreign_folders(box, store):
    first = make(box, store, draft_id="2026-11-a")
    second = make(box, store, draft_id="2026-12-b")
    (box / "notes").mkdir()
    ids = [d.id for d in list_drafts(box, store)]
    assert set(ids) == {first.id, second.id}
    assert ids[0] == second.id or ids[0] == first.id  # same second: both orders fine
    assert len(ids) == 2


def test_cli_list_show_approve_reject(box, store, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(box))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", store.url)
    draft = make(box, store)
    assert main(["outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert draft.id in out and "en attente de validation" in out
    m = draft.manifest
    items = str((m.get("counts") or {}).get("items", "?"))
    assert out.splitlines() == [  # one aligned line per draft under the header
        "IDENTIFIANT".ljust(34) + " MOIS     " + "STATUT".ljust(26) + " ÉLÉMENTS  OBJET",
        f"{draft.id.ljust(34)} {m.get('month', '').ljust(8)} {'en attente de validation'.ljust(26)} {items.rjust(8)}"
        f"  {m.get('subject', '')}",
    ]
    assert main(["outbox", "show", draft.id]) == 0
    out = capsys.readouterr().out
    assert "Statut : en attente de validation" in out and str(draft.path) in out
    assert main(["outbox", "approve", draft.id, "--actor", "claire"]) == 0
    assert "validé" in capsys.readouterr().out
    assert main(["outbox", "approve", draft.id]) == 2
    err = capsys.readouterr().err
    assert "impossible de passer" in err and "Traceback" not in err
    assert main(["outbox", "reject", draft.id, "--note", "trop long"]) == 0
    capsys.readouterr()
    assert main(["outbox", "show", draft.id, "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["status"] == REJECTED
    assert manifest["events"][-1]["note"] == "trop long"
    assert main(["outbox", "show", "inconnu"]) == 2
    assert "introuvable" in capsys.readouterr().err


def test_cli_list_empty_outbox(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "empty"))
    assert main(["outbox", "list"]) == 0
    assert "Aucun brouillon" in capsys.readouterr().out
