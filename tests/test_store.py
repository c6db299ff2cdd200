"""The database: created and upgraded by Alembic migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, inspect, text

from newsletter.store import (
    Store,
    acquire_lease,
    alembic_config,
    lease_holder,
    metadata,
    release_lease,
)

# The schema as the project created it before migrations (metadata.create_all
# of revision 0001), in raw SQL, so that this test keeps describing the old
# database even when store.py changes.
OLD_SCHEMA = [
    """CREATE TABLE source_state (name VARCHAR(300) PRIMARY KEY, etag TEXT, last_modified TEXT,
       consecutive_failures INTEGER NOT NULL, last_error TEXT, last_success_at TIMESTAMP WITH TIME ZONE,
       items_json TEXT)""",
    """CREATE TABLE drafts (id VARCHAR(64) PRIMARY KEY, status VARCHAR(16) NOT NULL, month VARCHAR(7) NOT NULL,
       created_at TIMESTAMP WITH TIME ZONE NOT NULL, updated_at TIMESTAMP WITH TIME ZONE NOT NULL)""",
    """CREATE TABLE draft_events (id {serial} PRIMARY KEY, draft_id VARCHAR(64) NOT NULL,
       from_status VARCHAR(16), to_status VARCHAR(16) NOT NULL, at TIMESTAMP WITH TIME ZONE NOT NULL,
       actor VARCHAR(200), note TEXT)""",
    "CREATE INDEX ix_draft_events_draft_id ON draft_events (draft_id)",
    """CREATE TABLE sent_items (id {serial} PRIMARY KEY, key TEXT NOT NULL, kind VARCHAR(16) NOT NULL,
       title TEXT NOT NULL, start TIMESTAMP WITH TIME ZONE, location TEXT,
       sent_at TIMESTAMP WITH TIME ZONE NOT NULL, draft_id VARCHAR(64) NOT NULL)""",
    "CREATE INDEX ix_sent_items_key ON sent_items (key)",
]

OLD_DATA = [
    "INSERT INTO source_state (name, etag, consecutive_failures, last_error) VALUES ('CGET', '\"abc\"', 2, 'timeout')",
    "INSERT INTO drafts VALUES ('2025-11-x', 'sent', '2025-11', '2025-11-01 08:00:00+00', '2025-11-03 09:00:00+00')",
    """INSERT INTO draft_events (draft_id, from_status, to_status, at, actor, note)
       VALUES ('2025-11-x', 'sending', 'sent', '2025-11-03 09:00:00+00', 'marie', 'smtp')""",
    """INSERT INTO sent_items (key, kind, title, sent_at, draft_id)
       VALUES ('url:https://www.irev.fr/a', 'news', 'Quartiers 2030', '2025-11-03 09:00:00+00', '2025-11-x')""",
]


def _old_database(url: str) -> None:
    engine = create_engine(url)
    serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as conn:
        for sql in OLD_SCHEMA + OLD_DATA:
            conn.execute(text(sql.format(serial=serial)))
    engine.dispose()


def test_migrated_schema_is_exactly_the_code_s_metadata(database_url):
    """A table or column added to store.py without a migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = Store(database_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == [], f"store.py's tables differ from the migrations: add a migration under src/newsletter/migrations/versions/: {diff}"


def test_a_database_of_the_previous_schema_is_upgraded_and_keeps_its_data(database_url):
    from alembic.script import ScriptDirectory

    _old_database(database_url)
    store = Store(database_url)

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
        assert {"leases"} <= set(inspect(conn).get_table_names())
    state = store.get("CGET")
    assert state.etag == '"abc"' and state.consecutive_failures == 2
    assert store.draft_status("2025-11-x") == "sent"
    assert [e["actor"] for e in store.draft_events("2025-11-x")] == ["marie"]
    (entry,) = store.history()
    assert entry.title == "Quartiers 2030" and entry.draft_id == "2025-11-x"
    # and new rows still get ids after the old ones
    store.add_draft("2025-12-y", "2025-12", "pending")
    assert [e["to"] for e in store.draft_events("2025-12-y")] == ["pending"]


def test_opening_twice_and_concurrently_never_recreates(database_url):
    Store(database_url).add_draft("d1", "2025-12", "pending")
    errors = []

    def open_store():
        try:
            Store(database_url)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Store(database_url).draft_status("d1") == "pending"


def test_one_holder_at_a_time_for_a_lease(database_url):
    store = Store(database_url)
    assert acquire_lease(store, "collect:2025-12", "worker-a", 60) == "worker-a"
    assert acquire_lease(store, "collect:2025-12", "worker-b", 60) is None
    assert lease_holder(store, "collect:2025-12")[0] == "worker-a"
    # a holder that died is taken over at once; another month is independent
    assert acquire_lease(store, "collect:2025-12", "worker-b", 60, stale=lambda h: h == "worker-a") == "worker-b"
    assert acquire_lease(store, "collect:2026-01", "worker-a", 60) == "worker-a"
    assert not release_lease(store, "collect:2025-12", "worker-a")
    assert release_lease(store, "collect:2025-12", "worker-b")
    assert acquire_lease(store, "collect:2025-12", "worker-c", 60) == "worker-c"


def test_an_expired_lease_is_taken_over(database_url):
    store = Store(database_url)
    assert acquire_lease(store, "collect:2025-12", "worker-a", -1) == "worker-a"  # already expired
    assert acquire_lease(store, "collect:2025-12", "worker-b", 60) == "worker-b"
    holder, until = lease_holder(store, "collect:2025-12")
    assert holder == "worker-b" and until > datetime.now(timezone.utc) + timedelta(seconds=30)


def test_racing_contenders_get_exactly_one_lease(database_url):
    store = Store(database_url)
    won = []
    barrier = threading.Barrier(6)

    def contend(i):
        barrier.wait()
        if acquire_lease(store, "collect:2025-12", f"w{i}", 60):
            won.append(i)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
