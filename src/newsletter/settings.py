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
    # -- delivery (issue 10) --
    public_url: str | None = None
    secret_key: str | None = None
    list_id: str | None = None
    unsubscribe_mailto: str | None = None
    unsubscribe_max_age_days: int = 730
    smtp_security: str | None = None
    smtp_ca_file: str | None = None
    smtp_timeout: float = 30.0
    smtp_connections: int = 1
    send_rate: float = 0.0
    send_hourly_limit: int = 0
    send_retries: int = 3
    send_backoff: float = 2.0
    bounce_threshold: int = 2
    send_lease_seconds: float = 120.0
    dkim_key_file: str | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    # -- pre-send checks (newsletter.outbox.checks) --
    link_timeout: float = 10.0  # seconds per link (connect and read)
    link_cache_hours: float = 6.0  # a link that answered is not fetched again for this long
    spamassassin: str = "spamassassin"  # command; the spam check is skipped when it is not installed
    spam_threshold: float = 5.0  # SpamAssassin's own default "required" score
    home: Path = field(default_factory=Path.cwd)  # NEWSLETTER_HOME
    sources: Path | None = None  # default sources file (NEWSLETTER_SOURCES, else the home's, else IREV's)
    # -- operations --
    operator_email: str | None = None  # NEWSLETTER_OPERATOR_EMAIL: told when a run fails
    prefect_api_url: str | None = None  # PREFECT_API_URL: approving then triggers the deliver deployment

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
            delivery_numbers = dict(
                unsubscribe_max_age_days=int(env.get("NEWSLETTER_UNSUBSCRIBE_MAX_AGE_DAYS") or 730),
                smtp_timeout=float(env.get("NEWSLETTER_SMTP_TIMEOUT") or 30),
                smtp_connections=max(1, int(env.get("NEWSLETTER_SMTP_CONNECTIONS") or 1)),
                send_rate=float(env.get("NEWSLETTER_SEND_RATE") or 0),
                send_hourly_limit=int(env.get("NEWSLETTER_SEND_HOURLY_LIMIT") or 0),
                send_retries=max(1, int(env.get("NEWSLETTER_SEND_RETRIES") or 3)),
                send_backoff=float(env.get("NEWSLETTER_SEND_BACKOFF") or 2),
                bounce_threshold=max(1, int(env.get("NEWSLETTER_BOUNCE_THRESHOLD") or 2)),
                send_lease_seconds=float(env.get("NEWSLETTER_SEND_LEASE_SECONDS") or 120),
            )
            link_timeout = float(env.get("NEWSLETTER_LINK_TIMEOUT") or 10)
            link_cache_hours = float(env.get("NEWSLETTER_LINK_CACHE_HOURS") or 6)
            spam_threshold = float(env.get("NEWSLETTER_SPAM_THRESHOLD") or 5)
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
            mail_to=[a.strip() for a in (env.get("NEWSLETTER_MAIL_TO") or "").split(",") if a.strip()],
            max_workers=max_workers,
            failure_threshold=failure_threshold,
            archive=Path(env.get("NEWSLETTER_ARCHIVE") or home / ARCHIVE_DIR),
            unsubscribe_url=env.get("NEWSLETTER_UNSUBSCRIBE_URL") or None,
            public_url=env.get("NEWSLETTER_PUBLIC_URL") or None,
            secret_key=env.get("NEWSLETTER_SECRET_KEY") or None,
            list_id=env.get("NEWSLETTER_LIST_ID") or None,
            unsubscribe_mailto=env.get("NEWSLETTER_UNSUBSCRIBE_MAILTO") or None,
            smtp_security=(env.get("NEWSLETTER_SMTP_SECURITY") or "").strip().lower() or None,
            smtp_ca_file=env.get("NEWSLETTER_SMTP_CA_FILE") or None,
            dkim_key_file=env.get("NEWSLETTER_DKIM_KEY_FILE") or None,
            dkim_selector=env.get("NEWSLETTER_DKIM_SELECTOR") or None,
            dkim_domain=env.get("NEWSLETTER_DKIM_DOMAIN") or None,
            **delivery_numbers,
            link_timeout=link_timeout,
            link_cache_hours=link_cache_hours,
            spamassassin=env.get("NEWSLETTER_SPAMASSASSIN") or "spamassassin",
            spam_threshold=spam_threshold,
            home=home,
            sources=Path(env.get("NEWSLETTER_SOURCES") or config_path(SOURCES_FILE, home)),
            operator_email=env.get("NEWSLETTER_OPERATOR_EMAIL") or None,
            prefect_api_url=(env.get("PREFECT_API_URL") or "").rstrip("/") or None,
        )
