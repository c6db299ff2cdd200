"""The month's posting plan: which social drafts go out, on which channel, when.

``render.social.social_drafts`` writes a draft for every item on every
platform; ``plan_posts`` picks and dates them the way a communications officer
fills a Buffer or Hootsuite calendar, with the rules of the branding file's
``posting:`` section (``render.branding.Posting``):

- channels: IREV posts on LinkedIn and X (Mastodon and Bluesky available);
- the letter's announcement on its send day (or the configured weekday);
- one post per event about ``event_lead_days`` (14) before it, and a reminder
  ``reminder_lead_days`` (3) before its registration deadline when it has one
  and places are limited;
- the featured items and the month's resources spread evenly over the working
  days up to the plan's horizon (the day before the next letter, one month on);
- every post on a working day (no weekends, no French public holidays, from
  the ``holidays`` library), at one of the channel's preferred times within
  office hours (9:00-18:00), at most ``per_day`` a day and ``per_week`` a week
  (ISO week) per channel, ``min_gap_minutes`` apart; an event's post the day
  before the event at the latest, a reminder before the deadline.

Why greedy rather than an optimiser: candidates are few (tens), the rules are
hard constraints, and the officer must be able to predict the result: the
most time-bound candidates (announcement, then events by date, then
reminders) take their slot first, nearest to their ideal day; featured items
and resources fill the room left, nearest to evenly spread target days.

``Plan.posts`` (what ``social.json`` holds: a list of draft dicts, each with
``id``, ``channel``, ``platform`` and ``scheduled_at``, ISO 8601 with its
offset) and ``Plan.left_out`` (candidates without room, each with ``reason``
and a French ``reason_label``; written to ``plan.json``).

The officer's changes are data, stored in ``DraftEdits.extra["plan"]``::

    {"posts": {post_id: {"scheduled_at": iso, "text": str, "removed": bool}},
     "added": [{"id": left-out id or new, "channel": ..., "scheduled_at": iso, "text": ...}]}

``move_post``, ``edit_post``, ``remove_post`` and ``add_post`` build that data;
``apply_plan_edits`` validates it against the rules and returns the new list
of posts, or raises ``PlanEditError`` with a French message naming the post.
"""

from __future__ import annotations

import calendar as _monthcal
import copy
import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import holidays

from newsletter.errors import UserError
from newsletter.render.branding import Posting
from newsletter.render.frformat import format_date_fr, format_time_fr

PLATFORM_LABELS = {"linkedin": "LinkedIn", "x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky"}
REASONS = {
    "no_room": "plus de place dans le plan (plafonds de publication atteints)",
    "too_late": "trop tard : l'événement ou la date limite arrive avant le premier créneau libre",
    "next_letter": "après la période du plan : à programmer avec la prochaine lettre",
    "not_candidate": "actualité hors « À la une » : non programmée (ajoutez-la si besoin)",
    "too_long": "trop long pour le réseau",
    "no_channel": "réseau non configuré pour le plan",
}
KIND_ORDER = {"announcement": 0, "item": 1, "reminder": 2}


class PlanEditError(UserError):
    """A change to the posting plan breaks one of its rules (message in French, naming the post)."""


@dataclass
class Plan:
    posts: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[dict[str, Any]] = field(default_factory=list)
    send_date: date | None = None
    horizon: date | None = None

    def summary(
        self,
        posting: Posting,
        posts: list[dict[str, Any]] | None = None,
        removed: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """What ``plan.json`` holds: the period, the rules, the counts and the left-out candidates.

        ``posts``: the posts as the officer's edits left them (default: the
        planner's); candidates she added are then no longer "left out", and
        ``removed`` lists the planned posts she took out (so she can put them back).
        """
        final = self.posts if posts is None else posts
        ids = {str(p.get("id")) for p in final}
        return {
            "send_date": self.send_date.isoformat() if self.send_date else None,
            "horizon": self.horizon.isoformat() if self.horizon else None,
            "timezone": posting.timezone,
            "office_hours": [posting.office_start, posting.office_end],
            "channels": [
                {"channel": c.platform, "per_day": c.per_day, "per_week": c.per_week, "times": list(c.times),
                 "planned": sum(1 for p in final if p.get("channel") == c.platform)}
                for c in posting.channels
            ],
            "planned": len(final),
            "left_out": [p for p in self.left_out if str(p.get("id")) not in ids],
            "removed": list(removed or []),
        }


# ------------------------------------------------------------------ calendar


@functools.lru_cache(maxsize=1)
def _french_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("FR")


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a French public holiday."""
    return day.weekday() < 5 and day not in _french_holidays()


def next_working_day(day: date) -> date:
    """``day`` itself when it is a working day, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def default_horizon(send_date: date) -> date:
    """The day before the same day next month: the next letter takes over from there."""
    year, month = (send_date.year + 1, 1) if send_date.month == 12 else (send_date.year, send_date.month + 1)
    last = _monthcal.monthrange(year, month)[1]
    return date(year, month, min(send_date.day, last)) - timedelta(days=1)


def _hm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _aware(value: Any, tz: ZoneInfo) -> datetime | None:
    if value in (None, ""):
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=tz) if when.tzinfo is None else when.astimezone(tz)


def day_label(day: date) -> str:
    return format_date_fr(day)


def when_label(when: datetime) -> str:
    """"mardi 2 décembre 2025 à 10 h"."""
    return f"{format_date_fr(when)} à {format_time_fr(when)}"


# ------------------------------------------------------------------ slots


class _Book:
    """The posts booked on one channel, and the rules they must keep."""

    def __init__(self, posting: Posting, platform: str):
        channel = posting.channel(platform)
        assert channel is not None
        self.posting, self.channel = posting, channel
        self.tz = ZoneInfo(posting.timezone)
        self.times: list[datetime] = []

    def at(self, day: date, hhmm: str) -> datetime:
        return datetime.combine(day, _hm(hhmm), tzinfo=self.tz)

    def problem(self, when: datetime, ignore: datetime | None = None) -> str | None:
        """Why a post at ``when`` breaks a rule (French), or None."""
        when = when.astimezone(self.tz)
        day = when.date()
        label = PLATFORM_LABELS.get(self.channel.platform, self.channel.platform)
        if day.weekday() >= 5:
            return f"le {day_label(day)} est un week-end"
        if day in _french_holidays():
            return f"le {day_label(day)} est un jour férié ({_french_holidays().get(day)})"
        if not _hm(self.posting.office_start) <= when.time() <= _hm(self.posting.office_end):
            return (f"{format_time_fr(when)} est hors des heures de bureau"
                    f" ({self.posting.office_start}–{self.posting.office_end})")
        others = list(self.times)
        if ignore is not None and ignore in others:
            others.remove(ignore)
        same_day = sum(1 for t in others if t.date() == day)
        if same_day >= self.channel.per_day:
            return (f"déjà {same_day} post{'s' if same_day > 1 else ''} {label} le {day_label(day)}"
                    f" (au plus {self.channel.per_day} par jour)")
        week = day.isocalendar()[:2]
        same_week = sum(1 for t in others if t.date().isocalendar()[:2] == week)
        if same_week >= self.channel.per_week:
            return (f"déjà {same_week} posts {label} la semaine du {day_label(day - timedelta(days=day.weekday()))}"
                    f" (au plus {self.channel.per_week} par semaine)")
        gap = timedelta(minutes=self.posting.min_gap_minutes)
        for other in others:
            if abs(other - when) < gap:
                return (f"moins de {self.posting.min_gap_minutes} minutes après ou avant un autre post {label}"
                        f" ({when_label(other)})")
        return None

    def free_time(self, day: date, before: datetime | None, after: datetime | None = None) -> datetime | None:
        for hhmm in self.channel.times:
            when = self.at(day, hhmm)
            if before is not None and when >= before:
                continue
            if after is not None and when <= after:
                continue
            if self.problem(when) is None:
                return when
        return None

    def book(self, when: datetime) -> None:
        self.times.append(when)


def _working_days(start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


# ------------------------------------------------------------------ planning


def _title_of(draft: dict[str, Any]) -> str:
    return str(draft.get("title") or "")


def plan_posts(
    drafts: Iterable[dict[str, Any]],
    posting: Posting,
    *,
    send_date: date,
    horizon: date | None = None,
) -> Plan:
    """Pick and date ``drafts`` (from ``social_drafts(..., reminders=True)``) by ``posting``'s rules.

    ``send_date``: the day the letter goes out (its announcement's day; moved
    to the next working day when it is not one). ``horizon``: last day of the
    plan (default: ``default_horizon(send_date)``).
    """
    send_date = next_working_day(send_date)
    horizon = horizon or default_horizon(send_date)
    tz = ZoneInfo(posting.timezone)
    days = _working_days(send_date, horizon)
    plan = Plan(send_date=send_date, horizon=horizon)

    def leave(draft: dict[str, Any], reason: str) -> None:
        plan.left_out.append(dict(copy.deepcopy(draft), channel=draft.get("platform"), reason=reason,
                                  reason_label=REASONS[reason]))

    by_channel: dict[str, list[dict[str, Any]]] = {}
    for draft in drafts:
        if posting.channel(draft.get("platform", "")) is None:
            continue  # channel not planned: not a candidate at all
        if not draft.get("fits", True):
            leave(draft, "too_long")
            continue
        by_channel.setdefault(draft["platform"], []).append(draft)

    for channel in posting.channels:
        book = _Book(posting, channel.platform)
        candidates = by_channel.get(channel.platform, [])

        def place(draft: dict[str, Any], order: list[date], before: datetime | None) -> bool:
            for day in order:
                when = book.free_time(day, before)
                if when is not None:
                    book.book(when)
                    plan.posts.append(dict(copy.deepcopy(draft), channel=channel.platform,
                                           scheduled_at=when.isoformat()))
                    return True
            return False

        def nearest(target: date, allowed: list[date]) -> list[date]:
            return sorted(allowed, key=lambda d: (abs((d - target).days), d))

        # 1. The announcement, on the send day (or the configured weekday), at its time.
        for draft in (d for d in candidates if d["kind"] == "announcement"):
            day = send_date
            if posting.announcement_weekday is not None:
                while day.weekday() != posting.announcement_weekday or not is_working_day(day):
                    day += timedelta(days=1)
            when = book.at(day, posting.announcement_time)
            if book.problem(when) is None:
                book.book(when)
                plan.posts.append(dict(copy.deepcopy(draft), channel=channel.platform, scheduled_at=when.isoformat()))
            elif not place(draft, [day] + nearest(day, [d for d in days if d > day]), None):
                leave(draft, "no_room")

        # 2. Events, soonest first: about event_lead_days before, the day before at the latest.
        # 3. Then reminders: reminder_lead_days before the deadline, before it in any case.
        timed = [d for d in candidates if d.get("before") and d["kind"] in ("item", "reminder")]
        timed.sort(key=lambda d: (d["kind"] == "reminder", _aware(d["before"], tz), _title_of(d)))
        for draft in timed:
            before = _aware(draft["before"], tz)
            lead = posting.reminder_lead_days if draft["kind"] == "reminder" else posting.event_lead_days
            ideal = before.date() - timedelta(days=lead)
            if draft["kind"] == "item":
                allowed = [d for d in days if d < before.date()]
            else:
                allowed = [d for d in days if d <= before.date()]
            if ideal > horizon:
                leave(draft, "next_letter")
            elif not allowed:
                leave(draft, "too_late")
            elif not place(draft, nearest(ideal, allowed), before):
                leave(draft, "no_room")

        # 4. Featured items, then resources, spread over the days after the send day.
        spread = [d for d in candidates if d["kind"] == "item" and not d.get("before")
                  and (d.get("featured") or d.get("item_kind") == "resource")]
        spread.sort(key=lambda d: not d.get("featured"))
        later = [d for d in days if d > send_date] or days
        for index, draft in enumerate(spread):
            target = later[min(len(later) - 1, (index * len(later)) // max(1, len(spread)))]
            if not place(draft, nearest(target, later), None):
                leave(draft, "no_room")
        for draft in candidates:
            if draft["kind"] == "item" and not draft.get("before") and draft not in spread:
                leave(draft, "not_candidate")

    plan.posts.sort(key=lambda p: (p["scheduled_at"], p["channel"]))
    return plan


# ------------------------------------------------------------------ the officer's changes


def _entry(plan_edits: dict[str, Any] | None) -> dict[str, Any]:
    data = copy.deepcopy(plan_edits) if plan_edits else {}
    data.setdefault("posts", {})
    data.setdefault("added", [])
    return data


def _set(plan_edits: dict[str, Any] | None, post_id: str, key: str, value: str) -> dict[str, Any]:
    """New plan edits with ``key`` of ``post_id`` set: on the added post itself, or as a change of a planned one."""
    data = _entry(plan_edits)
    for added in data["added"]:
        if added.get("id") == post_id:
            added[key] = value
            return data
    data["posts"].setdefault(post_id, {})[key] = value
    return data


def move_post(plan_edits: dict[str, Any] | None, post_id: str, scheduled_at: str) -> dict[str, Any]:
    """New plan edits with ``post_id`` moved to ``scheduled_at`` (validate with ``apply_plan_edits``)."""
    return _set(plan_edits, post_id, "scheduled_at", scheduled_at)


def edit_post(plan_edits: dict[str, Any] | None, post_id: str, text: str) -> dict[str, Any]:
    """New plan edits with ``post_id``'s text replaced (validate with ``apply_plan_edits``)."""
    return _set(plan_edits, post_id, "text", text)


def remove_post(plan_edits: dict[str, Any] | None, post_id: str) -> dict[str, Any]:
    data = _entry(plan_edits)
    before = len(data["added"])
    data["added"] = [a for a in data["added"] if a.get("id") != post_id]
    if len(data["added"]) == before:
        data["posts"].setdefault(post_id, {})["removed"] = True
    return data


def restore_post(plan_edits: dict[str, Any] | None, post_id: str, scheduled_at: str) -> dict[str, Any]:
    """New plan edits with a removed post back in the plan at ``scheduled_at`` (checked again, like a move)."""
    data = _entry(plan_edits)
    change = data["posts"].setdefault(post_id, {})
    change.pop("removed", None)
    change["scheduled_at"] = scheduled_at
    return data


def reset_text(plan_edits: dict[str, Any] | None, post_id: str) -> dict[str, Any]:
    """New plan edits with ``post_id``'s proposed text back (the officer's text dropped)."""
    data = _entry(plan_edits)
    for added in data["added"]:
        if added.get("id") == post_id:
            added.pop("text", None)
            return data
    change = data["posts"].get(post_id)
    if change is not None:
        change.pop("text", None)
        if not change:
            del data["posts"][post_id]
    return data


def add_post(
    plan_edits: dict[str, Any] | None,
    *,
    channel: str,
    scheduled_at: str,
    text: str | None = None,
    from_id: str | None = None,
    url: str | None = None,
    title: str | None = None,
    item_url: str | None = None,
) -> dict[str, Any]:
    """New plan edits with one more post: a left-out candidate (``from_id``) or the officer's own text
    (``title`` and ``item_url``: the item it promotes, when it promotes one)."""
    data = _entry(plan_edits)
    n = len(data["added"]) + 1
    new_id = from_id or f"{channel}:added:{n}"
    while any(a.get("id") == new_id for a in data["added"]):
        n += 1
        new_id = f"{channel}:added:{n}"
    entry: dict[str, Any] = {"id": new_id, "channel": channel, "scheduled_at": scheduled_at}
    if text is not None:
        entry["text"] = text
    if url is not None:
        entry["url"] = url
    if title:
        entry["title"] = title
    if item_url:
        entry["item_url"] = item_url
    if from_id:
        entry["from"] = from_id
    data["added"].append(entry)
    return data


def _post_name(post: dict[str, Any]) -> str:
    label = PLATFORM_LABELS.get(post.get("channel") or post.get("platform"), post.get("platform") or "?")
    title = str(post.get("title") or post.get("text") or "")[:60]
    return f"le post {label} « {title} »"


def _check_text(post: dict[str, Any]) -> None:
    from newsletter.render.social import LIMITS, platform_length

    text = str(post.get("text") or "").strip()
    if not text:
        raise PlanEditError(f"{_post_name(post)} n'a pas de texte")
    platform = post.get("platform")
    post["length"] = platform_length(text, platform)
    post["limit"] = LIMITS[platform]
    post["fits"] = post["length"] <= post["limit"]
    if not post["fits"]:
        raise PlanEditError(
            f"{_post_name(post)} fait {post['length']} caractères, au-delà de la limite de"
            f" {post['limit']} de {PLATFORM_LABELS.get(platform, platform)}"
        )


def _parse_when(value: Any, post: dict[str, Any], tz: ZoneInfo) -> datetime:
    try:
        when = _aware(value, tz)
    except (TypeError, ValueError):
        when = None
    if when is None:
        raise PlanEditError(f"{_post_name(post)} : date et heure illisibles ({value!r}), attendu 2025-12-02T10:00")
    return when


def apply_plan_edits(
    posts: Iterable[dict[str, Any]],
    plan_edits: dict[str, Any] | None,
    posting: Posting,
    *,
    left_out: Iterable[dict[str, Any]] = (),
    skipped: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The planned posts with the officer's moves, texts, removals and additions, checked against the rules.

    Raises ``PlanEditError`` (French, naming the post) when a post would fall on
    a weekend or a public holiday, outside office hours, over a channel's
    daily or weekly cap, too close to another post of its channel, on or after
    its event (or its registration deadline), or when its text is empty or too
    long for its platform; or when an edit names a post the plan does not have.

    With ``skipped`` (a list), nothing is raised: an edit that no longer fits is
    left out and its French reason appended there. That is how a new run of the
    month keeps the officer's plan: the new collection may have removed the
    item a post was about, or given its slot to another post; her other
    changes are kept and the run says which could not be.
    """

    def refuse(error: PlanEditError) -> None:
        if skipped is None:
            raise error
        skipped.append(str(error))

    tz = ZoneInfo(posting.timezone)
    data = _entry(plan_edits)
    current = {str(p.get("id")): dict(p) for p in posts}
    pool = {str(p.get("id")): dict(p) for p in left_out}
    planned_at = {post_id: post.get("scheduled_at") for post_id, post in current.items()}
    changed: set[str] = set()
    for post_id, change in data["posts"].items():
        if post_id not in current:
            if not (skipped is not None and change.get("removed")):  # a removed post the run no longer plans: done
                refuse(PlanEditError(f"le post {post_id} n'est pas dans le plan (déjà retiré ou plan régénéré)"))
            continue
        if change.get("removed"):
            del current[post_id]
            continue
        post = current[post_id]
        if "text" in change:
            proposed = dict(post, text=change["text"], edited=True)
            try:
                _check_text(proposed)
                post.update(proposed)
            except PlanEditError as exc:
                refuse(exc)
        if "scheduled_at" in change:
            try:
                post["scheduled_at"] = _parse_when(change["scheduled_at"], post, tz).isoformat()
                changed.add(post_id)
            except PlanEditError as exc:
                refuse(exc)
    for added in data["added"]:
        try:
            post_id, post = _added_post(added, current, pool, posting, tz)
        except PlanEditError as exc:
            refuse(exc)
            continue
        current[post_id] = post
        changed.add(post_id)

    # Every post moved or added keeps the rules, counted against all the others of its channel.
    books: dict[str, _Book] = {}
    for post in current.values():
        channel = post.get("channel") or post.get("platform")
        if posting.channel(channel) is None:
            continue
        book = books.setdefault(channel, _Book(posting, channel))
        if str(post.get("id")) not in changed:
            book.book(_aware(post["scheduled_at"], tz))
    for post_id in sorted(changed, key=lambda i: current[i]["scheduled_at"]):
        post = current[post_id]
        channel = post.get("channel") or post.get("platform")
        book = books.setdefault(channel, _Book(posting, channel))
        try:
            _check_slot(post, book, tz)
        except PlanEditError as exc:
            refuse(exc)
            if post_id not in planned_at:  # an added post that no longer fits is left out
                del current[post_id]
                continue
            post["scheduled_at"] = planned_at[post_id]  # a moved post goes back to the planner's slot
        book.book(_aware(post["scheduled_at"], tz))
    return sorted(current.values(), key=lambda p: (p["scheduled_at"], p.get("channel") or ""))


def _added_post(added: dict[str, Any], current: dict[str, Any], pool: dict[str, Any], posting: Posting,
                tz: ZoneInfo) -> tuple[str, dict[str, Any]]:
    """A post the officer added (a left-out candidate or her own), checked alone."""
    from newsletter.render.social import LIMITS

    post_id = str(added.get("id") or "")
    if post_id in current:
        raise PlanEditError(f"le post {post_id} est déjà dans le plan")
    if added.get("from"):
        if added["from"] not in pool:
            raise PlanEditError(f"le post {added['from']} n'est pas parmi les posts laissés de côté")
        post = {k: v for k, v in pool[added["from"]].items() if k not in ("reason", "reason_label")}
    else:
        post = {"kind": "custom", "item_kind": None, "title": added.get("title") or "", "url": added.get("url"),
                "item_url": added.get("item_url"), "image": None, "category": None, "tags": [], "before": None, "featured": False}
    channel = added.get("channel") or post.get("channel") or post.get("platform")
    if posting.channel(channel) is None or channel not in LIMITS:
        raise PlanEditError(f"le réseau {channel!r} n'est pas dans le plan"
                            f" ({', '.join(PLATFORM_LABELS.get(c.platform, c.platform) for c in posting.channels)})")
    post.update(id=post_id, channel=channel, platform=channel, added=True)
    if "text" in added:
        post["text"] = added["text"]
    _check_text(post)
    post["scheduled_at"] = _parse_when(added.get("scheduled_at"), post, tz).isoformat()
    return post_id, post


def _check_slot(post: dict[str, Any], book: "_Book", tz: ZoneInfo) -> None:
    """Raise PlanEditError when a moved or added post breaks a rule of its channel's calendar."""
    when = _aware(post["scheduled_at"], tz)
    before = _aware(post.get("before"), tz)
    if before is not None and when >= before:
        what = "la date limite d'inscription" if post.get("kind") == "reminder" else "l'événement"
        raise PlanEditError(f"{_post_name(post)} doit partir avant {what} ({when_label(before)})")
    if before is not None and post.get("kind") == "item" and when.date() >= before.date():
        raise PlanEditError(f"{_post_name(post)} doit partir au plus tard la veille de l'événement"
                            f" ({day_label(before.date())})")
    problem = book.problem(when)
    if problem:
        raise PlanEditError(f"{_post_name(post)} ne peut pas partir le {when_label(when)} : {problem}")


def calendar(posts: Iterable[dict[str, Any]], tz: str = "Europe/Paris") -> list[dict[str, Any]]:
    """The plan as a calendar list: one entry per day, its French label and its posts in time order."""
    zone = ZoneInfo(tz)
    days: dict[date, list[dict[str, Any]]] = {}
    for post in sorted(posts, key=lambda p: p["scheduled_at"]):
        when = _aware(post["scheduled_at"], zone)
        days.setdefault(when.date(), []).append(dict(post, time_label=format_time_fr(when)))
    return [{"day": d.isoformat(), "label": day_label(d), "posts": ps} for d, ps in sorted(days.items())]


def removed_posts(posts: Iterable[dict[str, Any]], plan_edits: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The planned posts the officer removed (as they were), so that the review page can offer them back."""
    data = _entry(plan_edits)
    gone = {post_id for post_id, change in data["posts"].items() if change.get("removed")}
    return [dict(p) for p in posts if str(p.get("id")) in gone]


def free_slot(
    posts: Iterable[dict[str, Any]],
    candidate: dict[str, Any],
    posting: Posting,
    *,
    start: date,
    end: date,
    now: datetime | None = None,
) -> datetime | None:
    """The slot the planner would give ``candidate`` now that ``posts`` are booked, or None.

    A working day from ``start`` to ``end`` (the plan's period), at one of its
    channel's times, keeping every rule against the channel's other posts;
    nearest to the candidate's ideal day (an event ``event_lead_days`` before
    it, a reminder ``reminder_lead_days`` before the deadline, anything else
    as soon as possible), before its event or deadline. With ``now`` (aware),
    never a time already past: a draft opened late is offered the slots left.
    """
    tz = ZoneInfo(posting.timezone)
    channel = candidate.get("channel") or candidate.get("platform")
    if posting.channel(channel) is None:
        return None
    book = _Book(posting, channel)
    for post in posts:
        if (post.get("channel") or post.get("platform")) == channel and post.get("id") != candidate.get("id"):
            book.book(_aware(post["scheduled_at"], tz))
    before = _aware(candidate.get("before"), tz)
    last, ideal = end, start
    if before is not None:
        if candidate.get("kind") == "reminder":
            last, ideal = min(end, before.date()), before.date() - timedelta(days=posting.reminder_lead_days)
        else:
            last, ideal = min(end, before.date() - timedelta(days=1)), before.date() - timedelta(days=posting.event_lead_days)
    after = now.astimezone(tz) if now is not None else None
    if after is not None:
        start, ideal = max(start, after.date()), max(ideal, after.date())
    for day in sorted(_working_days(start, last), key=lambda d: (abs((d - ideal).days), d)):
        when = book.free_time(day, before, after)
        if when is not None:
            return when
    return None


def is_past(value: str, timezone: str, now: datetime) -> bool:
    """Whether a plan time (``"2026-12-02T10:00"``, in the plan's ``timezone`` unless it has an
    offset) is at or before ``now`` (aware): Buffer would post it at once."""
    when = _aware(value, ZoneInfo(timezone))
    return when is not None and when <= now


KIND_LABELS = {
    "announcement": "annonce de la lettre",
    "reminder": "rappel d'inscription",
    "custom": "post ajouté",
}
ITEM_KIND_LABELS = {"event": "événement", "resource": "ressource", "article": "actualité", "press": "presse"}


def kind_label(post: dict[str, Any]) -> str:
    """What a post is about, as the officer's calendar says it: "annonce de la lettre", "événement",
    "rappel d'inscription", "à la une", "ressource", "actualité" or "post ajouté"."""
    kind = post.get("kind")
    if kind in KIND_LABELS:
        return KIND_LABELS[kind]
    if post.get("item_kind") == "event":
        return "événement"
    if post.get("featured"):
        return "à la une"
    return ITEM_KIND_LABELS.get(post.get("item_kind") or "", "élément")
