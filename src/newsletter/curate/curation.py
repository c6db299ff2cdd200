"""Curation: from collected items to a monthly issue, with a report of every decision.

Steps of :func:`curate`:

1. **Dedupe** (:func:`newsletter.dedupe.dedupe`): each story once.
2. **Classify** (:func:`newsletter.classify.classify`): category and score.
3. **History** (entries of earlier sent newsletters, keyed by canonical URL):

   * an article, resource or press story already sent is dropped;
   * an event already sent stays in the agenda until it has taken place; if
     its date or place changed since it was sent (a place known only now is no
     change), it is marked ``updated``
     (the new entry replaces the old one). A new session of an event already
     sent (same page, another date, the sent date still listed) is simply new.

4. **Freshness**: articles and press stories published more than
   ``max_age_days`` (default 62, about two months) before ``today`` are dropped,
   so that a first run does not serve a feed's old items again. Items without
   a publication date are kept. Resources have no age limit.
5. **Agenda**: events starting on or after ``today`` and at most
   ``horizon_days`` (default 90) later, sorted by start. Past events, events
   beyond the horizon and events without a date are dropped.
6. **Sections**: news grouped by category slug (taxonomy order, ``autres``
   last), most recent first (undated last); resources and press most recent
   first. ``max_per_section`` (optional) caps each list; the rest is dropped.
7. **Featured** ("À la une", at most 3, each flagged ``featured=True`` and left
   in its section as well, so the renderer may show or skip it there):
   the nearest upcoming event with limited places (or, failing that, the
   nearest event), the most recent ``vie-du-reseau`` article, then the
   highest-scored other article (most recent on ties).

The report (JSON-serialisable) lists every merge (``merged``), every likely
copy kept apart for the officer to confirm or dismiss (``suggested``), every dropped
item with a French reason (``dropped``), events marked as updated
(``updated``), warnings and counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Sequence

from babel.dates import format_date

from newsletter.curate.classify import FALLBACK, Taxonomy, apply_corrections, classify, correction_examples
from newsletter.curate.dedupe import dedupe
from newsletter.urls import strip_tracking
from newsletter.models import KINDS, Issue, Item
from newsletter.normalize import PARIS, aware

NEWS_KINDS = ("article",)


@dataclass
class HistoryEntry:
    """One item of an earlier sent newsletter. ``key`` is the item's canonical URL."""

    key: str
    kind: str
    title: str
    start: datetime | None
    location: str | None
    sent_at: datetime
    draft_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "title": self.title,
            "start": self.start.isoformat() if self.start else None,
            "location": self.location,
            "sent_at": self.sent_at.isoformat(),
            "draft_id": self.draft_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HistoryEntry":
        def dt(value: Any) -> datetime | None:
            if value in (None, ""):
                return None
            return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))

        try:
            return cls(
                key=data["key"],
                kind=data.get("kind", "article"),
                title=data.get("title", ""),
                start=dt(data.get("start")),
                location=data.get("location"),
                sent_at=dt(data["sent_at"]),  # type: ignore[arg-type]
                draft_id=str(data.get("draft_id", "")),
            )
        except KeyError as exc:
            raise ValueError(f"history entry has no {exc.args[0]!r}") from None

    @classmethod
    def from_item(cls, item: Item, *, sent_at: datetime, draft_id: str) -> "HistoryEntry":
        return cls(key=item.key, kind=item.kind, title=item.title, start=item.start,
                   location=item.location, sent_at=sent_at, draft_id=draft_id)


@dataclass
class Curation:
    issue: Issue
    report: dict[str, Any] = field(default_factory=dict)


def _day(value: datetime | date) -> date:
    if isinstance(value, datetime):
        return aware(value).astimezone(PARIS).date()  # type: ignore[union-attr]
    return value


def _fr_date(value: datetime | date) -> str:
    return format_date(_day(value), format="full", locale="fr_FR")


def _sort_key_recent(item: Item) -> tuple:
    # most recent first, undated last
    pub = aware(item.published)
    return (pub is None, -(pub.timestamp() if pub else 0.0))


def _norm_place(value: str | None) -> str:
    return " ".join((value or "").lower().split())


def _place_changed(before: str | None, now: str | None) -> bool:
    """Both places known and different (a place given only now is no change)."""
    return bool(before and now) and _norm_place(before) != _norm_place(now)


def _same_when(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return aware(a) == aware(b)


def curate(
    items: Iterable[Item],
    *,
    taxonomy: Taxonomy,
    today: date,
    month: date,
    history: Sequence[HistoryEntry] = (),
    horizon_days: int = 90,
    max_per_section: int | None = None,
    max_age_days: int = 62,
    max_featured: int = 3,
    corrections: Sequence[dict[str, Any]] = (),
) -> Curation:
    """Build the issue for ``month`` prepared on ``today`` (see module doc)."""
    if isinstance(today, datetime):
        today = today.date()
    if isinstance(month, datetime):
        month = month.date()
    if horizon_days < 0 or max_age_days < 0:
        raise ValueError(f"curate: horizon_days and max_age_days must be >= 0 (got {horizon_days}, {max_age_days})")
    if max_per_section is not None and max_per_section < 1:
        raise ValueError(f"curate: max_per_section must be >= 1 or None (got {max_per_section})")
    items = list(items)
    dropped: list[dict[str, Any]] = []
    warnings: list[str] = []
    updated: list[dict[str, Any]] = []

    def drop(item: Item, reason: str, code: str) -> None:
        dropped.append({"url": item.url, "title": item.title, "kind": item.kind, "source": item.source,
                        "code": code, "reason": reason})

    valid: list[Item] = []
    for item in items:
        if item.kind not in KINDS:
            drop(item, f"type « {item.kind} » inconnu (attendu : {', '.join(KINDS)})", "unknown_kind")
        else:
            valid.append(item)

    result = dedupe(valid)
    kept = result.kept
    for item in kept:
        # Readers get the article's own link, not another campaign's tracking.
        item.url = strip_tracking(item.url)
    if corrections:  # the officer's earlier category corrections (Store.corrections())
        apply_corrections(kept, corrections, taxonomy)
    # ... also the text model's training examples
    classify(kept, taxonomy, examples=correction_examples(corrections))
    for item in kept:
        note = item.extra.get("classify_note")
        if note:
            warnings.append(f"{item.title} : {note}")

    by_key: dict[str, list[HistoryEntry]] = {}
    for entry in history:
        by_key.setdefault(entry.key, []).append(entry)
    # current (start, place) of each event page, to tell a new session from a move
    current_sessions: dict[str, list[Item]] = {}
    for item in kept:
        if item.kind == "event":
            current_sessions.setdefault(item.key, []).append(item)

    horizon = today + timedelta(days=horizon_days)
    oldest = today - timedelta(days=max_age_days)
    agenda: list[Item] = []
    articles: list[Item] = []
    resources: list[Item] = []
    press: list[Item] = []
    for item in kept:
        sent = by_key.get(item.key, [])
        if item.kind == "event":
            if item.start is None:
                drop(item, "événement sans date : impossible de le placer dans l'agenda", "event_no_date")
                continue
            start_day = _day(item.start)
            if start_day < today:
                drop(item, f"événement passé (le {_fr_date(start_day)})", "event_past")
                continue
            if start_day > horizon:
                drop(item, f"événement au-delà de l'horizon de {horizon_days} jours (le {_fr_date(start_day)})",
                     "event_beyond_horizon")
                continue
            if sent:
                unchanged = any(_same_when(e.start, item.start) and not _place_changed(e.location, item.location)
                                for e in sent)
                other_session_still_listed = any(
                    any(_same_when(e.start, other.start) for e in sent)
                    for other in current_sessions.get(item.key, []) if other is not item
                )
                if not unchanged and not other_session_still_listed:
                    last = max(sent, key=lambda e: e.sent_at)
                    changes = []
                    if not _same_when(last.start, item.start):
                        before = _fr_date(last.start) if last.start else "sans date"
                        changes.append(f"date modifiée (annoncé le {before}, désormais le {_fr_date(item.start)})")
                    if _place_changed(last.location, item.location):
                        before_place = last.location or "non précisé"
                        changes.append(f"lieu modifié (« {before_place} » → « {item.location or 'non précisé'} »)")
                    if not changes:
                        changes.append("date ou lieu modifié depuis l'envoi")
                    item.updated = True
                    updated.append({"url": item.url, "title": item.title, "draft_id": last.draft_id,
                                    "previous_start": last.start.isoformat() if last.start else None,
                                    "previous_location": last.location, "reason": " ; ".join(changes)})
            agenda.append(item)
            continue
        if sent:
            last = max(sent, key=lambda e: e.sent_at)
            drop(item, f"déjà envoyé dans la lettre du {_fr_date(last.sent_at)} ({last.draft_id})", "already_sent")
            continue
        if item.kind in ("article", "press") and item.published is not None and _day(item.published) < oldest:
            drop(item, f"trop ancien : publié le {_fr_date(item.published)}, plus de {max_age_days} jours avant "
                       f"le {_fr_date(today)}", "too_old")
            continue
        {"article": articles, "resource": resources, "press": press}[item.kind].append(item)

    agenda.sort(key=lambda i: (aware(i.start), i.title))
    order = {slug: n for n, slug in enumerate(taxonomy.slugs)}
    news: dict[str, list[Item]] = {}
    for item in sorted(articles, key=lambda i: (order.get(i.category or FALLBACK, len(order)), _sort_key_recent(i))):
        news.setdefault(item.category or FALLBACK, []).append(item)
    resources.sort(key=_sort_key_recent)
    press.sort(key=_sort_key_recent)

    if max_per_section is not None:
        def cap(section: list[Item], name: str) -> list[Item]:
            for extra in section[max_per_section:]:
                drop(extra, f"rubrique « {name} » complète ({max_per_section} éléments au plus)", "section_full")
            return section[:max_per_section]

        agenda = cap(agenda, "Agenda")
        news = {slug: cap(group, taxonomy.label(slug) if slug in taxonomy else slug) for slug, group in news.items()}
        resources = cap(resources, "Ressources")
        press = cap(press, "Revue de presse")

    featured = _featured(agenda, news, max_featured)
    for item in featured:
        item.featured = True

    issue = Issue(
        month=month.replace(day=1),
        today=today,
        featured=featured,
        agenda=agenda,
        news=news,
        resources=resources,
        press=press,
        category_labels=taxonomy.labels(),
    )
    counts = {
        "input": len(items),
        "after_dedupe": len(kept),
        "merged": len(result.report),
        "suggested": len(result.suggestions),
        "dropped": len(dropped),
        "updated": len(updated),
        **issue.counts(),
        "by_category": {slug: len(group) for slug, group in news.items()},
    }
    report = {
        "merged": result.report,
        # likely copies kept apart, for the officer to confirm or dismiss (confirm_suggestion / dismiss_suggestion)
        "suggested": result.suggestions,
        "dropped": dropped,
        "updated": updated,
        "warnings": warnings,
        "featured": [{"url": i.url, "title": i.title, "kind": i.kind} for i in featured],
        "counts": counts,
        "settings": {"today": today.isoformat(), "month": issue.month.isoformat(), "horizon_days": horizon_days,
                     "max_age_days": max_age_days, "max_per_section": max_per_section},
    }
    return Curation(issue=issue, report=report)


def _featured(agenda: list[Item], news: dict[str, list[Item]], limit: int) -> list[Item]:
    chosen: list[Item] = []
    if limit <= 0:
        return chosen
    limited = [e for e in agenda if e.places_limited or e.places is not None]
    if limited or agenda:
        chosen.append((limited or agenda)[0])
    network = news.get("vie-du-reseau", [])
    if network:
        chosen.append(network[0])
    others = [i for slug, group in news.items() if slug not in ("vie-du-reseau", FALLBACK) for i in group]
    if others:
        def strength(item: Item) -> tuple:
            published = aware(item.published)
            return (item.score or 0.0, published.timestamp() if published else 0.0)

        chosen.append(max(others, key=strength))
    return chosen[:limit]
