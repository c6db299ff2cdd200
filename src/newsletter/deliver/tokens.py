"""Signed personal unsubscribe tokens (itsdangerous, HMAC-SHA256 with NEWSLETTER_SECRET_KEY).

The payload is the subscriber's id, zero-padded, and 8 hex digits of a
hash of their address, so a token keeps its length for every subscriber
(the message body is encoded once, and only the token's characters are
substituted per subscriber) and cannot unsubscribe somebody else if ids are
ever reused. The timestamp lets a link expire.
"""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from newsletter.errors import UserError

SALT = "newsletter-unsubscribe"
ID_WIDTH = 12
UNSUBSCRIBE_PATH = "/desabonnement/"


class TokenError(UserError):
    pass


class InvalidToken(TokenError):
    pass


class ExpiredToken(TokenError):
    pass


def _signer(secret_key: str) -> TimestampSigner:
    if not secret_key:
        raise TokenError(
            "NEWSLETTER_SECRET_KEY n'est pas défini : il signe les liens de désabonnement"
            " (générez-en un avec « python -c 'import secrets; print(secrets.token_urlsafe(32))' »)"
        )
    return TimestampSigner(secret_key, salt=SALT, digest_method=hashlib.sha256)


def _address_hash(email: str) -> str:
    return hashlib.sha256(email.lower().encode("utf-8")).hexdigest()[:8]


def make_token(secret_key: str, subscriber_id: int, email: str) -> str:
    payload = f"{subscriber_id:0{ID_WIDTH}d}{_address_hash(email)}"
    return _signer(secret_key).sign(payload).decode("ascii")


def token_length(secret_key: str) -> int:
    return len(make_token(secret_key, 1, "a@example.org"))


def read_token(secret_key: str, token: str, *, max_age_seconds: float | None = None) -> tuple[int, str]:
    """Return (subscriber id, address hash); raise InvalidToken or ExpiredToken."""
    try:
        payload = _signer(secret_key).unsign(token, max_age=max_age_seconds).decode("ascii")
    except SignatureExpired:
        raise ExpiredToken("lien de désabonnement expiré") from None
    except (BadSignature, UnicodeDecodeError, ValueError):
        raise InvalidToken("lien de désabonnement invalide") from None
    if len(payload) != ID_WIDTH + 8 or not payload[:ID_WIDTH].isdigit():
        raise InvalidToken("lien de désabonnement invalide")
    return int(payload[:ID_WIDTH]), payload[ID_WIDTH:]


def matches(address_hash: str, email: str) -> bool:
    return address_hash == _address_hash(email)


def unsubscribe_url(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + UNSUBSCRIBE_PATH + token
