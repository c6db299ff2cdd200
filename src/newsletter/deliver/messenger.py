"""Transports ("messengers", listmonk's word): file (.eml) and SMTP.

Two calls:

- ``deliver(sender, recipient, message)`` sends one prepared
  :class:`~newsletter.deliver.compose.RenderedMessage` to one recipient over a
  reused connection, and says precisely how it failed:
  :class:`TransientError` (4xx, connection lost before the end of the data:
  safe to retry), :class:`PermanentError` (5xx for this recipient),
  :class:`UncertainError` (connection lost after the end of the data: the
  server may hold the message, so it is not retried silently) and
  :class:`FatalError` (TLS, login, sender refused: stop the whole run);
- ``send(EmailMessage)`` sends one ready message as is (a proof, an
  operator's alert) and returns a short French description of where it went.

SMTP security: STARTTLS or implicit TLS (port 465) with certificate and host
name verification (``ssl.create_default_context()``); a login is refused over
an unencrypted connection except to localhost.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol

from newsletter.errors import UserError
from newsletter.files import atomic_write
from newsletter.settings import Settings

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class DeliveryError(UserError):
    pass


class DeliveryConnectionError(DeliveryError):
    """The server could not be reached or kept dropping the connection (worth retrying the run later)."""


class FatalError(DeliveryError):
    pass


class TransientError(DeliveryError):
    def __init__(self, message: str, *, connection: bool = False):
        super().__init__(message)
        self.connection = connection


class PermanentError(DeliveryError):
    pass


class UncertainError(DeliveryError):
    pass


class Messenger(Protocol):
    name: str

    def send(self, message: EmailMessage) -> str:
        """Deliver ``message`` as is; return a short French description of where it went."""

    def deliver(self, sender: str, recipient: str, message) -> None:
        """Deliver one prepared message to one recipient (raises the errors above)."""

    def clone(self) -> "Messenger":
        """Another messenger with the same settings and its own connection."""

    def close(self) -> None: ...

    def describe(self) -> str: ...


_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


class FileMessenger:
    """Writes each message as an ``.eml`` file (one per recipient, named after the address)."""

    name = "file"

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> str:
        msgid = (message["Message-ID"] or make_msgid()).strip("<>").split("@")[0]
        path = self.directory / f"{msgid}.eml"
        atomic_write(path, message.as_bytes())
        return f"fichier {path}"

    def deliver(self, sender: str, recipient: str, message) -> None:
        try:
            atomic_write(self.directory / f"{_UNSAFE.sub('_', recipient)}.eml", message.data)
        except OSError as exc:
            raise FatalError(f"écriture dans {self.directory} impossible : {exc}") from exc

    def clone(self) -> "FileMessenger":
        return self

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"fichiers .eml dans {self.directory}"


_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"]+@[^\s<>()\[\]\\,;:\"]+")


def _path(address: str) -> str:
    """``<address>`` for MAIL FROM / RCPT TO: a plain address as is, anything else through smtplib."""
    if "\r" in address or "\n" in address:
        raise ValueError(f"adresse avec un saut de ligne : {address!r}")
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _code(exc: smtplib.SMTPResponseException) -> int:
    return getattr(exc, "smtp_code", 0) or 0


class SMTPMessenger:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        security: str | None = None,
        timeout: float = 30.0,
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        pipelining: bool = True,
    ):
        """``security``: ``starttls``, ``tls`` (implicit, port 465) or ``none``.

        Default: ``tls`` on port 465, ``starttls`` when ``starttls`` is true,
        else ``none``. ``pipelining``: send MAIL, RCPT and DATA in one write
        when the server offers PIPELINING (RFC 2920), as most do.
        """
        self.host, self.port = host, port
        self.user, self.password = user, password
        if security is None:
            security = "tls" if port == 465 else ("starttls" if starttls else "none")
        if security not in ("starttls", "tls", "none"):
            raise DeliveryError(f"sécurité SMTP inconnue : {security!r} (starttls, tls ou none)")
        self.security, self.timeout = security, timeout
        self.ca_file = ca_file
        self._context = ssl_context
        self._smtp: smtplib.SMTP | None = None
        self.pipelining = pipelining
        self._pipelined = False  # the open connection's server offers PIPELINING
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"serveur SMTP {self.host}:{self.port}"

    def clone(self) -> "SMTPMessenger":
        return SMTPMessenger(
            self.host, self.port, user=self.user, password=self.password, security=self.security,
            timeout=self.timeout, ca_file=self.ca_file, ssl_context=self._context, pipelining=self.pipelining,
        )

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.ca_file)
        return self._context

    def _open(self) -> smtplib.SMTP:
        where = self.describe()
        if self.user and self.security == "none" and self.host not in LOCAL_HOSTS:
            raise FatalError(
                f"{where} : identifiant SMTP refusé sur une connexion non chiffrée ;"
                " utilisez NEWSLETTER_SMTP_SECURITY=starttls ou tls"
            )
        try:
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._ssl_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                smtp.ehlo()
                if self.security == "starttls":
                    smtp.starttls(context=self._ssl_context())
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self.password or "")
            except BaseException:
                smtp.close()
                raise
        except ssl.SSLCertVerificationError as exc:
            raise FatalError(f"{where} : certificat TLS refusé ({exc.verify_message}) ; rien n'a été envoyé") from exc
        except ssl.SSLError as exc:
            raise FatalError(f"{where} : échec de la négociation TLS ({exc})") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise FatalError(f"{where} : le serveur ne propose pas STARTTLS ({exc})") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise FatalError(f"{where} : identifiant ou mot de passe refusé ({_code(exc)})") from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= _code(exc) < 500:
                raise TransientError(f"{where} : {exc}", connection=True) from exc
            raise FatalError(f"{where} : {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"{where} : connexion impossible ({exc})", connection=True) from exc
        self._pipelined = self.pipelining and smtp.has_extn("pipelining")
        return smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()  # after the last 250: a failing QUIT changes nothing
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def deliver(self, sender: str, recipient: str, message) -> None:
        if self._smtp is None:
            self._smtp = self._open()
        smtp = self._smtp
        # Before the end of the data the server holds nothing: any failure is safe to retry.
        try:
            mail_from, rcpt_to = f"MAIL FROM:{_path(sender)}", f"RCPT TO:{_path(recipient)}"
            if self._pipelined:  # RFC 2920: one write, then the three replies in order
                smtp.send(f"{mail_from}\r\n{rcpt_to}\r\nDATA\r\n")
                mail, rcpt, data = smtp.getreply(), smtp.getreply(), smtp.getreply()
            else:
                mail, rcpt, data = smtp.docmd(mail_from), None, None
                if mail[0] == 250:
                    rcpt = smtp.docmd(rcpt_to)
                    if rcpt[0] in (250, 251):
                        data = smtp.docmd("DATA")
            if mail[0] != 250 or rcpt[0] not in (250, 251) or data[0] != 354:
                if data is not None and data[0] == 354:  # DATA opened after a refusal: close it empty
                    smtp.send(b".\r\n")
                    smtp.getreply()
                self._refused(sender, recipient, mail, rcpt, data)
            smtp.send(message.smtp_data)  # dot-stuffed, with its <CRLF>.<CRLF>
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise TransientError(f"{self.describe()} : connexion perdue ({exc})", connection=True) from exc
        # The data is out: from here a lost connection leaves the recipient in doubt.
        try:
            code, resp = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise UncertainError(
                f"{recipient} : connexion perdue après l'envoi du message, le serveur l'a peut-être accepté ({exc})"
            ) from exc
        if code == 250:
            return
        text = f"{code} {resp.decode(errors='replace')}"
        if code == 421:
            self._drop()
        if 400 <= code < 500:
            raise TransientError(f"{recipient} : message différé ({text})", connection=code == 421)
        raise PermanentError(f"{recipient} : message refusé ({text})")

    def _refused(self, sender: str, recipient: str, mail, rcpt, data) -> None:
        """Raise for the first refused step of MAIL, RCPT, DATA (the server holds nothing)."""
        where = self.describe()
        for (code, resp), ok, step in ((mail, (250,), "mail"), (rcpt, (250, 251), "rcpt"), (data, (354,), "data")):
            if code in ok:
                continue
            self._reset(code)
            text = f"{code} {resp.decode(errors='replace')}"
            if step == "mail":
                if 400 <= code < 500:
                    raise TransientError(f"{where} : expéditeur différé ({text})", connection=code == 421)
                raise FatalError(f"{where} : expéditeur {sender} refusé ({text})")
            if 400 <= code < 500:
                label = "différé par le serveur" if step == "rcpt" else "DATA différé"
                raise TransientError(f"{recipient} : {label} ({text})", connection=code == 421)
            label = "refusé par le serveur" if step == "rcpt" else "DATA refusé"
            raise PermanentError(f"{recipient} : {label} ({text})")

    def _reset(self, code: int) -> None:
        if code == 421:
            self._drop()
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def send(self, message: EmailMessage) -> str:
        with self._lock:
            try:
                smtp = self._open()
            except (TransientError, FatalError) as exc:
                raise DeliveryError(str(exc)) from exc
            try:
                refused = smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                raise DeliveryError(f"{self.describe()} : {exc}") from exc
            finally:
                try:
                    smtp.quit()
                except (OSError, smtplib.SMTPException):
                    smtp.close()
        if refused:
            raise DeliveryError(f"destinataires refusés par {self.host}:{self.port} : {', '.join(refused)}")
        return self.describe()


def messenger_from_settings(settings: Settings, *, directory: Path | None = None) -> Messenger:
    """The configured transport. ``directory``: where the file transport writes (default NEWSLETTER_MAIL_DIR)."""
    if settings.transport == "smtp":
        return SMTPMessenger(
            settings.smtp_host,
            settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            security=settings.smtp_security,
            timeout=settings.smtp_timeout,
            ca_file=settings.smtp_ca_file,
        )
    return FileMessenger(directory or settings.mail_dir)
