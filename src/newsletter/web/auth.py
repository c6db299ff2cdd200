"""Editors' accounts for the review app: argon2 passwords, one-time login links, slowed-down failures.

Accounts live in the home's database (table ``users``), managed with
``newsletter users add|list|remove``. Passwords are hashed with argon2id
(argon2-cffi's defaults, RFC 9106 low-memory profile); a hash made with older
parameters is replaced at the next successful login.

Failed logins are counted per (user name, client address) in the database
(table ``login_failures``), not in memory: the count survives a restart of
``newsletter serve`` and is shared by several workers. The first
:data:`FREE_ATTEMPTS` failures cost nothing more than the argon2 hash; each
further one locks that pair for a window that doubles (30 s, 1 min, 2 min…,
at most 15 min). A successful login clears the count. Keying on the pair
means that someone guessing from another address cannot lock the officer
out of her own machine.

One-time login links (``newsletter serve`` on 127.0.0.1, as Jupyter does):
a random token, stored as its SHA-256, valid once and for a few minutes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from newsletter.errors import UserError
from newsletter.store import Store, as_aware, login_failures, login_tokens, users, utcnow, web_secrets

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
MIN_PASSWORD = 10
FREE_ATTEMPTS = 5
FIRST_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(minutes=15)
LOGIN_LINK_TTL = timedelta(minutes=5)

_hasher = PasswordHasher()
# Verified when the user does not exist, so that a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(UserError):
    """A bad account operation (unknown name, weak password…); French message."""


@dataclass(frozen=True)
class User:
    name: str
    email: str | None
    has_password: bool
    created_at: datetime | None = None


def _user(row) -> User:
    return User(name=row.name, email=row.email, has_password=bool(row.password_hash), created_at=as_aware(row.created_at))


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise AccountError(
            f"nom de compte invalide : {name!r} (lettres, chiffres, « . », « _ », « - » ; 64 caractères au plus)"
        )
    return name


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"mot de passe trop court : {MIN_PASSWORD} caractères au moins")
    return password


def check_email(email: str | None) -> str | None:
    if email is None or email == "":
        return None
    email = email.strip()
    if not EMAIL_RE.match(email):
        raise AccountError(f"adresse e-mail invalide : {email!r}")
    return email


def add_user(store: Store, name: str, password: str | None, email: str | None = None) -> User:
    """Create an account. ``password`` None: the account can only log in through a one-time link."""
    check_name(name)
    email = check_email(email)
    password_hash = _hasher.hash(check_password(password)) if password is not None else None
    try:
        with store.engine.begin() as conn:
            conn.execute(
                insert(users).values(name=name, email=email, password_hash=password_hash, created_at=utcnow())
            )
    except IntegrityError:
        raise AccountError(
            f"le compte « {name} » existe déjà (pour le refaire : newsletter users remove {name}, puis add)"
        ) from None
    return User(name=name, email=email, has_password=password_hash is not None)


def get_user(store: Store, name: str) -> User | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    return _user(row) if row else None


def list_users(store: Store) -> list[User]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(users).order_by(users.c.name)).all()
    return [_user(r) for r in rows]


def remove_user(store: Store, name: str) -> None:
    with store.engine.begin() as conn:
        res = conn.execute(delete(users).where(users.c.name == name))
        conn.execute(delete(login_tokens).where(login_tokens.c.user_name == name))
    if res.rowcount == 0:
        raise AccountError(f"compte « {name} » inconnu")


# -- password login, slowed down after failures ----------------------------------


class LoginLocked(AccountError):
    def __init__(self, seconds: int):
        minutes = max(1, round(seconds / 60))
        when = f"{seconds} secondes" if seconds < 90 else f"{minutes} minutes"
        super().__init__(
            f"Trop de tentatives de connexion manquées : réessayez dans {when}."
        )
        self.seconds = seconds


def _lock_for(failures: int) -> timedelta | None:
    if failures < FREE_ATTEMPTS:
        return None
    return min(MAX_LOCK, FIRST_LOCK * (2 ** (failures - FREE_ATTEMPTS)))


def locked_for(store: Store, name: str, client: str) -> int:
    """Seconds before (name, client) may try again; 0 when it may now."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(login_failures).where(login_failures.c.user_name == name[:64], login_failures.c.client == client[:64])
        ).first()
    if row is None or row.locked_until is None:
        return 0
    remaining = (as_aware(row.locked_until) - utcnow()).total_seconds()
    return max(0, int(remaining + 0.999))


def _record_failure(store: Store, name: str, client: str) -> None:
    name, client = name[:64], client[:64]
    now = utcnow()
    with store.engine.begin() as conn:
        row = conn.execute(
            select(login_failures).where(login_failures.c.user_name == name, login_failures.c.client == client)
        ).first()
        failures = (row.failures if row else 0) + 1
        lock = _lock_for(failures)
        values = {"failures": failures, "last_at": now, "locked_until": now + lock if lock else None}
        if row is None:
            try:
                conn.execute(insert(login_failures).values(user_name=name, client=client, **values))
            except IntegrityError:  # a concurrent failure inserted it first
                pass
        else:
            conn.execute(
                update(login_failures)
                .where(login_failures.c.user_name == name, login_failures.c.client == client)
                .values(**values)
            )


def _clear_failures(store: Store, name: str, client: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            delete(login_failures).where(login_failures.c.user_name == name[:64], login_failures.c.client == client[:64])
        )


def authenticate(store: Store, name: str, password: str, client: str) -> User | None:
    """The user when ``password`` is theirs; None otherwise. Raises :class:`LoginLocked` while locked."""
    name = (name or "").strip()
    wait = locked_for(store, name, client)
    if wait:
        raise LoginLocked(wait)
    with store.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    stored = row.password_hash if row is not None and row.password_hash else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password or "")
        ok = stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        _record_failure(store, name, client)
        return None
    _clear_failures(store, name, client)
    if _hasher.check_needs_rehash(stored):
        with store.engine.begin() as conn:
            conn.execute(update(users).where(users.c.name == name).values(password_hash=_hasher.hash(password)))
    return _user(row)


# -- one-time login links ---------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_login_token(store: Store, name: str, ttl: timedelta = LOGIN_LINK_TTL) -> str:
    if get_user(store, name) is None:
        raise AccountError(f"compte « {name} » inconnu")
    token = secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        conn.execute(delete(login_tokens).where(login_tokens.c.expires_at < utcnow()))
        conn.execute(insert(login_tokens).values(token_hash=_token_hash(token), user_name=name, expires_at=utcnow() + ttl))
    return token


def consume_login_token(store: Store, token: str) -> User | None:
    """The token's user, once: a used, expired or unknown token gives None."""
    if not token or len(token) > 200:
        return None
    digest = _token_hash(token)
    now = utcnow()
    with store.engine.begin() as conn:
        res = conn.execute(
            update(login_tokens)
            .where(login_tokens.c.token_hash == digest, login_tokens.c.used_at.is_(None),
                   login_tokens.c.expires_at > now)
            .values(used_at=now)
        )
        if res.rowcount != 1:
            return None
        name = conn.execute(select(login_tokens.c.user_name).where(login_tokens.c.token_hash == digest)).scalar()
    return get_user(store, name) if name else None


# -- the signing key ---------------------------------------------------------------


def secret_key(store: Store, configured: str | None = None) -> str:
    """``NEWSLETTER_SECRET_KEY`` when set; else a key generated once and kept in the database."""
    if configured:
        return configured
    with store.engine.begin() as conn:
        value = conn.execute(select(web_secrets.c.value).where(web_secrets.c.name == "session")).scalar()
        if value:
            return value
        value = secrets.token_urlsafe(48)
        try:
            conn.execute(insert(web_secrets).values(name="session", value=value))
        except IntegrityError:
            pass
    with store.engine.connect() as conn:
        return conn.execute(select(web_secrets.c.value).where(web_secrets.c.name == "session")).scalar()
