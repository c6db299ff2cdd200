"""Subscribers: validated addresses, CSV import, and the one guarded status change.

Addresses are validated and normalised with ``email-validator`` (no DNS
lookup) and compared case-insensitively (``email_key``), as mailbox
providers do. A subscriber's status only changes through
:func:`change_status`, one compare-and-set in the database with its audit
event, so an unsubscription racing a send or an import is never lost:

    active ──► unsubscribed | bounced | complained      (never back by an import)

An import never re-activates an address that unsubscribed, bounced or
complained: consent withdrawn is final until the person subscribes again.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, insert, select, update

from newsletter.errors import UserError
from newsletter.store import Store, as_aware, status_compare_and_set, subscriber_events, subscribers, utcnow

ACTIVE = "active"
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "bounced"
COMPLAINED = "complained"
STATUSES = (ACTIVE, UNSUBSCRIBED, BOUNCED, COMPLAINED)

# target status -> statuses it may be reached from
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    UNSUBSCRIBED: (ACTIVE,),
    BOUNCED: (ACTIVE,),
    COMPLAINED: (ACTIVE, UNSUBSCRIBED, BOUNCED),
}

STATUS_LABELS_FR = {
    ACTIVE: "abonné",
    UNSUBSCRIBED: "désabonné",
    BOUNCED: "adresse en échec",
    COMPLAINED: "signalé comme indésirable",
}

# Column names used by Mailchimp, Brevo and hand-made sheets (compared lower-cased, trimmed).
EMAIL_COLUMNS = ("email", "e-mail", "email address", "adresse e-mail", "adresse email", "adresse mail", "courriel", "mail")
NAME_COLUMNS = ("name", "nom complet", "full name", "nom et prénom")
FIRST_NAME_COLUMNS = ("first name", "firstname", "prénom", "prenom", "fname")
LAST_NAME_COLUMNS = ("last name", "lastname", "nom", "nom de famille", "lname")
CONSENT_COLUMNS = ("optin_time", "confirm_time", "date d'inscription", "consent_at", "date_inscription")
LIST_COLUMNS = ("lists", "listes", "liste", "segments", "tags")


class SubscriberError(UserError):
    pass


class InvalidAddress(SubscriberError):
    pass


def normalize_address(address: str) -> str:
    """The normalised form of an address (raises InvalidAddress, French message)."""
    try:
        result = validate_email((address or "").strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"adresse invalide {address!r} : {exc}") from None
    return result.ascii_email or result.normalized


def email_key(address: str) -> str:
    return address.lower()


@dataclass
class Subscriber:
    id: int
    email: str
    name: str | None
    status: str
    consent_source: str | None
    consent_at: datetime | None
    lists: list[str]
    bounce_count: int
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "status": self.status,
            "consent_source": self.consent_source,
            "consent_at": self.consent_at.isoformat() if self.consent_at else None,
            "lists": self.lists,
            "bounce_count": self.bounce_count,
            "created_at": self.created_at.isoformat(),
        }


def _row(r) -> Subscriber:
    return Subscriber(
        id=r.id,
        email=r.email,
        name=r.name,
        status=r.status,
        consent_source=r.consent_source,
        consent_at=as_aware(r.consent_at),
        lists=[x for x in (r.lists or "").split(",") if x],
        bounce_count=r.bounce_count or 0,
        created_at=as_aware(r.created_at),
    )


def get(store: Store, address: str) -> Subscriber | None:
    try:
        key = email_key(normalize_address(address))
    except InvalidAddress:
        key = email_key(address.strip())
    with store.engine.connect() as conn:
        r = conn.execute(select(subscribers).where(subscribers.c.email_key == key)).first()
    return _row(r) if r else None


def get_by_id(store: Store, subscriber_id: int) -> Subscriber | None:
    with store.engine.connect() as conn:
        r = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
    return _row(r) if r else None


def list_subscribers(store: Store, status: str | None = None) -> list[Subscriber]:
    q = select(subscribers).order_by(subscribers.c.id)
    if status:
        q = q.where(subscribers.c.status == status)
    with store.engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def count(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(subscribers.c.status, func.count()).group_by(subscribers.c.status)).all()
    counts = {s: 0 for s in STATUSES}
    counts.update({status: n for status, n in rows})
    return counts


def add(
    store: Store,
    address: str,
    *,
    name: str | None = None,
    consent_source: str | None = None,
    consent_at: datetime | None = None,
    lists: Iterable[str] = (),
    actor: str = "cli",
) -> tuple[Subscriber, bool]:
    """Add an active subscriber, or merge into an existing one. Returns (subscriber, created).

    An existing address keeps its status (an unsubscribed one stays
    unsubscribed); only missing name and new lists are merged in.
    """
    email = normalize_address(address)
    key = email_key(email)
    now = utcnow()
    with store.engine.begin() as conn:
        r = conn.execute(select(subscribers).where(subscribers.c.email_key == key)).first()
        if r is not None:
            values: dict[str, Any] = {}
            if name and not r.name:
                values["name"] = name
            merged = [x for x in (r.lists or "").split(",") if x]
            for item in lists:
                if item and item not in merged:
                    merged.append(item)
            if ",".join(merged) != (r.lists or ""):
                values["lists"] = ",".join(merged) or None
            if values:
                values["updated_at"] = now
                conn.execute(update(subscribers).where(subscribers.c.id == r.id).values(**values))
            r = conn.execute(select(subscribers).where(subscribers.c.id == r.id)).first()
            return _row(r), False
        lists_value = ",".join(x for x in dict.fromkeys(lists) if x) or None
        res = conn.execute(
            insert(subscribers).values(
                email=email,
                email_key=key,
                name=name or None,
                status=ACTIVE,
                consent_source=consent_source,
                consent_at=consent_at or now,
                lists=lists_value,
                bounce_count=0,
                created_at=now,
                updated_at=now,
            )
        )
        sid = res.inserted_primary_key[0]
        conn.execute(
            insert(subscriber_events).values(
                subscriber_id=sid, from_status=None, to_status=ACTIVE, at=now, actor=actor, note=consent_source
            )
        )
        r = conn.execute(select(subscribers).where(subscribers.c.id == sid)).first()
    return _row(r), True


def change_status(store: Store, subscriber_id: int, to: str, *, actor: str, note: str | None = None) -> bool:
    """The single place where a subscriber's status changes.

    One conditional UPDATE (compare-and-set on the current status) in one
    transaction with its audit event. Returns True if the status changed,
    False if the subscriber was not in a status ``to`` may be reached from
    (e.g. already unsubscribed): nothing changed then.
    """
    if to not in ALLOWED_FROM:
        raise SubscriberError(f"statut d'abonné inconnu : {to!r}")
    now = utcnow()
    with store.engine.begin() as conn:
        current = status_compare_and_set(conn, subscribers, subscriber_id, ALLOWED_FROM[to], to, now)
        if current is None:
            return False
        conn.execute(
            insert(subscriber_events).values(
                subscriber_id=subscriber_id, from_status=current, to_status=to, at=now, actor=actor, note=note
            )
        )
    return True


def unsubscribe(store: Store, address: str, *, actor: str, note: str | None = None) -> bool:
    sub = get(store, address)
    if sub is None:
        raise SubscriberError(f"{address} : aucun abonné à cette adresse")
    return change_status(store, sub.id, UNSUBSCRIBED, actor=actor, note=note)


def events(store: Store, subscriber_id: int) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(subscriber_events)
            .where(subscriber_events.c.subscriber_id == subscriber_id)
            .order_by(subscriber_events.c.id)
        ).all()
    return [
        {"from": r.from_status, "to": r.to_status, "at": as_aware(r.at).isoformat(), "actor": r.actor, "note": r.note}
        for r in rows
    ]


# -- CSV import ------------------------------------------------------------------


@dataclass
class ImportLine:
    line: int
    email: str
    outcome: str  # added, merged, skipped
    reason: str = ""


@dataclass
class ImportReport:
    path: str
    lines: list[ImportLine] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"added": 0, "merged": 0, "skipped": 0}
        for line in self.lines:
            out[line.outcome] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path, "counts": self.counts(), "lines": [line.__dict__ for line in self.lines]}


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower().lstrip("\ufeff") for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _parse_date(value: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
        try:
            from datetime import timezone

            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    try:
        return as_aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def import_csv(
    store: Store,
    path: Path,
    *,
    source: str | None = None,
    lists: Iterable[str] = (),
    actor: str = "cli",
) -> ImportReport:
    """Import subscribers from a Mailchimp, Brevo or hand-made CSV export.

    Delimiter (``,`` or ``;``) is sniffed; UTF-8 with or without BOM. The
    report says, per line, whether the address was added, merged into an
    existing subscriber (duplicate, case-insensitive) or skipped and why.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SubscriberError(f"{path} : fichier illisible ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise SubscriberError(f"{path} : fichier vide") from None
    email_col = _find(header, EMAIL_COLUMNS)
    if email_col is None:
        raise SubscriberError(
            f"{path} : pas de colonne d'adresse (attendu l'une de : Email, Email Address, Adresse e-mail, email ;"
            f" trouvé : {', '.join(h.strip() for h in header)})"
        )
    name_col = _find(header, NAME_COLUMNS)
    first_col = _find(header, FIRST_NAME_COLUMNS)
    last_col = _find(header, LAST_NAME_COLUMNS)
    consent_col = _find(header, CONSENT_COLUMNS)
    list_col = _find(header, LIST_COLUMNS)
    source = source or f"import {path.name}"
    report = ImportReport(path=str(path))
    seen: dict[str, int] = {}
    for lineno, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(i: int | None) -> str:
            return row[i].strip() if i is not None and i < len(row) else ""

        if email_col >= len(row):
            report.lines.append(ImportLine(lineno, "", "skipped", "colonne d'adresse manquante sur cette ligne"))
            continue
        address = cell(email_col)
        if not address:
            report.lines.append(ImportLine(lineno, "", "skipped", "adresse vide"))
            continue
        try:
            email = normalize_address(address)
        except InvalidAddress as exc:
            report.lines.append(ImportLine(lineno, address, "skipped", str(exc)))
            continue
        key = email_key(email)
        if key in seen:
            report.lines.append(
                ImportLine(lineno, email, "merged", f"doublon de la ligne {seen[key]} (casse ignorée)")
            )
        seen.setdefault(key, lineno)
        name = cell(name_col) or " ".join(x for x in (cell(first_col), cell(last_col)) if x) or None
        row_lists = [x.strip() for x in cell(list_col).replace(";", ",").split(",") if x.strip()] + list(lists)
        sub, created = add(
            store,
            email,
            name=name,
            consent_source=source,
            consent_at=_parse_date(cell(consent_col)),
            lists=row_lists,
            actor=actor,
        )
        if report.lines and report.lines[-1].line == lineno:
            continue  # duplicate within the file: already reported as merged
        if created:
            report.lines.append(ImportLine(lineno, email, "added"))
        elif sub.status != ACTIVE:
            report.lines.append(
                ImportLine(
                    lineno, email, "skipped",
                    f"déjà connu, statut « {STATUS_LABELS_FR[sub.status]} » : pas réabonné",
                )
            )
        else:
            report.lines.append(ImportLine(lineno, email, "merged", "déjà abonné"))
    return report


EXPORT_COLUMNS = ("email", "name", "status", "consent_source", "consent_at", "lists", "bounce_count", "created_at")


def export_csv(store: Store, out) -> int:
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    n = 0
    for sub in list_subscribers(store):
        d = sub.to_dict()
        d["lists"] = ",".join(sub.lists)
        writer.writerow([d[c] if d[c] is not None else "" for c in EXPORT_COLUMNS])
        n += 1
    return n
