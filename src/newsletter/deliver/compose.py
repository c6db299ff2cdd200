"""One message per subscriber, from a body rendered and encoded once.

:class:`MessageTemplate` builds the MIME message (``multipart/alternative``,
text and HTML, quoted-printable, UTF-8 headers) once, with the email package,
the personal unsubscribe link standing as a random marker of exactly the
length of a real token. It then cuts the encoded bytes at the marker (a soft
line break of quoted-printable may fall inside it) so that a subscriber's
message is a ``bytes.join`` of constant pieces and slices of their token:
lines keep their length, nothing is re-encoded. Only the few header lines
that differ (``To``, ``Date``, ``Message-ID``, ``List-Unsubscribe``) are
written per message.

Two byte forms can come out, each joined only when a transport asks for
it: the message itself (for files and DKIM) and the same, dot-stuffed and
terminated for the SMTP DATA phase (RFC 5321 4.5.2), so the SMTP transport
writes it in one call.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr, format_datetime, parseaddr
from html import escape as html_escape
from pathlib import Path
from urllib.parse import quote

from newsletter.errors import UserError
from newsletter.deliver.tokens import UNSUBSCRIBE_PATH

PLACEHOLDER = "{{unsubscribe_url}}"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOT_LINE = re.compile(rb"(?m)^\.")


class ComposeError(UserError):
    pass


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None = None
    subscriber_id: int | None = None
    token: str | None = None  # personal unsubscribe token; None for a list address


class RenderedMessage:
    """One subscriber's message; each byte form is joined only when asked for.

    ``data``: the message, CRLF line ends (files, DKIM). ``smtp_data``: the
    DATA payload, dot-stuffed (RFC 5321 4.5.2) and ending with the
    ``<CRLF>.<CRLF>`` terminator, for the SMTP transport to write as is.
    """

    __slots__ = ("message_id", "_head", "_template", "_token", "_data", "_smtp_data")

    def __init__(self, message_id: str, head: bytes, template: "MessageTemplate", token: bytes | None,
                 data: bytes | None = None):
        self.message_id, self._head, self._template, self._token = message_id, head, template, token
        self._data, self._smtp_data = data, None

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = self._head + self._template._join(self._token, stuffed=False)
        return self._data

    @property
    def smtp_data(self) -> bytes:
        if self._smtp_data is None:
            if self._template.dkim is not None:  # signed: the whole message is stuffed
                self._smtp_data = _terminate(_DOT_LINE.sub(b"..", self.data))
            else:
                self._smtp_data = self._head + self._template._join(self._token, stuffed=True)
        return self._smtp_data


def _terminate(data: bytes) -> bytes:
    return data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n")


class DKIMSigner:
    """DKIM signature (dkimpy) over the headers that matter, List-Unsubscribe(-Post) included."""

    HEADERS = (
        b"From", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version", b"Content-Type",
        b"List-Id", b"List-Unsubscribe", b"List-Unsubscribe-Post",
    )

    def __init__(self, *, selector: str, domain: str, private_key: bytes):
        import dkim

        self._dkim = dkim
        self.selector, self.domain, self.key = selector.encode(), domain.encode(), private_key

    @classmethod
    def from_file(cls, path: Path, *, selector: str, domain: str) -> "DKIMSigner":
        try:
            key = Path(path).read_bytes()
        except OSError as exc:
            raise ComposeError(f"clé DKIM {path} illisible : {exc.strerror or exc}") from None
        if b"PRIVATE KEY" not in key:
            raise ComposeError(f"clé DKIM {path} : ce n'est pas une clé privée PEM")
        return cls(selector=selector, domain=domain, private_key=key)

    def sign(self, message: bytes) -> bytes:
        return self._dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(self.HEADERS),
            linesep=b"\r\n",
        )


def _compile(body: bytes, marker: bytes) -> list:
    """Cut ``body`` at every ``marker`` (soft line breaks allowed inside it)."""
    pattern = re.compile(b"(?:=\r\n)?".join(re.escape(bytes([c])) for c in marker))
    parts: list = []
    pos = 0
    for m in pattern.finditer(body):
        parts.append(body[pos:m.start()])
        offset = 0
        for k, piece in enumerate(m.group(0).split(b"=\r\n")):
            if k:
                parts.append(b"=\r\n")
            line_start = k > 0 or m.start() == 0 or body[m.start() - 1:m.start()] == b"\n"
            parts.append((offset, offset + len(piece), line_start))
            offset += len(piece)
        pos = m.end()
    parts.append(body[pos:])
    return [p for p in parts if p != b""]


def _domain(address: str) -> str:
    addr = parseaddr(address)[1]
    return addr.rsplit("@", 1)[-1] if "@" in addr else "localhost"


class MessageTemplate:
    def __init__(
        self,
        *,
        subject: str,
        sender: str,
        text: str,
        html: str,
        draft_id: str,
        list_id: str,
        unsubscribe_mailto: str | None,
        public_url: str | None = None,
        token_length: int | None = None,
        list_unsubscribe_url: str | None = None,
        placeholder: str = PLACEHOLDER,
        dkim: DKIMSigner | None = None,
    ):
        """``public_url`` + ``token_length``: personal links (subscribers).

        Without them (a mailing-service list address) the placeholder is
        replaced by ``list_unsubscribe_url`` when given, else left for the
        service to fill in.
        """
        self.personal = bool(public_url and token_length)
        self.draft_id = draft_id
        self.domain = _domain(sender)
        self.dkim = dkim
        self.mailto = None
        if unsubscribe_mailto:
            self.mailto = f"mailto:{parseaddr(unsubscribe_mailto)[1]}?subject={quote('Désabonnement')}"
        if self.personal:
            self.prefix = public_url.rstrip("/") + UNSUBSCRIBE_PATH
            alphabet = string.ascii_letters + string.digits
            self.marker = "".join(secrets.choice(alphabet) for _ in range(token_length))
            text = text.replace(placeholder, self.prefix + self.marker)
            html = html.replace(placeholder, html_escape(self.prefix) + self.marker)
        elif list_unsubscribe_url:
            text = text.replace(placeholder, list_unsubscribe_url)
            html = html.replace(placeholder, html_escape(list_unsubscribe_url))
        self.list_unsubscribe_url = list_unsubscribe_url

        msg = EmailMessage(policy=SMTP_POLICY)
        msg["From"] = sender
        msg["Subject"] = subject
        msg["List-Id"] = list_id
        msg.set_content(text, cte="quoted-printable")
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
        raw = msg.as_bytes(policy=SMTP_POLICY)
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep:
            raise ComposeError("message mal formé")
        self.head = head + b"\r\n"
        self.body = b"\r\n" + body
        self.body_stuffed = _DOT_LINE.sub(b"..", self.body)
        if self.personal:
            marker = self.marker.encode("ascii")
            self.parts = _compile(self.body, marker)
            self.parts_stuffed = _compile(_terminate(self.body_stuffed), marker)
        else:
            self.parts = [self.body]
            self.parts_stuffed = [_terminate(self.body_stuffed)]
        self._date_second = -1
        self._date = ""

    def _date_header(self) -> str:
        now = int(time.time())
        if now != self._date_second:
            from datetime import datetime, timezone

            self._date_second = now
            self._date = format_datetime(datetime.fromtimestamp(now, timezone.utc))
        return self._date

    def message_id(self, recipient: Recipient) -> str:
        ident = recipient.subscriber_id if recipient.subscriber_id is not None else "l"
        return f"<{self.draft_id}.{ident}.{secrets.token_hex(6)}@{self.domain}>"

    def render(self, recipient: Recipient, message_id: str | None = None) -> RenderedMessage:
        message_id = message_id or self.message_id(recipient)
        name = _CONTROL.sub(" ", recipient.name).strip() if recipient.name else ""
        to = formataddr((name, recipient.email), charset="utf-8") if name else recipient.email
        links = []
        token = recipient.token
        if self.personal:
            if token is None or len(token) != len(self.marker):
                raise ComposeError(f"{recipient.email} : jeton de désabonnement manquant ou de mauvaise longueur")
            links.append(f"<{self.prefix}{token}>")
        elif self.list_unsubscribe_url:
            links.append(f"<{self.list_unsubscribe_url}>")
        if self.mailto:
            links.append(f"<{self.mailto}>")
        lines = [f"To: {to}", f"Date: {self._date_header()}", f"Message-ID: {message_id}"]
        if links:
            lines.append("List-Unsubscribe: " + ",\r\n ".join(links))
            if links[0].startswith("<http"):
                lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        head = ("\r\n".join(lines) + "\r\n").encode("utf-8") + self.head
        tok = token.encode("ascii") if self.personal else None
        if self.dkim is not None:
            data = head + self._join(tok, stuffed=False)
            return RenderedMessage(message_id, head, self, tok, self.dkim.sign(data) + data)
        return RenderedMessage(message_id, head, self, tok)

    def _join(self, tok: bytes | None, *, stuffed: bool) -> bytes:
        """The body with ``tok`` in place of the marker; ``stuffed``: the SMTP DATA form."""
        if not self.personal:
            return self.parts_stuffed[0] if stuffed else self.parts[0]
        if not stuffed:
            return b"".join(p if p.__class__ is bytes else tok[p[0]:p[1]] for p in self.parts)
        # a token piece starting a line gets its own dot-stuffing (tokens may contain ".")
        return b"".join(
            p if p.__class__ is bytes
            else (b"." if p[2] and tok[p[0]:p[0] + 1] == b"." else b"") + tok[p[0]:p[1]]
            for p in self.parts_stuffed
        )
