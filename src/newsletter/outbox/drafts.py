"""Drafts awaiting editorial approval, and the one guarded status transition.

A draft is a folder ``<outbox>/<id>/`` holding what would be sent (HTML, text,
MJML, social drafts, calendar files) and ``manifest.json``. Its status lives
in the database and is mirrored into the manifest; it only ever changes
through :func:`transition`, which checks the move is allowed and performs it
with one compare-and-set, the way listmonk guards a campaign's status.

    pending ──approve──► approved ──send──► sending ──► sent
       │  ▲                 │                   └──► failed ──retry──► sending
       │  └────reopen───────┤
       └──reject──► rejected ◄┘        (rejected ──reopen──► pending)

Writes are atomic: a draft folder is built under a temporary name and renamed
into place; the manifest is replaced with os.replace, never rewritten in place.
"""

from __future__ import annotations

from newsletter.errors import UserError

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from newsletter.files import atomic_write
from newsletter.models import Issue
from newsletter.store import Store, utcnow

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
STATUSES = (PENDING, APPROVED, REJECTED, SENDING, SENT, FAILED)

# target status -> the statuses it may be reached from
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    APPROVED: (PENDING,),
    REJECTED: (PENDING, APPROVED),
    PENDING: (APPROVED, REJECTED),
    SENDING: (APPROVED, FAILED),
    SENT: (SENDING,),
    FAILED: (SENDING,),
}

STATUS_LABELS_FR = {
    PENDING: "en attente de validation",
    APPROVED: "validé",
    REJECTED: "refusé",
    SENDING: "envoi en cours",
    SENT: "envoyé",
    FAILED: "échec de l'envoi",
}

MANIFEST = "manifest.json"
ISSUE_FILE = "issue.json"  # the issue as rendered: what the run curated, with the officer's edits
CURATED_FILE = "curated.json"  # what the run curated, before the officer's edits (newsletter.outbox.edits)
# Files whose content is what subscribers and followers get: hashed at
# approval, checked again before sending.
ISSUE_FILE = "issue.json"
# The branding file the draft was approved with, copied into the draft at
# approval (and so locked with it): the web archive publishes with it.
BRANDING_COPY = "branding.yaml"
# The files subscribers and followers get (kept for callers that list them);
# approval locks every file of the draft folder but the manifest, see locked_files().
CONTENT_FILES = ("newsletter.html", "newsletter.txt", "social.json")
# Manifest fields the delivery and the archive read: locked at approval too.
LOCKED_FIELDS = ("subject", "preheader", "unsubscribe", "web_url", "month", "branding_file")
FIELD_LABELS_FR = {
    "subject": "objet",
    "preheader": "texte d'aperçu",
    "unsubscribe": "lien de désinscription",
    "web_url": "adresse de la version en ligne",
    "month": "mois",
    "branding_file": "fichier de charte graphique",
}


class OutboxError(UserError):
    """A draft cannot be found, read or moved. Messages are French: the officer sees them."""


class TransitionError(OutboxError):
    pass


class MonthLocked(OutboxError):
    """A new run for a month whose draft is already approved, being sent or sent."""
class PublishError(OutboxError):
    """The web archive could not be written; recorded in the draft's history, retried by ``outbox publish``."""


class ChecksFailed(TransitionError):
    """Pre-send checks failed: approval (or sending) refused. ``report`` is the ChecksReport."""

    def __init__(self, message: str, report: Any, failures: list[Any] | None = None):
        super().__init__(message)
        self.report = report
        self.failures = failures if failures is not None else report.failed


@dataclass
class Draft:
    id: str
    path: Path
    manifest: dict[str, Any]

    @property
    def status(self) -> str:
        return self.manifest.get("status", "?")

    def file(self, name: str) -> Path:
        return self.path / name

    def issue(self) -> Issue | None:
        """The curated issue the draft was rendered from (``issue.json``), None if absent."""
        path = self.file(ISSUE_FILE)
        if not path.exists():
            return None
        try:
            return Issue.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise OutboxError(f"{path} : fichier illisible ({exc})") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


def new_draft_id(month: date, now: datetime | None = None) -> str:
    now = now or utcnow()
    return f"{month:%Y-%m}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"


def create_draft(
    outbox_dir: Path,
    store: Store,
    *,
    month: date,
    files: dict[str, bytes | str],
    manifest: dict[str, Any],
    draft_id: str | None = None,
) -> Draft:
    """Write a new pending draft atomically and register it in the database."""
    outbox_dir = Path(outbox_dir)
    outbox_dir.mkdir(parents=True, exist_ok=True)
    draft_id = draft_id or new_draft_id(month)
    final = outbox_dir / draft_id
    if final.exists():
        raise OutboxError(f"le brouillon {draft_id} existe déjà dans {outbox_dir}")
    staging = Path(tempfile.mkdtemp(prefix=f".{draft_id}.", dir=outbox_dir))
    try:
        hashes: dict[str, str] = {}
        for name, content in sorted(files.items()):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
            hashes[name] = sha256_file(target)
        created = utcnow()
        full_manifest = {
            "id": draft_id,
            "status": PENDING,
            "month": f"{month:%Y-%m}",
            "created_at": created.isoformat(),
            **manifest,
            "files": hashes,
        }
        (staging / MANIFEST).write_text(_dump(full_manifest), encoding="utf-8")
        store.add_draft(draft_id, f"{month:%Y-%m}", PENDING)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Draft(id=draft_id, path=final, manifest=full_manifest)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutboxError(f"{path}: pas de {MANIFEST}, ce n'est pas un brouillon") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OutboxError(f"{path / MANIFEST}: fichier illisible ({exc})") from None


def load_draft(outbox_dir: Path, draft_id: str, store: Store | None = None) -> Draft:
    outbox_dir = Path(outbox_dir)
    if not draft_id or "/" in draft_id or draft_id.startswith("."):
        raise OutboxError(f"identifiant de brouillon invalide : {draft_id!r}")
    path = outbox_dir / draft_id
    if not path.is_dir():
        raise OutboxError(f"brouillon {draft_id!r} introuvable dans {outbox_dir}")
    manifest = _read_manifest(path)
    if store is not None:
        status = store.draft_status(draft_id)
        if status is not None:
            manifest["status"] = status
    return Draft(id=draft_id, path=path, manifest=manifest)


def list_drafts(outbox_dir: Path, store: Store | None = None) -> list[Draft]:
    outbox_dir = Path(outbox_dir)
    if not outbox_dir.is_dir():
        return []
    out = []
    for path in sorted(outbox_dir.iterdir()):
        if path.is_dir() and not path.name.startswith(".") and (path / MANIFEST).is_file():
            try:
                out.append(load_draft(outbox_dir, path.name, store))
            except OutboxError:
                continue
    out.sort(key=lambda d: d.manifest.get("created_at", ""), reverse=True)
    return out


def locked_files(draft: Draft) -> list[str]:
    """Every file of the draft folder that approval locks: all but the manifest (and hidden files)."""
    names = []
    for path in sorted(draft.path.rglob("*")):
        rel = path.relative_to(draft.path)
        if path.is_file() and rel.as_posix() != MANIFEST and not any(p.startswith(".") for p in rel.parts):
            names.append(rel.as_posix())
    return names


def content_hashes(draft: Draft) -> dict[str, str]:
    return {name: sha256_file(draft.path / name) for name in locked_files(draft)}


def changed_files(draft: Draft, reference: dict[str, str]) -> list[str]:
    """Files whose hash differs from ``reference`` (changed, added or removed), French-annotated."""
    current = content_hashes(draft)
    out = []
    for name in sorted(set(reference) | set(current)):
        if name not in current:
            out.append(f"{name} (supprimé)")
        elif name not in reference:
            out.append(f"{name} (ajouté)")
        elif current[name] != reference[name]:
            out.append(name)
    return out


@dataclass(frozen=True)
class ApprovedContent:
    """What was approved, as recorded in the database (table ``approvals``), never in the manifest."""

    draft_id: str
    approved_at: datetime
    actor: str | None
    comment: str | None
    override_reason: str | None
    subject: str
    hashes: dict[str, str]
    fields: dict[str, Any]
    checks: Any  # ChecksReport the approval was given on, or None

    def read(self, draft: Draft, name: str) -> bytes:
        """The bytes of an approved file, verified against its approved hash (read once: send these)."""
        if name not in self.hashes:
            raise TransitionError(f"brouillon {self.draft_id} : {name} ne fait pas partie de ce qui a été validé")
        try:
            data = (draft.path / name).read_bytes()
        except FileNotFoundError:
            raise TransitionError(
                f"brouillon {self.draft_id} : {name} a été supprimé après la validation ;"
                f" validez-le de nouveau avant l'envoi"
            ) from None
        if hashlib.sha256(data).hexdigest() != self.hashes[name]:
            raise TransitionError(
                f"brouillon {self.draft_id} : {name} modifié après la validation ;"
                f" remettez-le en attente (newsletter outbox reopen {self.draft_id}) et validez-le de nouveau"
            )
        return data


def latest_approval(store: Store, draft_id: str) -> ApprovedContent | None:
    """The draft's last approval record, whatever its status since (None if never approved)."""
    from sqlalchemy import select

    from newsletter.store import as_aware, approvals

    with store.engine.connect() as conn:
        row = conn.execute(
            select(approvals).where(approvals.c.draft_id == draft_id).order_by(approvals.c.id.desc()).limit(1)
        ).first()
    if row is None:
        return None
    checks = None
    if row.checks_json:
        from newsletter.outbox.checks import ChecksReport

        checks = ChecksReport.from_dict(json.loads(row.checks_json))
    return ApprovedContent(
        draft_id=draft_id,
        approved_at=as_aware(row.approved_at),
        actor=row.actor,
        comment=row.comment,
        override_reason=row.override_reason,
        subject=row.subject,
        hashes=json.loads(row.hashes_json),
        fields=json.loads(row.fields_json),
        checks=checks,
    )


def approved_content(store: Store, draft_id: str) -> ApprovedContent:
    """The approval in force for a draft that is approved (or being sent, sent, failed).

    Raises TransitionError when the draft is not approved or its approval was
    never recorded in the database (e.g. approved by an older version).
    """
    status = store.draft_status(draft_id)
    if status not in (APPROVED, SENDING, SENT, FAILED):
        raise TransitionError(
            f"brouillon {draft_id} : il n'est pas validé (statut : « {STATUS_LABELS_FR.get(status, status)} »)"
        )
    approval = latest_approval(store, draft_id)
    if approval is None:
        raise TransitionError(
            f"brouillon {draft_id} : aucune validation enregistrée dans la base ; remettez-le en attente"
            f" (newsletter outbox reopen {draft_id}) et validez-le de nouveau"
        )
    return approval


def verify_approved(draft: Draft, store: Store) -> ApprovedContent:
    """Check that every locked file and field is as approved; raise TransitionError naming what changed."""
    approval = approved_content(store, draft.id)
    changes = changed_files(draft, approval.hashes)
    for name in LOCKED_FIELDS:
        now, then = draft.manifest.get(name), approval.fields.get(name)
        if now != then:
            label = FIELD_LABELS_FR.get(name, name)
            if name == "subject":
                changes.append(f"{label} (« {now} » au lieu de « {then} »)")
            else:
                changes.append(label)
    if changes:
        raise TransitionError(
            f"brouillon {draft.id} : modifié après la validation ({', '.join(changes)}) ;"
            f" remettez-le en attente (newsletter outbox reopen {draft.id}) et validez-le de nouveau avant l'envoi"
        )
    return approval


def _copy_branding(draft: Draft) -> None:
    """Copy the branding file the draft was rendered with into the draft, to lock it with the approval."""
    from newsletter.home import config_path
    from newsletter.home import BRANDING_FILE

    source = Path(draft.manifest.get("branding_file") or config_path(BRANDING_FILE))
    if source.is_file() and source.resolve() != (draft.path / BRANDING_COPY).resolve():
        atomic_write(draft.path / BRANDING_COPY, source.read_bytes())


def _check_names(results: list[Any]) -> str:
    from newsletter.outbox.checks import CHECK_TITLES_FR

    return ", ".join(CHECK_TITLES_FR.get(r.name, r.name) for r in results)


def transition(
    outbox_dir: Path,
    store: Store,
    draft_id: str,
    to: str,
    *,
    actor: str = "cli",
    note: str | None = None,
    override_reason: str | None = None,
    settings: Any = None,
    link_checker: Any = None,
) -> Draft:
    """The single place where a draft's status changes.

    Refuses a move the state machine does not allow. Approving runs the
    pre-send checks (``newsletter.outbox.checks``): a failed check refuses the
    approval with :class:`ChecksFailed` unless ``override_reason`` is given,
    recorded in the history and the approval record. Approval locks every
    file of the draft and the fields the delivery reads, in the database
    (table ``approvals``). Sending (``to=SENDING``) refuses a draft whose
    files or fields differ from the approval, and runs the checks again: a
    check failing on a culprit the approval did not override blocks the send.
    On success the manifest is rewritten atomically with the new status and
    the event (a mirror for reading: nothing in it is trusted).
    """
    if to not in ALLOWED_FROM:
        raise TransitionError(f"statut inconnu : {to!r}")
    draft = load_draft(outbox_dir, draft_id, store)
    current = draft.status
    if current not in ALLOWED_FROM[to]:
        raise TransitionError(
            f"brouillon {draft_id} : impossible de passer de « {STATUS_LABELS_FR.get(current, current)} »"
            f" à « {STATUS_LABELS_FR[to]} »"
        )
    extra: dict[str, Any] = {}
    on_success = None
    if to in (APPROVED, SENDING):
        from newsletter.outbox.checks import run_checks, uncovered_failures

        if settings is None:
            from newsletter.settings import Settings

            settings = Settings.from_env()
    if to == APPROVED:
        _copy_branding(draft)
        hashes = content_hashes(draft)
        fields = {name: draft.manifest.get(name) for name in LOCKED_FIELDS}
        report = run_checks(draft, settings, link_checker=link_checker, store=store, stage="approval")
        # What is locked is what was checked: an edit that landed during the checks is not approved blind.
        reread = load_draft(outbox_dir, draft_id, store)
        if content_hashes(reread) != hashes or {n: reread.manifest.get(n) for n in LOCKED_FIELDS} != fields:
            raise TransitionError(
                f"brouillon {draft_id} : modifié pendant les contrôles de validation ; relisez-le et validez-le de nouveau"
            )
        extra["checks"] = report.to_dict()
        reason = (override_reason or "").strip() or None
        if not report.ok and reason is None:
            raise ChecksFailed(
                f"brouillon {draft_id} : validation refusée, {report.summary_fr()} ;"
                " corrigez le brouillon, ou validez-le malgré tout en donnant une raison"
                " (newsletter outbox approve ID --override « raison »)",
                report,
            )
        if report.ok:
            reason = None  # nothing was overridden
        else:
            overridden = f"contrôles en échec validés malgré tout ({_check_names(report.failed)}) : {reason}"
            note = f"{note} — {overridden}" if note else overridden
        approved_at = utcnow()

        def on_success(conn) -> None:
            from sqlalchemy import insert

            from newsletter.store import approvals

            conn.execute(
                insert(approvals).values(
                    draft_id=draft_id,
                    approved_at=approved_at,
                    actor=actor,
                    comment=note,
                    override_reason=reason,
                    subject=str(draft.manifest.get("subject") or ""),
                    hashes_json=json.dumps(hashes, ensure_ascii=False, sort_keys=True),
                    fields_json=json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str),
                    checks_json=json.dumps(report.to_dict(), ensure_ascii=False),
                )
            )

        extra["approval"] = {
            "approved_at": approved_at.isoformat(),
            "actor": actor,
            "override_reason": reason,
            "note": "copie pour lecture : la validation qui fait foi est dans la base de données",
        }
    if to == SENDING:
        approval = verify_approved(draft, store)
        report = run_checks(draft, settings, link_checker=link_checker, store=store, stage="send")
        extra["checks"] = report.to_dict()
        uncovered = uncovered_failures(report, approval.checks if approval.override_reason else None)
        if uncovered:
            raise ChecksFailed(
                f"brouillon {draft_id} : envoi bloqué, contrôle en échec au moment de l'envoi qui ne l'était pas"
                f" (ou pas ainsi) à la validation : {_check_names(uncovered)}"
                f" ({' ; '.join(r.label for r in uncovered)}) ; corrigez-le, ou remettez le brouillon en attente"
                f" (newsletter outbox reopen {draft_id}) et validez-le de nouveau avec --override « raison »",
                report,
                uncovered,
            )
        if report.failed:
            covered = (
                f"contrôles en échec couverts par la validation de {approval.actor}"
                f" ({_check_names(report.failed)}) : {approval.override_reason}"
            )
            note = f"{note} — {covered}" if note else covered
    previous = store.compare_and_set_status(
        draft_id, ALLOWED_FROM[to], to, actor=actor, note=note, on_success=on_success
    )
    if previous is None:
        now = store.draft_status(draft_id)
        raise TransitionError(
            f"brouillon {draft_id} : son statut a changé entre-temps"
            f" (« {STATUS_LABELS_FR.get(now, now)} »), rien n'a été modifié"
        )
    manifest = dict(draft.manifest)
    manifest.pop("approved_files", None)  # older versions kept the hashes here; the database holds them now
    manifest.update(extra)
    manifest["status"] = to
    manifest["events"] = store.draft_events(draft_id)
    atomic_write(draft.path / MANIFEST, _dump(manifest))
    return Draft(id=draft_id, path=draft.path, manifest=manifest)


def record_publication(
    draft: Draft, store: Store, *, actor: str, page: Path | None = None, error: str | None = None
) -> Draft:
    """Record in a sent draft's history that its web version was published (``page``) or failed (``error``)."""
    note = f"version en ligne publiée : {page}" if error is None else f"publication en ligne échouée : {error}"
    store.compare_and_set_status(draft.id, (SENT,), SENT, actor=actor, note=note)
    manifest = _read_manifest(draft.path)
    manifest["status"] = store.draft_status(draft.id) or manifest.get("status")
    if error is None:
        manifest["published"] = str(page)
        manifest.pop("publish_error", None)
    else:
        manifest["publish_error"] = error
    manifest["events"] = store.draft_events(draft.id)
    atomic_write(draft.path / MANIFEST, _dump(manifest))
    draft.manifest.update({k: manifest[k] for k in ("published", "publish_error", "events") if k in manifest})
    if error is None:
        draft.manifest.pop("publish_error", None)
    return draft


def edit_draft(
    outbox_dir: Path,
    store: Store,
    draft_id: str,
    files: dict[str, bytes | str],
    manifest_updates: dict[str, Any] | None = None,
    *,
    actor: str = "cli",
    note: str = "modifié",
    drop_files: list[str] | tuple[str, ...] = (),
) -> Draft:
    """Replace some of a pending draft's files (e.g. after adding an editorial).

    ``drop_files``: files of the draft that the new rendering no longer has
    (an event removed: its .ics), deleted and forgotten by the manifest.

    Only a pending draft can be edited: an approved one must be reopened
    first, so that what is sent is always what was approved (and an approval
    racing this edit is caught at send time by the content hashes).
    """
    draft = load_draft(outbox_dir, draft_id, store)
    if draft.status != PENDING:
        raise TransitionError(
            f"brouillon {draft_id} : seul un brouillon en attente de validation peut être modifié"
            f" (statut : « {STATUS_LABELS_FR.get(draft.status, draft.status)} » ;"
            f" utilisez « newsletter outbox reopen {draft_id} »)"
        )
    if store.compare_and_set_status(draft_id, (PENDING,), PENDING, actor=actor, note=note) is None:
        raise TransitionError(f"brouillon {draft_id} : son statut a changé entre-temps, rien n'a été modifié")
    manifest = dict(draft.manifest)
    hashes = dict(manifest.get("files") or {})
    for name, content in files.items():
        target = draft.path / name
        if draft.path.resolve() not in target.resolve().parents:
            raise OutboxError(f"nom de fichier invalide : {name!r}")
        atomic_write(target, content)
        hashes[name] = sha256_file(target)
    for name in drop_files:
        target = draft.path / name
        if name in files or draft.path.resolve() not in target.resolve().parents:
            continue
        target.unlink(missing_ok=True)
        hashes.pop(name, None)
    manifest.update(manifest_updates or {})
    manifest["files"] = hashes
    manifest["events"] = store.draft_events(draft_id)
    atomic_write(draft.path / MANIFEST, _dump(manifest))
    return Draft(id=draft_id, path=draft.path, manifest=manifest)


# -- send lease --------------------------------------------------------------
# Sending a draft is guarded twice: its status (approved/failed → sending, by
# transition() above) and a lease in the database that only one live sender
# holds (holder + expiry, taken and renewed by compare-and-set on a version).
# A lease whose holder is dead (same host, process gone) or expired can be
# taken over: that is how `newsletter outbox send ID` resumes a draft left in
# "sending" by a process that died.


class SendInProgress(TransitionError):
    pass


class LeaseLost(TransitionError):
    pass


def new_lease_holder() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _holder_is_dead(holder: str) -> bool:
    import socket

    try:
        host, pid, _ = holder.rsplit(":", 2)
        pid_n = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname() or pid_n == os.getpid():
        return False
    try:
        os.kill(pid_n, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire_send_lease(store: Store, draft_id: str, holder: str, ttl_seconds: float) -> None:
    """Take the send lease of a draft, or raise SendInProgress naming the live holder."""
    from datetime import timedelta

    from sqlalchemy import insert, select, update
    from sqlalchemy.exc import IntegrityError

    from newsletter.store import as_aware, send_runs

    for _ in range(3):
        now = utcnow()
        expires = now + timedelta(seconds=ttl_seconds)
        with store.engine.begin() as conn:
            row = conn.execute(select(send_runs).where(send_runs.c.draft_id == draft_id)).first()
            if row is None:
                try:
                    conn.execute(
                        insert(send_runs).values(
                            draft_id=draft_id, holder=holder, lease_expires_at=expires, lease_version=1, started_at=now
                        )
                    )
                    return
                except IntegrityError:
                    continue
            free = (
                row.holder is None
                or row.holder == holder
                or (row.lease_expires_at is not None and as_aware(row.lease_expires_at) < now)
                or _holder_is_dead(row.holder)
            )
            if not free:
                until = as_aware(row.lease_expires_at)
                raise SendInProgress(
                    f"brouillon {draft_id} : un autre envoi est en cours ({row.holder}, bail valable jusqu'à"
                    f" {until:%H:%M:%S} UTC) ; rien n'a été envoyé par cette commande"
                )
            res = conn.execute(
                update(send_runs)
                .where(send_runs.c.draft_id == draft_id, send_runs.c.lease_version == row.lease_version)
                .values(holder=holder, lease_expires_at=expires, lease_version=row.lease_version + 1)
            )
            if res.rowcount == 1:
                return
    raise SendInProgress(f"brouillon {draft_id} : un autre envoi vient de prendre la main ; rien n'a été envoyé")


def renew_send_lease(store: Store, draft_id: str, holder: str, ttl_seconds: float) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from newsletter.store import send_runs

    with store.engine.begin() as conn:
        res = conn.execute(
            update(send_runs)
            .where(send_runs.c.draft_id == draft_id, send_runs.c.holder == holder)
            .values(
                lease_expires_at=utcnow() + timedelta(seconds=ttl_seconds),
                lease_version=send_runs.c.lease_version + 1,
            )
        )
    if res.rowcount != 1:
        raise LeaseLost(f"brouillon {draft_id} : le bail d'envoi a été repris par un autre processus ; envoi arrêté")


def release_send_lease(store: Store, draft_id: str, holder: str) -> None:
    from sqlalchemy import update

    from newsletter.store import send_runs

    with store.engine.begin() as conn:
        conn.execute(
            update(send_runs)
            .where(send_runs.c.draft_id == draft_id, send_runs.c.holder == holder)
            .values(holder=None, lease_expires_at=None, lease_version=send_runs.c.lease_version + 1)
        )
