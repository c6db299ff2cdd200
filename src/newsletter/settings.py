"""Settings read from the environment (documented in README.md, "Settings").

Every default path derives from the centre's home, ``NEWSLETTER_HOME``
(default: the working directory; see :mod:`newsletter.home`): the outbox, the
archive, the database and the sources file. ``NEWSLETTER_OUTBOX``,
``NEWSLETTER_ARCHIVE``, ``NEWSLETTER_DATABASE_URL`` and ``NEWSLETTER_SOURCES``
still override them one by one (relative paths: relative to the working directory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.errors import UserError
from newsletter.home import ARCHIVE_DIR, DB_FILE, OUTBOX_DIR, SOURCES_FILE, config_path, home_dir

DEFAULT_DB_FILE = DB_FILE


class SettingsError(UserError, ValueError):
    """A NEWSLETTER_* variable has an unusable value; the message names it."""


def _default_database(home: Path, outbox: Path) -> Path:
    """``<home>/newsletter.sqlite``; a database left by an older version in the outbox is kept in use."""
    db = home / DEFAULT_DB_FILE
    legacy = outbox / DEFAULT_DB_FILE
    return legacy if not db.exists() and legacy.is_file() else db


@dataclass(frozen=True)
class Settings:
    outbox: Path
    database_url: str
    transport: str  # "file" or "smtp"
    mail_dir: Path  # where the file transport writes .eml files
    smtp_host: str
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_starttls: bool
    mail_from: str
    mail_to: list[str]
    max_workers: int
    failure_threshold: int
    archive: Path
    unsubscribe_url: str | None
    home: Path = field(default_factory=Path.cwd)  # NEWSLETTER_HOME
    sources: Path | None = None  # default sources file (NEWSLETTER_SOURCES, else the home's, else IREV's)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        home = home_dir({"NEWSLETTER_HOME": env.get("NEWSLETTER_HOME") or ""})
        outbox = Path(env.get("NEWSLETTER_OUTBOX") or home / OUTBOX_DIR)
        database_url = env.get("NEWSLETTER_DATABASE_URL") or f"sqlite:///{_default_database(home, outbox)}"
        transport = (env.get("NEWSLETTER_TRANSPORT") or "file").strip().lower()
        if transport not in ("file", "smtp"):
            raise SettingsError(f"NEWSLETTER_TRANSPORT={transport!r}: expected 'file' or 'smtp'")
        try:
            smtp_port = int(env.get("NEWSLETTER_SMTP_PORT") or 25)
            max_workers = int(env.get("NEWSLETTER_MAX_WORKERS") or 16)
            failure_threshold = int(env.get("NEWSLETTER_FAILURE_THRESHOLD") or 3)
        except ValueError as exc:
            raise SettingsError(f"invalid number in NEWSLETTER_* settings: {exc}") from None
        return cls(
            outbox=outbox,
            database_url=database_url,
            transport=transport,
            mail_dir=Path(env.get("NEWSLETTER_MAIL_DIR") or outbox / "sent-mail"),
            smtp_host=env.get("NEWSLETTER_SMTP_HOST") or "localhost",
            smtp_port=smtp_port,
            smtp_user=env.get("NEWSLETTER_SMTP_USER") or None,
            smtp_password=env.get("NEWSLETTER_SMTP_PASSWORD") or None,
            smtp_starttls=(env.get("NEWSLETTER_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
            mail_from=env.get("NEWSLETTER_MAIL_FROM") or "IREV <contact@irev.fr>",
            mail_to=[a.strip() for a in (env.get("NEWSLETTER_MAIL_TO") or "abonnes@example.org").split(",") if a.strip()],
            max_workers=max_workers,
            failure_threshold=failure_threshold,
            archive=Path(env.get("NEWSLETTER_ARCHIVE") or home / ARCHIVE_DIR),
            unsubscribe_url=env.get("NEWSLETTER_UNSUBSCRIBE_URL") or None,
            home=home,
            sources=Path(env.get("NEWSLETTER_SOURCES") or config_path(SOURCES_FILE, home)),
        )
