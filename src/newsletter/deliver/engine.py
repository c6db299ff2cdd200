"""Sending a draft to its subscribers exactly once, even through a crash.

The send log (table ``send_log``) has one row per recipient of a draft,
snapshotted when the send starts, and is committed around each message:

    queued ──claim──► sending ──250──► sent
                         ├──5xx──► failed     (counted against the subscriber: bounced after N)
                         ├──4xx×N──► deferred (queued again by the next `outbox send`)
                         └──connection lost after the data──► uncertain
    queued ──subscriber no longer active──► skipped

The claim (``sending``) is committed *before* the message goes out, and in
the same transaction as the previous message's result (one commit per
message; a group commit of several "sent" rows would leave all of them in
doubt after a crash, not just the message in flight). The claim is an
update that applies only if the subscriber is still active at that instant
(a primary-key lookup in the same statement, no status cache that could be
stale), so an address unsubscribed during a send is never mailed. A row still ``sending``
when the next sender starts was in flight when the previous one died: it
becomes ``uncertain``, is reported, and is mailed again only with
``--resend-uncertain``.

Only the holder of the draft's send lease (outbox.drafts.acquire_send_lease)
sends; the lease is renewed while the send runs and taken over when its
holder died or it expired, which is how a draft left in ``sending`` resumes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import bindparam, func, insert, literal, select, update

from newsletter.deliver import subscribers as subs
from newsletter.deliver.compose import DKIMSigner, MessageTemplate, Recipient
from newsletter.deliver.messenger import (
    DeliveryConnectionError,
    DeliveryError,
    FatalError,
    FileMessenger,
    Messenger,
    PermanentError,
    TransientError,
    UncertainError,
    messenger_from_settings,
)
from newsletter.deliver.tokens import make_token, token_length
from newsletter.outbox import drafts as outbox
from newsletter.settings import Settings
from newsletter.store import Store, as_aware, send_log, send_runs, subscribers, utcnow

log = logging.getLogger("newsletter.deliver")

QUEUED, SENDING, SENT, FAILED, DEFERRED, SKIPPED, UNCERTAIN = (
    "queued", "sending", "sent", "failed", "deferred", "skipped", "uncertain",
)
LOG_STATUSES = (QUEUED, SENDING, SENT, FAILED, DEFERRED, SKIPPED, UNCERTAIN)
MAIL_FOLDER = "mail"  # the file transport writes one .eml per subscriber in <draft>/mail/


@dataclass(frozen=True)
class SendConfig:
    sender: str
    public_url: str | None = None
    secret_key: str | None = None
    list_id: str | None = None
    unsubscribe_mailto: str | None = None
    list_unsubscribe_url: str | None = None  # list-address mode only
    connections: int = 1
    rate_per_second: float = 0.0
    hourly_limit: int = 0
    retries: int = 3
    backoff: float = 2.0
    bounce_threshold: int = 2
    lease_seconds: float = 120.0
    dkim: DKIMSigner | None = None

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1] or self.sender

    @classmethod
    def from_settings(cls, settings: Settings) -> "SendConfig":
        dkim = None
        if settings.dkim_key_file:
            if not settings.dkim_selector:
                raise DeliveryError("NEWSLETTER_DKIM_SELECTOR est requis avec NEWSLETTER_DKIM_KEY_FILE")
            domain = settings.dkim_domain or _domain(settings.mail_from)
            dkim = DKIMSigner.from_file(Path(settings.dkim_key_file), selector=settings.dkim_selector, domain=domain)
        return cls(
            sender=settings.mail_from,
            public_url=settings.public_url,
            secret_key=settings.secret_key,
            list_id=settings.list_id,
            unsubscribe_mailto=settings.unsubscribe_mailto,
            list_unsubscribe_url=settings.unsubscribe_url,
            connections=settings.smtp_connections if settings.transport == "smtp" else 1,
            rate_per_second=settings.send_rate,
            hourly_limit=settings.send_hourly_limit,
            retries=settings.send_retries,
            backoff=settings.send_backoff,
            bounce_threshold=settings.bounce_threshold,
            lease_seconds=settings.send_lease_seconds,
            dkim=dkim,
        )


def _domain(address: str) -> str:
    addr = parseaddr(address)[1]
    return addr.rsplit("@", 1)[-1] if "@" in addr else "localhost"


def _is_local(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in ("localhost", "127.0.0.1", "::1")


@dataclass
class SendSummary:
    draft_id: str
    status: str
    total: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    deferred: int = 0
    uncertain: int = 0
    queued: int = 0
    uncertain_addresses: list[str] = field(default_factory=list)
    failed_addresses: list[tuple[str, str]] = field(default_factory=list)
    where: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line_fr(self) -> str:
        return (
            f"{self.sent} envoyé(s), {self.skipped} ignoré(s), {self.failed + self.deferred} en échec"
            f" (dont {self.deferred} différé(s)), {self.uncertain} incertain(s), sur {self.total}"
        )


# -- send log ------------------------------------------------------------------


def delivery_counts(store: Store, draft_id: str) -> dict[str, int]:
    """Counts of the send log of a draft by status (for the review page and the run summary)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(send_log.c.status, func.count()).where(send_log.c.draft_id == draft_id).group_by(send_log.c.status)
        ).all()
    counts = {s: 0 for s in LOG_STATUSES}
    counts.update({status: n for status, n in rows})
    counts["total"] = sum(n for _, n in rows)
    return counts


def summary(store: Store, draft_id: str) -> SendSummary:
    counts = delivery_counts(store, draft_id)
    with store.engine.connect() as conn:
        uncertain = conn.execute(
            select(send_log.c.email).where(send_log.c.draft_id == draft_id, send_log.c.status == UNCERTAIN)
            .order_by(send_log.c.id)
        ).scalars().all()
        failed = conn.execute(
            select(send_log.c.email, send_log.c.error)
            .where(send_log.c.draft_id == draft_id, send_log.c.status.in_((FAILED, DEFERRED)))
            .order_by(send_log.c.id)
        ).all()
    return SendSummary(
        draft_id=draft_id,
        status=store.draft_status(draft_id) or "?",
        total=counts["total"],
        sent=counts[SENT],
        skipped=counts[SKIPPED],
        failed=counts[FAILED],
        deferred=counts[DEFERRED],
        uncertain=counts[UNCERTAIN],
        queued=counts[QUEUED] + counts[SENDING],
        uncertain_addresses=list(uncertain),
        failed_addresses=[(e, err or "") for e, err in failed],
    )


def _snapshot(store: Store, draft_id: str, list_addresses: list[str] | None) -> int:
    """Write the recipients of the draft into the send log, once (idempotent)."""
    now = utcnow()
    with store.engine.begin() as conn:
        done = conn.execute(select(send_runs.c.snapshot_at).where(send_runs.c.draft_id == draft_id)).scalar()
        if done is not None:
            return 0
        if list_addresses:
            rows = [
                {"draft_id": draft_id, "subscriber_id": None, "email": a, "status": QUEUED, "attempts": 0, "updated_at": now}
                for a in dict.fromkeys(list_addresses)
            ]
            conn.execute(insert(send_log), rows)
            n = len(rows)
        else:
            source = select(
                literal(draft_id), subscribers.c.id, subscribers.c.email, literal(QUEUED), literal(0), literal(now),
            ).where(subscribers.c.status == subs.ACTIVE).order_by(subscribers.c.id)
            res = conn.execute(
                insert(send_log).from_select(
                    ["draft_id", "subscriber_id", "email", "status", "attempts", "updated_at"], source
                )
            )
            n = res.rowcount
        conn.execute(update(send_runs).where(send_runs.c.draft_id == draft_id).values(snapshot_at=now))
    return n


def _prepare(store: Store, draft_id: str, resend_uncertain: bool) -> int:
    """Rows in flight when the previous sender died become uncertain; deferred ones are queued again."""
    now = utcnow()
    with store.engine.begin() as conn:
        res = conn.execute(
            update(send_log)
            .where(send_log.c.draft_id == draft_id, send_log.c.status == SENDING)
            .values(status=UNCERTAIN, updated_at=now,
                    error="en cours d'envoi lors de l'interruption : le serveur l'a peut-être reçu")
        )
        found = res.rowcount
        requeue = [DEFERRED] + ([UNCERTAIN] if resend_uncertain else [])
        conn.execute(
            update(send_log)
            .where(send_log.c.draft_id == draft_id, send_log.c.status.in_(requeue))
            .values(status=QUEUED, updated_at=now)
        )
    return found


class _Lease:
    def __init__(self, store: Store, draft_id: str, holder: str, ttl: float):
        self.store, self.draft_id, self.holder, self.ttl = store, draft_id, holder, ttl
        self.renewed = time.monotonic()
        self._lock = threading.Lock()

    def check(self) -> None:
        if time.monotonic() - self.renewed < self.ttl / 4:
            return
        with self._lock:
            if time.monotonic() - self.renewed < self.ttl / 4:
                return
            outbox.renew_send_lease(self.store, self.draft_id, self.holder, self.ttl)
            self.renewed = time.monotonic()


class RateLimiter:
    """Messages per second (paced) and per sliding hour (counting earlier sends)."""

    def __init__(self, per_second: float = 0.0, per_hour: int = 0, recent: Iterable[float] = ()):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.per_hour = per_hour
        self.window: deque[float] = deque(sorted(recent))
        self.next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Reserve a slot; return how long to wait before using it."""
        with self._lock:
            now = time.time()
            at = now
            if self.per_hour > 0:
                while self.window and self.window[0] <= now - 3600:
                    self.window.popleft()
                if len(self.window) >= self.per_hour:
                    at = max(at, self.window[-self.per_hour] + 3600)
            if self.interval:
                at = max(at, self.next)
                self.next = at + self.interval
            if self.per_hour > 0:
                self.window.append(at)
            return max(0.0, at - now)


def _recent_sends(store: Store) -> list[float]:
    since = utcnow() - timedelta(hours=1)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(send_log.c.sent_at).where(send_log.c.status == SENT, send_log.c.sent_at >= since)
        ).scalars().all()
    return [as_aware(r).timestamp() for r in rows if r is not None]


class _Run:
    """The send loop of one lease holder (one thread per connection)."""

    def __init__(self, store, draft_id, template, messenger, config, lease, limiter, progress, totals):
        self.store, self.draft_id, self.template = store, draft_id, template
        self.messenger, self.config, self.lease, self.limiter = messenger, config, lease, limiter
        self.progress, self.totals = progress, totals
        self.secret = config.secret_key
        self.sender_address = config.sender_address
        # statements built once (SQLAlchemy then reuses their compiled form)
        now = bindparam("p_now")
        # The claim is also the unsubscribe check: one UPDATE that marks the row
        # in flight only if the subscriber is still active at that instant (a
        # primary-key lookup in the same statement, so nothing can slip in
        # between the check and the claim, and no status cache can be stale).
        still_active = select(literal(1)).where(
            subscribers.c.id == send_log.c.subscriber_id, subscribers.c.status == subs.ACTIVE
        ).exists()
        self._u_claim = (
            update(send_log)
            .where(send_log.c.id == bindparam("p_rid"), send_log.c.status == QUEUED,
                   (send_log.c.subscriber_id.is_(None)) | still_active)
            .values(status=SENDING, attempts=send_log.c.attempts + 1, message_id=bindparam("p_mid"), updated_at=now)
        )
        self._u_finish = update(send_log).where(send_log.c.id == bindparam("p_rid")).values(
            status=bindparam("p_status"), updated_at=now, error=bindparam("p_error"),
            sent_at=bindparam("p_sent_at"))
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def _bump(self, status: str) -> None:
        with self._lock:
            self.totals[status] = self.totals.get(status, 0) + 1
            snapshot = dict(self.totals)
        if self.progress is not None:
            self.progress(snapshot)

    def _claim(self, conn, row, message_id: str) -> Recipient | None:
        """In the caller's transaction: mark the row in flight if its subscriber is still active."""
        now = utcnow()
        res = conn.execute(self._u_claim, {"p_rid": row.id, "p_mid": message_id, "p_now": now})
        if res.rowcount != 1:
            if row.subscriber_id is not None:  # rare: unsubscribed (or removed) since the snapshot
                status = conn.execute(
                    select(subscribers.c.status).where(subscribers.c.id == row.subscriber_id)
                ).scalar()
                if status != subs.ACTIVE:
                    label = subs.STATUS_LABELS_FR.get(status, "?") if status else "supprimé"
                    conn.execute(
                        update(send_log).where(send_log.c.id == row.id, send_log.c.status == QUEUED)
                        .values(status=SKIPPED, updated_at=now, error=f"abonné « {label} »")
                    )
            return None
        token = make_token(self.secret, row.subscriber_id, row.email) if self.template.personal else None
        return Recipient(email=row.email, name=row.name, subscriber_id=row.subscriber_id, token=token)

    def _finish(self, conn, row_id: int, status: str, error: str | None = None) -> None:
        now = utcnow()
        conn.execute(self._u_finish, {"p_rid": row_id, "p_status": status, "p_now": now, "p_error": error,
                                      "p_sent_at": now if status == SENT else None})

    def _bounce(self, row, error: str) -> None:
        if row.subscriber_id is None:
            return
        with self.store.engine.begin() as conn:
            conn.execute(
                update(subscribers).where(subscribers.c.id == row.subscriber_id)
                .values(bounce_count=subscribers.c.bounce_count + 1, last_error=error, updated_at=utcnow())
            )
            count = conn.execute(
                select(subscribers.c.bounce_count).where(subscribers.c.id == row.subscriber_id)
            ).scalar()
        if count >= self.config.bounce_threshold:
            subs.change_status(self.store, row.subscriber_id, subs.BOUNCED, actor="envoi", note=error)

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            self.lease.check()
            time.sleep(min(left, 0.5))

    def worker(self, rows: list, messenger: Messenger) -> None:
        pending: tuple[int, str, str | None] | None = None  # previous row's result, committed with the next claim
        # One database connection for the whole loop (no pool checkout per message);
        # one transaction per message: the previous result and this claim.
        with self.store.engine.connect() as conn:
            try:
                for row in rows:
                    if self.stop.is_set():
                        break
                    self.lease.check()
                    wait = self.limiter.reserve()
                    if wait:
                        if pending is not None:  # never leave a delivered message unrecorded while waiting
                            with conn.begin():
                                self._finish(conn, *pending)
                            pending = None
                        self._wait(wait)
                    message_id = self.template.message_id(Recipient(row.email, subscriber_id=row.subscriber_id))
                    with conn.begin():
                        if pending is not None:
                            self._finish(conn, *pending)
                            pending = None
                        recipient = self._claim(conn, row, message_id)
                    if recipient is None:
                        self._bump(SKIPPED)
                        continue
                    message = self.template.render(recipient, message_id)
                    pending = self._send_one(row, recipient, message, messenger)
                    if pending[1] != SENT:  # rare outcomes are committed at once
                        with conn.begin():
                            self._finish(conn, *pending)
                        if pending[1] == FAILED:
                            self._bounce(row, pending[2] or "")
                        pending_status, pending = pending[1], None
                        self._bump(pending_status)
                    else:
                        self._bump(SENT)
            except BaseException as exc:
                self.stop.set()
                if self.error is None:
                    self.error = exc
            finally:
                try:
                    if pending is not None:
                        if conn.in_transaction():
                            conn.rollback()
                        with conn.begin():
                            self._finish(conn, *pending)
                finally:
                    messenger.close()

    def _send_one(self, row, recipient: Recipient, message, messenger: Messenger) -> tuple[int, str, str | None]:
        attempts = max(1, self.config.retries)
        for attempt in range(attempts):
            try:
                messenger.deliver(self.sender_address, recipient.email, message)
                return (row.id, SENT, None)
            except PermanentError as exc:
                return (row.id, FAILED, str(exc))
            except UncertainError as exc:
                return (row.id, UNCERTAIN, str(exc))
            except TransientError as exc:
                last = exc
                if attempt + 1 < attempts:
                    delay = self.config.backoff * (2 ** attempt)
                    log.warning("%s; retry %d/%d in %.1f s", exc, attempt + 1, attempts - 1, delay)
                    self._wait(delay)
                    if self.stop.is_set():
                        break
            except FatalError:
                self._requeue(row.id)
                raise
        if getattr(last, "connection", False) or self.stop.is_set():
            self._requeue(row.id)  # nothing was accepted: it stays to send when the run resumes
            raise DeliveryConnectionError(str(last)) from last
        return (row.id, DEFERRED, str(last))

    def _requeue(self, row_id: int) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(send_log).where(send_log.c.id == row_id, send_log.c.status == SENDING)
                .values(status=QUEUED, updated_at=utcnow())
            )


def _template(draft: outbox.Draft, store: Store, config: SendConfig, personal: bool) -> MessageTemplate:
    """The message to send, built from exactly the approved bytes and subject (table ``approvals``)."""
    manifest = draft.manifest
    approval = outbox.verify_approved(draft, store)
    try:
        text = approval.read(draft, "newsletter.txt").decode("utf-8")
        html = approval.read(draft, "newsletter.html").decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"brouillon {draft.id} illisible : {exc}") from None
    placeholder = manifest.get("unsubscribe") or "{{unsubscribe_url}}"
    if not placeholder.startswith("{{"):
        placeholder = "{{unsubscribe_url}}"
    list_id = config.list_id or f"{manifest.get('centre') or 'Lettre'} <lettre.{_domain(config.sender)}>"
    if "<" not in list_id:
        list_id = f"<{list_id}>"
    return MessageTemplate(
        subject=approval.subject or f"Lettre d'information – {manifest.get('month', '')}",
        sender=config.sender,
        text=text,
        html=html,
        draft_id=draft.id,
        list_id=list_id,
        unsubscribe_mailto=config.unsubscribe_mailto or config.sender,
        public_url=config.public_url if personal else None,
        token_length=token_length(config.secret_key) if personal else None,
        list_unsubscribe_url=None if personal else config.list_unsubscribe_url,
        placeholder=placeholder,
        dkim=config.dkim,
    )


def _check_config(config: SendConfig, personal: bool) -> None:
    if not personal:
        return
    if not config.secret_key:
        raise DeliveryError("NEWSLETTER_SECRET_KEY n'est pas défini : il signe les liens de désabonnement")
    if not config.public_url:
        raise DeliveryError(
            "NEWSLETTER_PUBLIC_URL n'est pas défini : c'est l'adresse publique de « newsletter serve »,"
            " où mènent les liens de désabonnement"
        )
    if not config.public_url.startswith("https://") and not _is_local(config.public_url):
        raise DeliveryError(f"NEWSLETTER_PUBLIC_URL={config.public_url} : une adresse https:// est requise")


def deliver_draft(
    outbox_dir: Path,
    store: Store,
    draft_id: str,
    messenger: Messenger,
    *,
    config: SendConfig,
    recipients: list[str] | None = None,
    actor: str = "cli",
    resend_uncertain: bool = False,
    publish: Callable[[outbox.Draft], object] | None = None,
    progress: Callable[[dict[str, int]], None] | None = None,
) -> SendSummary:
    """Send (or resume sending) an approved draft; return the summary.

    ``recipients``: list addresses of a mailing service (NEWSLETTER_MAIL_TO)
    instead of the subscribers; they get the message without personal links.
    ``progress(totals)`` is called after each message with the counts so far
    (``total``, ``sent``, ``skipped``, ``failed``, ``deferred``, ``uncertain``).
    Raises SendInProgress when another live sender holds the draft,
    DeliveryConnectionError when the server cannot be reached (the draft is
    then ``failed`` and the next call resumes), DeliveryError otherwise.
    """
    personal = not recipients
    _check_config(config, personal)
    holder = outbox.new_lease_holder()
    outbox.acquire_send_lease(store, draft_id, holder, config.lease_seconds)
    try:
        return _deliver(outbox_dir, store, draft_id, messenger, config, recipients, actor, resend_uncertain,
                        publish, progress, holder, personal)
    finally:
        outbox.release_send_lease(store, draft_id, holder)


def _deliver(outbox_dir, store, draft_id, messenger, config, recipients, actor, resend_uncertain, publish,
             progress, holder, personal) -> SendSummary:
    draft = outbox.load_draft(outbox_dir, draft_id, store)
    resend_only = False
    if draft.status in (outbox.APPROVED, outbox.FAILED):
        template = _template(draft, store, config, personal)
        if personal and draft.status == outbox.APPROVED and not subs.count(store)[subs.ACTIVE]:
            raise DeliveryError("aucun abonné actif (importez-les : newsletter subscribers import FICHIER.csv)")
        draft = outbox.transition(outbox_dir, store, draft_id, outbox.SENDING, actor=actor)
    elif draft.status == outbox.SENDING:
        template = _template(draft, store, config, personal)  # verifies against the approval
        store.compare_and_set_status(draft_id, (outbox.SENDING,), outbox.SENDING, actor=actor,
                                     note="reprise de l'envoi interrompu")
    elif draft.status == outbox.SENT and resend_uncertain:
        template = _template(draft, store, config, personal)
        resend_only = True
    else:
        raise outbox.TransitionError(
            f"brouillon {draft_id} : impossible d'envoyer un brouillon"
            f" « {outbox.STATUS_LABELS_FR.get(draft.status, draft.status)} »"
        )
    try:
        _snapshot(store, draft_id, recipients)
        found = _prepare(store, draft_id, resend_uncertain)
        if found:
            log.warning("%d recipient(s) were in flight when the previous sender stopped: uncertain", found)
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(send_log.c.id, send_log.c.subscriber_id, send_log.c.email, subscribers.c.name)
                .select_from(send_log.outerjoin(subscribers, subscribers.c.id == send_log.c.subscriber_id))
                .where(send_log.c.draft_id == draft_id, send_log.c.status == QUEUED).order_by(send_log.c.id)
            ).all()
        counts = delivery_counts(store, draft_id)
        totals = {"total": counts["total"], SENT: counts[SENT], SKIPPED: counts[SKIPPED], FAILED: counts[FAILED],
                  DEFERRED: counts[DEFERRED], UNCERTAIN: counts[UNCERTAIN]}
        if progress is not None:
            progress(dict(totals))
        lease = _Lease(store, draft_id, holder, config.lease_seconds)
        limiter = RateLimiter(config.rate_per_second, config.hourly_limit,
                              _recent_sends(store) if config.hourly_limit else ())
        run = _Run(store, draft_id, template, messenger, config, lease, limiter, progress, totals)
        n = max(1, min(config.connections, len(rows) or 1))
        if n == 1:
            run.worker(rows, messenger)
        else:
            threads = [
                threading.Thread(target=run.worker, args=(rows[i::n], messenger if i == 0 else messenger.clone()),
                                 name=f"send-{i}", daemon=True)
                for i in range(n)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if run.error is not None:
            raise run.error
    except BaseException as exc:
        if not resend_only and store.draft_status(draft_id) == outbox.SENDING:
            try:
                outbox.transition(outbox_dir, store, draft_id, outbox.FAILED, actor=actor, note=str(exc) or type(exc).__name__)
            except outbox.OutboxError:
                pass
        if isinstance(exc, (DeliveryError, outbox.OutboxError)) or not isinstance(exc, Exception):
            raise
        raise DeliveryError(str(exc)) from exc
    result = summary(store, draft_id)
    result.where = messenger.describe()
    note = f"{result.line_fr()} ({result.where})"
    if resend_only:
        store.compare_and_set_status(draft_id, (outbox.SENT,), outbox.SENT, actor=actor,
                                     note=f"renvoi aux destinataires incertains : {note}")
    elif result.deferred:
        outbox.transition(outbox_dir, store, draft_id, outbox.FAILED, actor=actor,
                          note=f"{note} ; relancez « newsletter outbox send {draft_id} » pour les différés")
    else:
        issue = draft.issue()
        if issue is not None:
            store.record_sent(draft_id, issue.all_items())
        sent = outbox.transition(outbox_dir, store, draft_id, outbox.SENT, actor=actor, note=note)
        if publish is not None:
            try:
                page = publish(sent)
                result.where += f" ; version en ligne : {page}"
            except Exception as exc:  # the mail is gone: report, never undo
                log.warning("web archive not published: %s", exc)
                result.where += f" ; version en ligne non publiée : {exc}"
    result.status = store.draft_status(draft_id) or "?"
    return result


def send_draft(
    settings: Settings,
    store: Store,
    draft_id: str,
    *,
    actor: str = "cli",
    resend_uncertain: bool = False,
    publish: Callable[[outbox.Draft], object] | None = None,
    progress: Callable[[dict[str, int]], None] | None = None,
) -> SendSummary:
    """Send a draft with the configured transport to the subscribers (or NEWSLETTER_MAIL_TO)."""
    config = SendConfig.from_settings(settings)
    if settings.transport == "file":
        messenger: Messenger = FileMessenger(Path(settings.outbox) / draft_id / MAIL_FOLDER)
    else:
        messenger = messenger_from_settings(settings)
    return deliver_draft(
        settings.outbox, store, draft_id, messenger, config=config, recipients=settings.mail_to or None,
        actor=actor, resend_uncertain=resend_uncertain, publish=publish, progress=progress,
    )
