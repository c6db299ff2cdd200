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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError

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


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back even for timezone=True columns.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class Store:
    def __init__(self, url: str):
        self.url = url
        try:
            if url.startswith("sqlite:///"):
                Path(url[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, future=True)
            metadata.create_all(self.engine)
        except (ArgumentError, OperationalError, ImportError) as exc:
            raise StoreError(f"cannot open database {url!r}: {exc}") from None

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
        with self.engine.begin() as conn:
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
        self, draft_id: str, allowed_from: Iterable[str], to: str, *, actor: str, note: str | None = None
    ) -> str | None:
        """Move a draft to ``to`` only if its status is in ``allowed_from``.

        Returns the previous status on success, None when the draft was not in
        an allowed status (nothing changed). One conditional UPDATE, in one
        transaction with its audit event.
        """
        allowed = list(allowed_from)
        now = utcnow()
        with self.engine.begin() as conn:
            current = conn.execute(select(drafts.c.status).where(drafts.c.id == draft_id)).scalar()
            if current is None or current not in allowed:
                return None
            res = conn.execute(
                update(drafts)
                .where(drafts.c.id == draft_id, drafts.c.status == current)
                .values(status=to, updated_at=now)
            )
            if res.rowcount != 1:
                return None
            conn.execute(
                insert(draft_events).values(
                    draft_id=draft_id, from_status=current, to_status=to, at=now, actor=actor, note=note
                )
            )
            return current

    def draft_events(self, draft_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(draft_events).where(draft_events.c.draft_id == draft_id).order_by(draft_events.c.id)
            ).all()
        return [
            {
                "from": r.from_status,
                "to": r.to_status,
                "at": _aware(r.at).isoformat(),
                "actor": r.actor,
                "note": r.note,
            }
            for r in rows
        ]

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
                start=_aware(r.start),
                location=r.location,
                sent_at=_aware(r.sent_at),
                draft_id=r.draft_id,
            )
            for r in rows
        ]


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


def _add_correction(self: Store, row: dict[str, Any]) -> None:
    with self.engine.begin() as conn:
        conn.execute(insert(category_corrections).values(at=utcnow(), **row))


def _corrections(self: Store) -> list[dict[str, Any]]:
    """Every category correction, oldest first (a later one wins)."""
    with self.engine.connect() as conn:
        rows = conn.execute(select(category_corrections).order_by(category_corrections.c.id)).all()
    return [
        {"url": r.url, "source": r.source, "outlet": r.outlet, "series_key": r.series_key, "title": r.title,
         "summary": r.summary, "category": r.category, "actor": r.actor, "at": _aware(r.at).isoformat()}
        for r in rows
    ]


Store.add_correction = _add_correction  # type: ignore[attr-defined]
Store.corrections = _corrections  # type: ignore[attr-defined]
