"""Approval: checks block it unless overridden with a reason; what is approved is what is sent and published."""

from __future__ import annotations

import email
import json
from datetime import date
from email import policy
from pathlib import Path

import pytest
from checktools import links_ok
from sqlalchemy import select

from newsletter.cli import main
from newsletter.deliver.engine import SendConfig, deliver_draft
from newsletter.deliver.messenger import FileMessenger
from newsletter.models import Issue
from newsletter.outbox.checks import LinkStatus
from newsletter.outbox.drafts import (
    APPROVED,
    PENDING,
    SENT,
    ChecksFailed,
    PublishError,
    TransitionError,
    approved_content,
    create_draft,
    load_draft,
    transition,
    verify_approved,
)
from newsletter.pipeline import load_run_config, publish_draft_web, render_step
from newsletter.store import approvals

ROOT = Path(__file__).resolve().parent.parent
SUBJECT = "La lettre de l'IREV – décembre 2025"


@pytest.fixture
def rendered_draft(settings, store, tmp_path):
    """A draft rendered from the test issue like the monthly run makes it, with its own branding file."""
    branding_file = tmp_path / "branding.yaml"
    branding_file.write_text((ROOT / "sources" / "branding.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    issue = Issue.from_dict(json.loads((ROOT / "tests" / "data" / "render_issue.json").read_text(encoding="utf-8")))
    cfg = load_run_config(None, month=issue.month, today=issue.today)
    out = render_step(issue, cfg)
    assert any(name.startswith("buffer/") for name in out.files) and any(n.startswith("ics/") for n in out.files)
    return create_draft(
        settings.outbox, store, month=issue.month, files=out.files,
        manifest={
            "subject": out.rendered.subject,
            "preheader": out.rendered.preheader,
            "unsubscribe": cfg.branding.unsubscribe_url,
            "web_url": out.rendered.web_url,
            "branding_file": str(branding_file),
        },
    )


# The rendered draft links to irev.fr and social networks, which the tests cannot reach: the real
# link checker says so at approval and at send time, and the officer overrides it with this reason.
OFFLINE = "hors ligne : irev.fr est injoignable depuis les tests"


def approve(settings, store, draft, **kw):
    if "link_checker" not in kw:
        kw.setdefault("override_reason", OFFLINE)
    return transition(settings.outbox, store, draft.id, APPROVED, actor="claire", settings=settings, **kw)


def send(settings, store, draft, mail_dir, **kw):
    return deliver_draft(settings.outbox, store, draft.id, FileMessenger(mail_dir),
                         config=SendConfig(sender="contact@irev.fr"), recipients=["liste@example.org"], **kw)


def rewrite_manifest(draft, **changes):
    path = draft.path / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(changes)
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


# ---------------------------------------------------------------- checks at approval


def test_a_failed_check_refuses_approval_and_changes_nothing(settings, store, rendered_draft):
    draft = rendered_draft
    broken = {"https://www.irev.fr/actualites/abattement-tfpb"}

    def checker(urls):
        return {u: LinkStatus(u, ok=u not in broken, status=404 if u in broken else 200) for u in urls}

    with pytest.raises(ChecksFailed) as refused:
        approve(settings, store, draft, link_checker=checker, note="relu")
    assert isinstance(refused.value, TransitionError)
    message = str(refused.value)
    assert "validation refusée, 1 contrôle en échec : liens (1 lien ne répond pas sur " in message
    assert "--override" in message
    links = refused.value.report.get("links")
    assert links.culprits == ["https://www.irev.fr/actualites/abattement-tfpb"]
    assert links.details[0] == "https://www.irev.fr/actualites/abattement-tfpb : erreur 404 (page introuvable)"
    assert store.draft_status(draft.id) == PENDING
    assert [e["to"] for e in store.draft_events(draft.id)] == [PENDING]
    with store.engine.connect() as conn:
        assert conn.execute(select(approvals)).all() == []
    # a blank reason is no reason
    with pytest.raises(ChecksFailed):
        approve(settings, store, draft, link_checker=checker, override_reason="   ")


def test_override_with_a_reason_approves_and_is_recorded(settings, store, rendered_draft):
    def checker(urls):
        return {u: LinkStatus(u, ok=False, error="injoignable (nom de domaine introuvable)") for u in urls}

    draft = approve(settings, store, rendered_draft, link_checker=checker, note="relu par Claire",
                    override_reason="le site de l'IREV est en maintenance ce matin")
    assert draft.status == APPROVED
    event = store.draft_events(draft.id)[-1]
    assert event["to"] == APPROVED and event["actor"] == "claire"
    assert event["note"] == ("relu par Claire — contrôles en échec validés malgré tout (liens) :"
                             " le site de l'IREV est en maintenance ce matin")
    approval = approved_content(store, draft.id)
    assert approval.override_reason == "le site de l'IREV est en maintenance ce matin"
    assert approval.actor == "claire" and approval.subject == SUBJECT
    assert [r.name for r in approval.checks.failed] == ["links"]


def test_a_reason_given_when_every_check_passes_is_not_an_override(settings, store, rendered_draft):
    draft = approve(settings, store, rendered_draft, link_checker=links_ok, override_reason="au cas où")
    assert approved_content(store, draft.id).override_reason is None
    assert "malgré tout" not in (store.draft_events(draft.id)[-1]["note"] or "")


def test_cli_approve_shows_the_report_and_takes_an_override(settings, store, capsys):
    draft = create_draft(
        settings.outbox, store, month=date(2026, 12, 1),
        files={"newsletter.html": '<html lang="fr"><body><img src="https://127.0.0.1:9/a.png"></body></html>',
               "newsletter.txt": "Bonjour\n"},
        manifest={"subject": "Lettre"},
    )
    assert main(["outbox", "approve", draft.id, "--actor", "claire"]) == 2
    err = capsys.readouterr().err
    assert "✗  1 image sans texte alternatif" in err and "validation refusée" in err
    assert "Traceback" not in err
    assert store.draft_status(draft.id) == PENDING
    assert main(["outbox", "approve", draft.id, "--actor", "claire", "--override", "image décorative"]) == 0
    out = capsys.readouterr().out
    assert "validé" in out and "Contrôles en échec validés malgré tout : image décorative" in out
    assert approved_content(store, draft.id).override_reason == "image décorative"


# ---------------------------------------------------------------- checks at send time


def test_a_check_failing_only_at_send_time_blocks_sending(settings, store, server, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_LINK_CACHE_HOURS", "0")  # else the send trusts the approval's fresh answer
    page = server.add("/agenda", "ok")
    html = f'<html lang="fr"><body><p><a href="{page}">Agenda</a></p></body></html>'
    draft = create_draft(settings.outbox, store, month=date(2026, 12, 1),
                         files={"newsletter.html": html, "newsletter.txt": f"Agenda {page}\n"},
                         manifest={"subject": "Lettre"})
    transition(settings.outbox, store, draft.id, APPROVED, settings=settings)  # the real link checker: it answers
    server.add("/agenda", "supprimée", status=410)
    mail_dir = tmp_path / "mail"
    with pytest.raises(ChecksFailed, match="envoi bloqué") as blocked:
        send(settings, store, draft, mail_dir)
    assert f"newsletter outbox reopen {draft.id}" in str(blocked.value)
    assert blocked.value.failures[0].details == [f"{page} : erreur 410 (page supprimée)"]
    assert store.draft_status(draft.id) == APPROVED and not mail_dir.exists()


def test_an_override_given_at_approval_covers_the_same_failures_at_send_time(settings, store, tmp_path):
    html = '<html lang="fr"><body><p><a href="https://www.irev.fr/agenda">Agenda</a></p></body></html>'
    draft = create_draft(settings.outbox, store, month=date(2026, 12, 1),
                         files={"newsletter.html": html, "newsletter.txt": "Agenda\n"}, manifest={"subject": "Lettre"})
    transition(settings.outbox, store, draft.id, APPROVED, settings=settings, override_reason="hors ligne")
    send(settings, store, draft, tmp_path / "mail")
    assert store.draft_status(draft.id) == SENT
    assert "couverts par la validation de cli (liens) : hors ligne" in store.draft_events(draft.id)[-2]["note"]


# ---------------------------------------------------------------- what is approved is what is sent


def test_probe_an_edit_with_its_hash_rewritten_in_the_manifest_is_not_sent(settings, store, rendered_draft, tmp_path):
    draft = approve(settings, store, rendered_draft)
    html = draft.file("newsletter.html")
    html.write_text(html.read_text(encoding="utf-8").replace("</body>", "<p>Gagnez un iPhone</p></body>"),
                    encoding="utf-8")
    from newsletter.outbox.drafts import sha256_file

    forged = {"newsletter.html": sha256_file(html)}
    rewrite_manifest(draft, approved_files=forged, files={**draft.manifest["files"], **forged})
    mail_dir = tmp_path / "mail"
    with pytest.raises(TransitionError, match=r"modifié après la validation \(newsletter.html\)"):
        send(settings, store, draft, mail_dir)
    assert not mail_dir.exists() and store.draft_status(draft.id) == APPROVED


def test_probe_a_subject_changed_in_the_manifest_is_not_sent(settings, store, rendered_draft, tmp_path):
    draft = approve(settings, store, rendered_draft)
    rewrite_manifest(draft, subject="Gagnez un iPhone")
    mail_dir = tmp_path / "mail"
    with pytest.raises(TransitionError, match=f"objet \\(« Gagnez un iPhone » au lieu de « {SUBJECT} »\\)"):
        send(settings, store, draft, mail_dir)
    assert not mail_dir.exists()
    rewrite_manifest(draft, subject=SUBJECT)
    send(settings, store, draft, mail_dir)
    (eml,) = mail_dir.glob("*.eml")
    assert email.message_from_bytes(eml.read_bytes(), policy=policy.default)["Subject"] == SUBJECT
    assert approved_content(store, draft.id).subject == SUBJECT


@pytest.mark.parametrize(
    "name",
    ["newsletter.txt", "social.json", "buffer/x.csv", "issue.json", "branding.yaml", "newsletter.mjml", "ics/*"],
)
def test_every_file_that_leaves_is_locked(settings, store, rendered_draft, name):
    draft = approve(settings, store, rendered_draft)
    target = sorted(draft.path.glob(name))[0]
    target.write_bytes(target.read_bytes() + b"\n")
    rel = target.relative_to(draft.path).as_posix()
    with pytest.raises(TransitionError, match=f"modifié après la validation \\({rel}\\)"):
        verify_approved(load_draft(settings.outbox, draft.id, store), store)


def test_added_and_removed_files_and_locked_fields_are_named(settings, store, rendered_draft):
    draft = approve(settings, store, rendered_draft)
    (draft.path / "ics" / "extra.ics").write_text("BEGIN:VCALENDAR\nEND:VCALENDAR\n")
    (draft.path / "buffer" / "x.csv").unlink()
    rewrite_manifest(draft, unsubscribe="https://ailleurs.example/", preheader="autre")
    with pytest.raises(TransitionError) as changed:
        verify_approved(load_draft(settings.outbox, draft.id, store), store)
    message = str(changed.value)
    for part in ("buffer/x.csv (supprimé)", "ics/extra.ics (ajouté)", "texte d'aperçu", "lien de désinscription"):
        assert part in message


def test_approval_copies_the_branding_and_reapproval_unlocks(settings, store, rendered_draft, tmp_path):
    source = Path(rendered_draft.manifest["branding_file"])
    draft = approve(settings, store, rendered_draft)
    assert draft.file("branding.yaml").read_bytes() == source.read_bytes()
    assert "branding.yaml" in approved_content(store, draft.id).hashes
    # the approval is in the database: the manifest holds no hash to trust
    assert "approved_files" not in json.loads((draft.path / "manifest.json").read_text())
    transition(settings.outbox, store, draft.id, PENDING, settings=settings)
    with pytest.raises(TransitionError, match="n'est pas validé"):
        approved_content(store, draft.id)
    approve(settings, store, draft)
    assert approved_content(store, draft.id).actor == "claire"


def test_approved_content_reads_verified_bytes(settings, store, rendered_draft):
    draft = approve(settings, store, rendered_draft)
    approval = approved_content(store, draft.id)
    assert approval.read(draft, "newsletter.html") == draft.file("newsletter.html").read_bytes()
    draft.file("newsletter.txt").write_text("autre chose", encoding="utf-8")
    with pytest.raises(TransitionError, match="newsletter.txt modifié après la validation"):
        approval.read(draft, "newsletter.txt")


# ---------------------------------------------------------------- the web archive


def test_the_archive_publishes_the_approved_html_not_a_rerender(settings, store, rendered_draft, tmp_path):
    from newsletter.outbox.drafts import edit_draft

    html = rendered_draft.file("newsletter.html").read_text(encoding="utf-8")
    edited = html.replace("Journée", "Journée (retouchée à la main)", 1)
    assert edited != html
    edit_draft(settings.outbox, store, rendered_draft.id, {"newsletter.html": edited})
    draft = approve(settings, store, load_draft(settings.outbox, rendered_draft.id, store))
    # a branding change after approval does not alter the approved issue
    source = Path(draft.manifest["branding_file"])
    source.write_text(source.read_text(encoding="utf-8").replace("La lettre de l'IREV", "Autre nom"), encoding="utf-8")
    archive = tmp_path / "archive"
    send(settings, store, draft, tmp_path / "mail", publish=lambda d: publish_draft_web(d, archive, store))
    page = (archive / "2025-12" / "index.html").read_text(encoding="utf-8")
    assert "Journée (retouchée à la main)" in page
    assert "Autre nom" not in page and "Autre nom" not in (archive / "feed.xml").read_text(encoding="utf-8")
    assert "{{unsubscribe_url}}" not in page and "Se désinscrire" not in page
    assert "Voir la version en ligne" not in page and "Toutes les lettres de IREV" in page
    assert 'href="ics/' in page and sorted(p.name for p in (archive / "2025-12" / "ics").iterdir())
    meta = json.loads((archive / "2025-12" / "issue.json").read_text(encoding="utf-8"))
    assert meta["subject"] == SUBJECT
    assert "version en ligne publiée" in store.draft_events(draft.id)[-1]["note"]


def test_a_failed_publication_is_recorded_and_can_be_retried(settings, store, rendered_draft, tmp_path, capsys,
                                                             monkeypatch):
    draft = approve(settings, store, rendered_draft)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    sent = send(settings, store, draft, tmp_path / "mail", publish=lambda d: publish_draft_web(d, blocker, store))
    assert sent.status == SENT and "pas pu être publiée" in sent.where
    last = store.draft_events(draft.id)[-1]
    assert last["to"] == SENT and last["note"].startswith("publication en ligne échouée : ")
    monkeypatch.setenv("NEWSLETTER_ARCHIVE", str(tmp_path / "archive"))
    assert main(["outbox", "publish", draft.id, "--actor", "claire"]) == 0
    assert "Version en ligne du brouillon" in capsys.readouterr().out
    assert (tmp_path / "archive" / "2025-12" / "index.html").is_file()
    last = store.draft_events(draft.id)[-1]
    assert last["actor"] == "claire" and last["note"].startswith("version en ligne publiée : ")
    # an HTML edited after sending is never published
    draft.file("newsletter.html").write_text("<html>autre</html>", encoding="utf-8")
    with pytest.raises(PublishError, match="newsletter.html"):
        publish_draft_web(load_draft(settings.outbox, draft.id, store), tmp_path / "archive", store)


def test_only_a_sent_draft_is_published(settings, store, rendered_draft, tmp_path):
    with pytest.raises(PublishError, match="seule une lettre envoyée"):
        publish_draft_web(rendered_draft, tmp_path / "archive", store)
    assert main(["outbox", "publish", rendered_draft.id]) == 2
