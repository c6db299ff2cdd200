"""The database: source state, history of sent items, drafts and their status.

SQLAlchemy Core, so the default SQLite file and PostgreSQL
(``NEWSLETTER_DATABASE_URL=postgresql+psycopg://...``) behave the same.
Draft status changes go through :func:`newsletter.outbox.transition`, which
uses :meth:`Store.compare_and_set_status`: one conditional UPDATE, so two
processes can never both move the same draft.
"""

from __future__ import annotations

from newsletter.errors import UserError

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError

metadata = MetaData()

source_state = Table(
    "source_state",
    metadata,
    Column("name", String(300), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_success_at", DateTime(timezone=True)),
    Column("items_json", Text),
)

drafts = Table(
    "drafts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("month", String(7), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

draft_events = Table(
    "draft_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", String(64), nullable=False, index=True),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200)),
    Column("note", Text),
)

sent_items = Table(
    "sent_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", Text, nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("start", DateTime(timezone=True)),
    Column("location", Text),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("draft_id", String(64), nullable=False),
)


# -- draft edits tables --

# One row per version of the officer's edits of a draft (newsletter.outbox.edits).
# The primary key makes saving version n+1 a compare-and-set: of two editors
# starting from version n, exactly one INSERT succeeds.
draft_edits = Table(
    "draft_edits",
    metadata,
    Column("draft_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("edits_json", Text, nullable=False),
    Column("actor", String(200)),
    Column("note", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)


def status_compare_and_set(
    conn: Connection, table: Table, row_id: Any, allowed_from: Iterable[str], to: str, now: datetime
) -> str | None:
    """Set ``table``'s row ``row_id`` to status ``to`` only if its status is in ``allowed_from``.

    The compare-and-set behind every guarded status change (drafts,
    subscribers): read the current status, then one UPDATE conditioned on it,
    so that two writers racing on one row cannot both win. Returns the status
    it replaced, or None when the row is missing or not in an allowed status
    (nothing changed). The caller writes its audit event in the same
    transaction.
    """
    current = conn.execute(select(table.c.status).where(table.c.id == row_id)).scalar()
    if current is None or current not in set(allowed_from):
        return None
    res = conn.execute(
        update(table).where(table.c.id == row_id, table.c.status == current).values(status=to, updated_at=now)
    )
    return current if res.rowcount == 1 else None


class StoreError(UserError):
    """The database cannot be opened or used; the message names the URL."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _to_utc(value: datetime | None) -> datetime | None:
    # Stored in UTC: SQLite keeps no offset, so every datetime goes in as UTC.
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def as_aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back even for timezone=True columns.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


# -- schema migrations (Alembic) ----------------------------------------------

# The tables of revision 0001, the schema before migrations existed: a
# database holding them without an ``alembic_version`` table is adopted.
PRE_ALEMBIC_TABLES = frozenset({"source_state", "drafts", "draft_events", "sent_items"})
_MIGRATION_LOCK = 7240311  # pg_advisory_xact_lock key: one migrating process at a time
_MIGRATION_THREADS = threading.Lock()  # Alembic's context is process-global: one thread at a time


def alembic_config(connection=None):
    """The Alembic configuration of the packaged migrations (``newsletter/migrations``)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "newsletter:migrations")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``: create it, adopt a pre-Alembic one, upgrade.

    Never drops or recreates a table. On PostgreSQL an advisory lock makes
    concurrent starts (worker, web app, CLI) wait for each other; on SQLite a
    concurrent start that lost the race simply tries again.
    """
    with _MIGRATION_THREADS:
        _migrate(engine, revision)


def _migrate(engine: Engine, revision: str) -> None:
    from alembic import command

    for attempt in range(5):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                tables = set(inspect(conn).get_table_names())
                cfg = alembic_config(conn)
                if "alembic_version" not in tables and PRE_ALEMBIC_TABLES <= tables:
                    command.stamp(cfg, "0001")
                command.upgrade(cfg, revision)
            return
        except (OperationalError, IntegrityError) as exc:
            # SQLite: another process created the same table first ("already
            # exists") or held the write lock; its work is visible on retry.
            if engine.dialect.name != "sqlite" or attempt == 4:
                raise
            import time

            time.sleep(0.2 * (attempt + 1))


class Store:
    def __init__(self, url: str):
        self.url = url
        try:
            if url.startswith("sqlite:///"):
                Path(url[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
            migrate(self.engine)
        except (ArgumentError, OperationalError, ImportError) as exc:
            raise StoreError(f"cannot open database {url!r}: {exc}") from None

    # -- the officer's category corrections (newsletter.curate.classify) -----

    def add_correction(self, row: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(category_corrections).values(at=utcnow(), **row))

    def corrections(self) -> list[dict[str, Any]]:
        """Every category correction, oldest first (a later one wins)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(category_corrections).order_by(category_corrections.c.id)).all()
        return [
            {"url": r.url, "source": r.source, "outlet": r.outlet, "series_key": r.series_key, "title": r.title,
             "summary": r.summary, "category": r.category, "actor": r.actor, "at": as_aware(r.at).isoformat()}
            for r in rows
        ]

    # -- source state (the protocol collect.StateStore expects) -------------

    def get(self, name: str):
        from newsletter.collect.collector import SourceState

        with self.engine.connect() as conn:
            row = conn.execute(select(source_state).where(source_state.c.name == name)).first()
        if row is None:
            return None
        return SourceState(
            etag=row.etag,
            last_modified=row.last_modified,
            consecutive_failures=row.consecutive_failures or 0,
            last_error=row.last_error,
            items=json.loads(row.items_json) if row.items_json else [],
        )

    def record(self, name: str, result) -> int:
        """Save what a source gave this run; return its consecutive failures."""
        return self.record_many([(name, result)])[0]

    def record_many(self, pairs) -> list[int]:
        """``record`` for many (name, result) pairs in one transaction (one
        commit instead of one per source); returns each one's consecutive failures."""
        out: list[int] = []
        with self.engine.begin() as conn:
            for name, result in pairs:
                out.append(self._record(conn, name, result))
        return out

    @staticmethod
    def _record(conn, name: str, result) -> int:
        row = conn.execute(select(source_state).where(source_state.c.name == name)).first()
        if result.error is not None:
            failures = (row.consecutive_failures if row else 0) + 1
            values: dict[str, Any] = {
                "consecutive_failures": failures,
                "last_error": str(result.error),
            }
        else:
            failures = 0
            values = {
                "consecutive_failures": 0,
                "last_error": None,
                "last_success_at": utcnow(),
            }
            if not result.not_modified:
                values["etag"] = result.etag
                values["last_modified"] = result.last_modified
                values["items_json"] = json.dumps([i.to_dict() for i in result.items], ensure_ascii=False)
        if row is None:
            conn.execute(insert(source_state).values(name=name, **values))
        else:
            conn.execute(update(source_state).where(source_state.c.name == name).values(**values))
        return failures

    # -- drafts --------------------------------------------------------------

    def add_draft(self, draft_id: str, month: str, status: str, actor: str = "pipeline") -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                insert(drafts).values(id=draft_id, status=status, month=month, created_at=now, updated_at=now)
            )
            conn.execute(
                insert(draft_events).values(
                    draft_id=draft_id, from_status=None, to_status=status, at=now, actor=actor, note="created"
                )
            )

    def draft_status(self, draft_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(drafts.c.status).where(drafts.c.id == draft_id)).scalar()

    def compare_and_set_status(
        self,
        draft_id: str,
        allowed_from: Iterable[str],
        to: str,
        *,
        actor: str,
        note: str | None = None,
        on_success: Callable[[Connection], None] | None = None,
    ) -> str | None:
        """Move a draft to ``to`` only if its status is in ``allowed_from``.

        Returns the previous status on success, None when the draft was not in
        an allowed status (nothing changed). One conditional UPDATE, in one
        transaction with its audit event and with ``on_success(conn)`` (e.g.
        the approval record), so that they are written together or not at all.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            current = status_compare_and_set(conn, drafts, draft_id, allowed_from, to, now)
            if current is None:
                return None
            conn.execute(
                insert(draft_events).values(
                    draft_id=draft_id, from_status=current, to_status=to, at=now, actor=actor, note=note
                )
            )
            if on_success is not None:
                on_success(conn)
            return current

    def drafts_for_month(self, month: str) -> list[dict[str, Any]]:
        """Every draft of a month (``YYYY-MM``), oldest first: id, status, created_at."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(drafts.c.id, drafts.c.status, drafts.c.created_at)
                .where(drafts.c.month == month)
                .order_by(drafts.c.created_at, drafts.c.id)
            ).all()
        return [{"id": r.id, "status": r.status, "created_at": as_aware(r.created_at)} for r in rows]

    # -- the officer's edits, versioned (newsletter.outbox.edits) -----------

    def insert_draft_edits(self, draft_id: str, version: int, edits_json: str, actor: str, note: str) -> bool:
        """Store a new version; False when that version already exists (someone saved first)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(draft_edits).values(
                        draft_id=draft_id, version=version, edits_json=edits_json, actor=actor, note=note, at=utcnow()
                    )
                )
        except IntegrityError:
            return False
        return True

    def _edits_rows(self, draft_id: str, version: int | None = None, latest: bool = False) -> list[dict[str, Any]]:
        query = select(draft_edits).where(draft_edits.c.draft_id == draft_id)
        if version is not None:
            query = query.where(draft_edits.c.version == version)
        query = query.order_by(draft_edits.c.version.desc() if latest else draft_edits.c.version)
        if latest:
            query = query.limit(1)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {"version": r.version, "edits_json": r.edits_json, "actor": r.actor, "note": r.note, "at": as_aware(r.at)}
            for r in rows
        ]

    def latest_draft_edits(self, draft_id: str) -> dict[str, Any] | None:
        rows = self._edits_rows(draft_id, latest=True)
        return rows[0] if rows else None

    def draft_edits_version(self, draft_id: str, version: int) -> dict[str, Any] | None:
        rows = self._edits_rows(draft_id, version=version)
        return rows[0] if rows else None

    def draft_edits_rows(self, draft_id: str) -> list[dict[str, Any]]:
        return self._edits_rows(draft_id)

    def draft_events(self, draft_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(draft_events).where(draft_events.c.draft_id == draft_id).order_by(draft_events.c.id)
            ).all()
        return [
            {
                "from": r.from_status,
                "to": r.to_status,
                "at": as_aware(r.at).isoformat(),
                "actor": r.actor,
                "note": r.note,
            }
            for r in rows
        ]

    def add_draft_event(self, draft_id: str, *, actor: str, note: str) -> None:
        """Record something done to a draft that does not change its status (a proof sent…)."""
        now = utcnow()
        with self.engine.begin() as conn:
            status = conn.execute(select(drafts.c.status).where(drafts.c.id == draft_id)).scalar()
            if status is None:
                raise StoreError(f"brouillon {draft_id!r} inconnu")
            conn.execute(
                insert(draft_events).values(
                    draft_id=draft_id, from_status=status, to_status=status, at=now, actor=actor, note=note
                )
            )

    # -- history of sent items ----------------------------------------------

    def record_sent(self, draft_id: str, items: Iterable[Any], sent_at: datetime | None = None) -> int:
        sent_at = sent_at or utcnow()
        rows = [
            {
                "key": item.key,
                "kind": item.kind,
                "title": item.title,
                "start": _to_utc(item.start),
                "location": item.location,
                "sent_at": sent_at,
                "draft_id": draft_id,
            }
            for item in items
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(sent_items), rows)
        return len(rows)

    def history(self):
        """Every item of every sent newsletter, as curate.HistoryEntry objects."""
        from newsletter.curate.curation import HistoryEntry

        with self.engine.connect() as conn:
            rows = conn.execute(select(sent_items).order_by(sent_items.c.id)).all()
        return [
            HistoryEntry(
                key=r.key,
                kind=r.kind,
                title=r.title,
                start=as_aware(r.start),
                location=r.location,
                sent_at=as_aware(r.sent_at),
                draft_id=r.draft_id,
            )
            for r in rows
        ]


# -- delivery tables --
# Subscribers, the per-recipient send log and the send lease of a draft
# (issue 10). Functions using them live in newsletter.deliver (subscribers.py,
# sendlog.py); a subscriber's status changes only through
# newsletter.deliver.subscribers.change_status.

from sqlalchemy import ForeignKey, UniqueConstraint  # noqa: E402

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    # lower-cased address: the unique key (mailbox providers compare case-insensitively)
    Column("email_key", String(320), nullable=False, unique=True),
    Column("name", Text),
    Column("status", String(16), nullable=False),  # active, unsubscribed, bounced, complained
    Column("consent_source", Text),
    Column("consent_at", DateTime(timezone=True)),
    Column("lists", Text),  # comma-separated list/segment names, or NULL
    Column("bounce_count", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

subscriber_events = Table(
    "subscriber_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id"), nullable=False, index=True),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200)),
    Column("note", Text),
)

# One row per draft being (or having been) sent: the lease that keeps two live
# senders apart (holder + expiry, taken and renewed by compare-and-set) and
# when the recipients were snapshotted into send_log.
send_runs = Table(
    "send_runs",
    metadata,
    Column("draft_id", String(64), primary_key=True),
    Column("holder", String(200)),
    Column("lease_expires_at", DateTime(timezone=True)),
    Column("lease_version", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("snapshot_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)

# The per-recipient send log: queued -> sending -> sent | failed | deferred |
# skipped; a row found in "sending" by the next sender was in flight when the
# previous one died: it becomes "uncertain" and is only mailed again on request.
send_log = Table(
    "send_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", String(64), nullable=False, index=True),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id")),  # NULL: a list address (NEWSLETTER_MAIL_TO)
    Column("email", String(320), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("message_id", String(300)),
    Column("error", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("draft_id", "email", name="uq_send_log_draft_email"),
)

# SQLite: write-ahead log and synchronous=NORMAL, so that the send log's
# commit around each message costs microseconds instead of an fsync (a commit
# survives the process being killed; only an OS crash may lose the last ones).
# Readers (the review page, the unsubscribe page) no longer wait for a sender.
from sqlalchemy import event as _event  # noqa: E402


@_event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # pragma: no cover - trivial
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
        except sqlite3.DatabaseError:
            pass  # e.g. an in-memory database
        finally:
            cursor.close()
# -- checks tables --
# Pre-send checks (newsletter.outbox.checks) and approvals (newsletter.outbox.drafts).
# Tables only: the queries live next to the code that uses them.

check_cache = Table(
    "check_cache",
    metadata,
    # kind "link": key = URL; kind "spam": key = sha256 of the rendered message parts
    Column("kind", String(16), primary_key=True),
    Column("key", String(2048), primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("data_json", Text, nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
)

draft_checks = Table(
    "draft_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", String(64), nullable=False, index=True),
    Column("stage", String(16), nullable=False),  # "check", "approval" or "send"
    Column("ok", Boolean, nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("report_json", Text, nullable=False),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", String(64), nullable=False, index=True),
    Column("approved_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200)),
    Column("comment", Text),
    Column("override_reason", Text),
    Column("subject", Text, nullable=False),
    Column("hashes_json", Text, nullable=False),  # file name -> sha256 of every file that leaves
    Column("fields_json", Text, nullable=False),  # manifest fields the delivery reads (subject, unsubscribe…)
    Column("checks_json", Text),  # the checks report the approval was given on
)


# -- operations tables --

leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


def acquire_lease(store: Store, name: str, holder: str, seconds: float, *, stale=None) -> str | None:
    """Take the lease ``name`` for ``seconds``; None if it is taken, else the holder.

    A lease past its expiry is taken over, and so is one whose holder
    ``stale(holder)`` says is gone (a process that died). One INSERT against
    the primary key decides between two contenders: exactly one wins.
    """
    from datetime import timedelta

    now = utcnow()
    with store.engine.begin() as conn:
        row = conn.execute(select(leases).where(leases.c.name == name)).first()
        if row is not None:
            expired = as_aware(row.expires_at) <= now
            if row.holder != holder and not expired and not (stale and stale(row.holder)):
                return None
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == row.holder))
    try:
        with store.engine.begin() as conn:
            conn.execute(
                insert(leases).values(
                    name=name, holder=holder, acquired_at=now, expires_at=now + timedelta(seconds=seconds)
                )
            )
    except (IntegrityError, DBAPIError):
        return None
    return holder


def lease_holder(store: Store, name: str) -> tuple[str, datetime] | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(leases).where(leases.c.name == name)).first()
    return None if row is None else (row.holder, as_aware(row.expires_at))


def release_lease(store: Store, name: str, holder: str) -> bool:
    with store.engine.begin() as conn:
        res = conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))
    return res.rowcount == 1


# -- web tables --

# The review web app's accounts (newsletter.web.auth): one row per editor,
# password hashed with argon2id (NULL: the account logs in by one-time link only).
users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("email", String(320)),
    Column("password_hash", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One-time login links printed by `newsletter serve` on 127.0.0.1 (SHA-256 of the token).
login_tokens = Table(
    "login_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

# Failed logins per (user name, client address): growing lockout window.
login_failures = Table(
    "login_failures",
    metadata,
    Column("user_name", String(64), primary_key=True),
    Column("client", String(64), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),
)

# Secrets the web app generates once and keeps (the session signing key).
web_secrets = Table(
    "web_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


# -- curation tables --

category_corrections = Table(
    "category_corrections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False, index=True),
    Column("source", Text),
    Column("outlet", Text),
    Column("series_key", Text, index=True),
    Column("title", Text),
    Column("summary", Text),
    Column("category", String(100), nullable=False),
    Column("actor", String(200)),
    Column("at", DateTime(timezone=True), nullable=False),
)
