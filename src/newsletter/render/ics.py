"""Calendar files (.ics) for the agenda's "Ajouter à mon agenda" links.

``ics_filename(item)`` is stable for an event (same title, date and URL give
the same name), so the link written in the newsletter and the file the
pipeline writes under ``ics/`` always match.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime, timedelta
from functools import lru_cache

from icalendar import Calendar, Event

from newsletter.models import Item
from newsletter.normalize import PARIS

PRODID = "-//Centres de ressources Politique de la ville//Lettre mensuelle//FR"


def _slug(text: str, limit: int = 50) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "evenement"


def _paris(value: datetime) -> datetime:
    """Naive means Paris time; aware values (fixed offsets from feeds) are converted to Paris."""
    return value.replace(tzinfo=PARIS) if value.tzinfo is None else value.astimezone(PARIS)


def _check(item: Item) -> None:
    if item.start is None:
        raise ValueError(f"event {item.title!r} ({item.url}) has no start date: cannot build a calendar file")


def ics_filename(item: Item) -> str:
    """"2025-12-05-journee-de-qualification-1a2b3c4d.ics": date, slug and a short hash of the URL."""
    _check(item)
    digest = hashlib.sha1(item.key.encode("utf-8")).hexdigest()[:8]
    return f"{item.start:%Y-%m-%d}-{_slug(item.title)}-{digest}.ics"


def event_ics(item: Item) -> bytes:
    """One VEVENT in a VCALENDAR, times in Europe/Paris (or all-day when no hour is known).

    Cached on every field it reads (:func:`_calendar`): each edit on the
    review page re-renders the month, and building the VTIMEZONE is most of
    an event's time."""
    _check(item)
    start, end, published = (d.isoformat() if d is not None else None for d in (item.start, item.end, item.published))
    return _calendar(item.key, item.title, start, end, published, item.location, item.summary,
                     item.registration_url, item.url)


@lru_cache(maxsize=512)
def _calendar(key: str, title: str, start_at: str, end_at: str | None, published_at: str | None,
              location: str | None, summary: str | None, registration_url: str | None, url: str) -> bytes:
    """The calendar of :func:`event_ics` from the event's fields (dates as ISO 8601
    with their offset, so that the cache tells 9:00 in Paris from 9:00 UTC)."""
    start = datetime.fromisoformat(start_at)
    end = datetime.fromisoformat(end_at) if end_at else None
    published = datetime.fromisoformat(published_at) if published_at else None
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{hashlib.sha1(key.encode('utf-8')).hexdigest()}@newsletter")
    event.add("summary", title)
    all_day = (start.hour, start.minute) == (0, 0) and (end is None or (end.hour, end.minute) == (0, 0))
    if all_day:
        first: date = start.date()
        last: date = end.date() if end is not None and end.date() >= first else first
        event.add("dtstart", first)
        event.add("dtend", last + timedelta(days=1))  # DTEND is exclusive for all-day events
    else:
        start = _paris(start)
        event.add("dtstart", start)
        if end is not None and _paris(end) > start:
            event.add("dtend", _paris(end))
        else:
            event.add("duration", timedelta(hours=1))
    stamp = published or datetime(start.year, start.month, start.day, tzinfo=PARIS)
    event.add("dtstamp", _paris(stamp))
    if location:
        event.add("location", location)
    description = [summary] if summary else []
    if registration_url:
        description.append(f"Inscription : {registration_url}")
    description.append(f"Plus d'informations : {url}")
    event.add("description", "\n\n".join(description))
    event.add("url", registration_url or url)
    cal.add_component(event)
    cal.add_missing_timezones()  # VTIMEZONE for Europe/Paris, for Outlook
    return cal.to_ical()
