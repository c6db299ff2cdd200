"""Settings read from the environment (documented in README.md, "Settings")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB_FILE = "newsletter.sqlite"


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
    web_url: str | None = None  # public address of the review app (https: secure cookies)
    secret_key: str | None = None  # signs sessions and CSRF tokens (default: generated, kept in the database)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        outbox = Path(env.get("NEWSLETTER_OUTBOX") or "outbox")
        database_url = env.get("NEWSLETTER_DATABASE_URL") or f"sqlite:///{outbox / DEFAULT_DB_FILE}"
        transport = (env.get("NEWSLETTER_TRANSPORT") or "file").strip().lower()
        if transport not in ("file", "smtp"):
            raise ValueError(f"NEWSLETTER_TRANSPORT={transport!r}: expected 'file' or 'smtp'")
        try:
            smtp_port = int(env.get("NEWSLETTER_SMTP_PORT") or 25)
            max_workers = int(env.get("NEWSLETTER_MAX_WORKERS") or 16)
            failure_threshold = int(env.get("NEWSLETTER_FAILURE_THRESHOLD") or 3)
        except ValueError as exc:
            raise ValueError(f"invalid number in NEWSLETTER_* settings: {exc}") from None
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
            archive=Path(env.get("NEWSLETTER_ARCHIVE") or "archive"),
            unsubscribe_url=env.get("NEWSLETTER_UNSUBSCRIBE_URL") or None,
            web_url=env.get("NEWSLETTER_WEB_URL") or None,
            secret_key=env.get("NEWSLETTER_SECRET_KEY") or None,
        )
