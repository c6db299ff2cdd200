"""French date and time formatting for subscriber-facing text, through Babel.

Every date a subscriber reads goes through here so that the newsletter, the
plain-text part, the web archive and the social drafts agree::

    format_date_fr(date(2025, 12, 5))      -> "vendredi 5 décembre 2025"
    format_month_fr(date(2025, 12, 1))     -> "décembre 2025"
    format_hours_fr(start, end)            -> "9 h 30 – 16 h 15"
    format_event_when_fr(start, end)       -> "vendredi 5 décembre 2025, 9 h 30 – 16 h 15"
"""

from __future__ import annotations

from datetime import date, datetime, time

from babel.dates import format_date, format_time

LOCALE = "fr_FR"


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def format_date_fr(value: date | datetime, *, weekday: bool = True, year: bool = True) -> str:
    """"vendredi 5 décembre 2025" (the French "1er" for the first day of a month)."""
    d = _as_date(value)
    day = "1er" if d.day == 1 else str(d.day)
    parts = []
    if weekday:
        parts.append(format_date(d, "EEEE", locale=LOCALE))
    parts.append(day)
    parts.append(format_date(d, "MMMM", locale=LOCALE))
    if year:
        parts.append(str(d.year))
    return " ".join(parts)


def format_short_date_fr(value: date | datetime) -> str:
    """"5 déc. 2025": compact form for the press watch and the archive index."""
    return format_date(_as_date(value), "d MMM y", locale=LOCALE)


def format_month_fr(value: date | datetime) -> str:
    """"décembre 2025" (stand-alone month name, lower case as French writes it)."""
    return format_date(_as_date(value), "LLLL y", locale=LOCALE)


def format_time_fr(value: time | datetime) -> str:
    """"9 h 30", "16 h" (no minutes on the hour), as French typography writes hours."""
    t = value.timetz() if isinstance(value, datetime) else value
    pattern = "H 'h'" if t.minute == 0 else "H 'h' mm"
    return format_time(t, pattern, locale=LOCALE)


def has_time(value: datetime | None) -> bool:
    """True when ``value`` carries a time of day (midnight means "date only")."""
    return isinstance(value, datetime) and (value.hour, value.minute) != (0, 0)


def format_hours_fr(start: datetime | None, end: datetime | None = None) -> str:
    """"9 h 30 – 16 h 15", "à partir de 9 h 30", or "" when no hour is known."""
    if not has_time(start):
        return ""
    if end is not None and has_time(end) and _as_date(end) == _as_date(start) and end > start:
        return f"{format_time_fr(start)} – {format_time_fr(end)}"
    return f"à partir de {format_time_fr(start)}"


def format_event_when_fr(start: datetime | date, end: datetime | date | None = None) -> str:
    """The date (or date range) of an event, with hours when known.

    "vendredi 5 décembre 2025, 9 h 30 – 16 h 15";
    "du lundi 1er décembre au mercredi 3 décembre 2025" for several days.
    """
    if end is not None and _as_date(end) > _as_date(start):
        first = format_date_fr(start, year=_as_date(start).year != _as_date(end).year)
        return f"du {first} au {format_date_fr(end)}"
    text = format_date_fr(start)
    hours = format_hours_fr(start, end) if isinstance(start, datetime) else ""
    return f"{text}, {hours}" if hours else text
