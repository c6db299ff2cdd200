"""French event text -> facts: event dates and hours, registration deadlines, places.

Pure functions, no I/O. Every datetime returned is aware, in Europe/Paris.
``today`` is always passed in so that results are deterministic.

Text is first *folded*: lower-cased, accents removed, typographic apostrophes
(’ ‘ ʼ) turned into ', dashes (– —) into -, and whitespace (including
non-breaking spaces) collapsed. So "DÉCEMBRE", "décembre", "decembre" and
"déc." all read the same, as do "jusqu’au" and "jusqu'au".

Forms understood (a focused regular grammar, more reliable on event pages than a
general-purpose parser; dateparser is only a fallback for short texts that the
grammar does not recognise and that give day, month and year):

- dates: "Vendredi 5 décembre 2025", "5 déc. 2025", "1er décembre", "le 05/12/2025",
  "2025-12-05", ranges "du 3 au 5 juin", "du 30 juin au 2 juillet 2026",
  "du 03/06/2026 au 05/06/2026", "les 3 et 4 juin", "3-5 juin";
- hours: "9H30-12H30 / 13H30-16H15", "9H30-12H30-13H30-16H15" (read as two
  ranges), "de 14h à 15h", "14h-15h30", "de 9h à midi", "16:15", "14 heures".

A weekday that does not agree with the date ("lundi 5 décembre 2025") is ignored:
the date wins.

Year inference (when the year is left out): an event date is the next occurrence
of that day and month on or after ``today`` minus ``YEAR_GRACE_DAYS`` (30) days.
So on 22 November 2026, "le 5 décembre" is 5 December 2026, "le 1er novembre" is
1 November 2026 (recently past, within the grace) and "le 10 octobre" is
10 October 2027. A publication date (``parse_date(..., past=True)``) is instead
the latest occurrence on or before ``today`` plus one day.

All-day events: ``EventWhen.all_day`` is True, ``start`` is midnight of the first
day and ``end`` is midnight of the LAST day (inclusive) for a range, else None.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from newsletter.normalize import PARIS
YEAR_GRACE_DAYS = 30
# A registration deadline without a time closes at the end of that day.
DEADLINE_TIME = time(23, 59)


@dataclass(frozen=True)
class EventWhen:
    start: datetime
    end: datetime | None
    all_day: bool


# --------------------------------------------------------------------------- folding

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_DASHES = re.compile(r"[\u2010\u2011\u2012\u2013\u2014\u2212]")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, accents removed, apostrophes/dashes/spaces unified."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.translate(_APOSTROPHES)
    text = _DASHES.sub("-", text)
    return _SPACES.sub(" ", text.lower()).strip()


# --------------------------------------------------------------------------- grammar

# French month names and abbreviations, folded (see fold()), to month numbers.
MONTHS = {
    "janvier": 1, "janv": 1, "jan": 1,
    "fevrier": 2, "fevr": 2, "fev": 2,
    "mars": 3, "mar": 3,
    "avril": 4, "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7, "juil": 7,
    "aout": 8, "aou": 8,
    "septembre": 9, "sept": 9, "sep": 9,
    "octobre": 10, "oct": 10,
    "novembre": 11, "nov": 11,
    "decembre": 12, "dec": 12,
}  # fmt: skip
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")(?![a-z])\.?"
_WEEKDAY = r"(?:(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\.?,?\s+)?"
_DAY = r"(?<![\d/.:-])[0-3]?\d(?:er|e)?(?!\d)"
_DAY2 = r"[0-3]?\d(?:er|e)?(?!\d)"  # second day of a range may follow "-"
_YEAR = r"(?:19|20)\d{2}(?!\d)"


def _g(name: str, pattern: str) -> str:
    return f"(?P<{name}>{pattern})"


# "du 3 au 5 juin", "du 30 juin au 2 juillet 2026", "du lundi 3 juin 2026 au mercredi 5 juin 2026"
_RANGE_TEXT = re.compile(
    r"\b(?:du|entre le|entre)\s+"
    + _WEEKDAY + _g("d1", _DAY)
    + r"(?:\s*" + _g("m1", _MONTH) + r"(?:\s+" + _g("y1", _YEAR) + r")?)?"
    + r"\s*(?:au|-|et le|et)\s+"
    + _WEEKDAY + _g("d2", _DAY2) + r"\s*" + _g("m2", _MONTH)
    + r"(?:,?\s+" + _g("y2", _YEAR) + r")?"
)
# "les 3 et 4 juin", "3-5 juin", "3 au 5 juin 2026"
_RANGE_SHORT = re.compile(
    r"(?:\bles\s+)?" + _g("d1", _DAY) + r"\s*(?:-|au|et)\s*" + _g("d2", _DAY2)
    + r"\s+" + _g("m2", _MONTH) + r"(?:,?\s+" + _g("y2", _YEAR) + r")?"
)
_NUM = r"(?<![\d/.-])([0-3]?\d)[/.-]([01]?\d)[/.-]((?:19|20)?\d{2})(?![\d/.-])"
_RANGE_NUM = re.compile(r"\b(?:du|entre le|entre)\s+" + _NUM + r"\s*(?:au|-|et le|et)\s*" + _NUM)
_SINGLE_TEXT = re.compile(
    _WEEKDAY + _g("d1", _DAY) + r"\s*" + _g("m1", _MONTH) + r"(?:,?\s+" + _g("y1", _YEAR) + r")?"
)
_SINGLE_NUM = re.compile(_NUM)
_ISO = re.compile(r"(?<!\d)((?:19|20)\d{2})-(\d{2})-(\d{2})(?!\d)")

_TIME = re.compile(
    r"(?<![\d:/.,])(?:"
    r"(?P<h>[01]?\d|2[0-3])\s?h(?:eures?)?\s?(?P<mi>[0-5]\d)?(?![\d])(?![a-z])"
    r"|(?P<h2>[01]?\d|2[0-3]):(?P<mi2>[0-5]\d)(?![\d:])"
    r"|(?P<noon>\bmidi\b)"
    r")"
)
_TIME_LINK = re.compile(r"^\s*(?:-|a|au|jusqu'a|jusqu'au)\s*$")


@dataclass
class _DateExpr:
    pos: int
    end_pos: int
    d1: int
    m1: int | None
    y1: int | None
    d2: int | None = None
    m2: int | None = None
    y2: int | None = None

    @property
    def has_year(self) -> bool:
        return self.y1 is not None or self.y2 is not None


def _day(value: str) -> int:
    return int(re.sub(r"\D", "", value))


def _month(value: str | None) -> int | None:
    if not value:
        return None
    return MONTHS[value.rstrip(".")]


def _year(value: str | None) -> int | None:
    if not value:
        return None
    year = int(value)
    return year + 2000 if year < 100 else year


def _find_dates(folded: str) -> list[_DateExpr]:
    """Every date expression in folded text, in text order, ranges winning over overlaps."""
    found: list[_DateExpr] = []
    for m in _RANGE_TEXT.finditer(folded):
        found.append(
            _DateExpr(m.start(), m.end(), _day(m["d1"]), _month(m["m1"]), _year(m["y1"]),
                      _day(m["d2"]), _month(m["m2"]), _year(m["y2"]))
        )
    for m in _RANGE_NUM.finditer(folded):
        g = m.groups()
        found.append(
            _DateExpr(m.start(), m.end(), int(g[0]), int(g[1]), _year(g[2]),
                      int(g[3]), int(g[4]), _year(g[5]))
        )
    for m in _RANGE_SHORT.finditer(folded):
        found.append(
            _DateExpr(m.start(), m.end(), _day(m["d1"]), None, None,
                      _day(m["d2"]), _month(m["m2"]), _year(m["y2"]))
        )
    for m in _SINGLE_TEXT.finditer(folded):
        found.append(_DateExpr(m.start(), m.end(), _day(m["d1"]), _month(m["m1"]), _year(m["y1"])))
    for m in _SINGLE_NUM.finditer(folded):
        found.append(_DateExpr(m.start(), m.end(), int(m[1]), int(m[2]), _year(m[3])))
    for m in _ISO.finditer(folded):
        found.append(_DateExpr(m.start(), m.end(), int(m[3]), int(m[2]), int(m[1])))
    # Keep the longest expression where several overlap (a range over its parts).
    found.sort(key=lambda e: (e.pos, -(e.end_pos - e.pos)))
    kept: list[_DateExpr] = []
    for expr in found:
        if kept and expr.pos < kept[-1].end_pos:
            continue
        kept.append(expr)
    return kept


def _infer(month: int, day: int, today: date, *, past: bool = False) -> date | None:
    """The date for a day and month given without a year (see the module docstring)."""
    years = range(today.year + 1, today.year - 9, -1) if past else range(today.year - 1, today.year + 9)
    for year in years:
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if past and candidate <= today + timedelta(days=1):
            return candidate
        if not past and candidate >= today - timedelta(days=YEAR_GRACE_DAYS):
            return candidate
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _resolve(expr: _DateExpr, today: date, *, past: bool = False) -> tuple[date, date | None] | None:
    """Turn an expression into (first day, last day or None); None if it is not a real date."""
    if expr.d2 is None:
        if expr.m1 is None:
            return None
        if expr.y1 is not None:
            first = _safe_date(expr.y1, expr.m1, expr.d1)
        else:
            first = _infer(expr.m1, expr.d1, today, past=past)
        return (first, None) if first else None
    m2 = expr.m2
    m1 = expr.m1
    if m2 is None:
        return None
    if m1 is None:  # "du 3 au 5 juin"; "du 30 au 2 juillet" spans two months
        m1 = m2 if expr.d1 <= expr.d2 else (m2 - 2) % 12 + 1
    wraps = (m1, expr.d1) > (m2, expr.d2)  # "du 28 décembre au 3 janvier"
    if expr.y2 is not None:
        y2 = expr.y2
        y1 = expr.y1 if expr.y1 is not None else (y2 - 1 if wraps else y2)
    elif expr.y1 is not None:
        y1 = expr.y1
        y2 = y1 + 1 if wraps else y1
    else:
        first = _infer(m1, expr.d1, today, past=past)
        if first is None:
            return None
        y1 = first.year
        y2 = y1 + 1 if wraps else y1
    first = _safe_date(y1, m1, expr.d1)
    last = _safe_date(y2, m2, expr.d2)
    if first is None:
        return None
    if last is None or last < first:
        return first, None
    return first, (last if last != first else None)


def _pick(exprs: list[_DateExpr]) -> list[_DateExpr]:
    """Candidates in preference order: expressions that give their year first, then text order."""
    return [e for e in exprs if e.has_year] + [e for e in exprs if not e.has_year]


def _time_tokens(folded: str) -> list[tuple[int, int, time]]:
    tokens = []
    for m in _TIME.finditer(folded):
        if m["noon"]:
            value = time(12, 0)
        elif m["h"] is not None:
            value = time(int(m["h"]), int(m["mi"] or 0))
        else:
            value = time(int(m["h2"]), int(m["mi2"]))
        tokens.append((m.start(), m.end(), value))
    return tokens


def _time_chains(folded: str) -> list[list[time]]:
    """Times joined by "-", "à", "au": "9h30-12h30-13h30-16h15" is one chain of four."""
    chains: list[list[time]] = []
    previous_end = None
    for start, end, value in _time_tokens(folded):
        if chains and previous_end is not None and _TIME_LINK.match(folded[previous_end:start]):
            chains[-1].append(value)
        else:
            chains.append([value])
        previous_end = end
    return chains


# --------------------------------------------------------------------------- public API


def parse_hours(text: str) -> list[tuple[time, time]]:
    """Time ranges in ``text``, in order.

    "9H30-12H30 / 13H30-16H15" and "9H30-12H30-13H30-16H15" both give
    [(09:30, 12:30), (13:30, 16:15)]; "de 14h à 15h" gives [(14:00, 15:00)].
    A lone time ("à 14h") is not a range and is not returned.
    """
    ranges: list[tuple[time, time]] = []
    for chain in _time_chains(fold(text)):
        for i in range(0, len(chain) - 1, 2):
            ranges.append((chain[i], chain[i + 1]))
    return ranges


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=PARIS)


def parse_event_when(text: str, *, today: date) -> EventWhen | None:
    """When an event takes place, read from French text; None if no date is found.

    The date and the hours may be anywhere in the text ("Journée le 5 décembre
    2024 ... horaires 9H30-12H30-13H30-16H15" starts 09:30 and ends 16:15).
    When several dates appear, the first that gives its year wins, else the first.
    """
    folded = fold(text)
    if not folded:
        return None
    span = None
    for expr in _pick(_find_dates(folded)):
        span = _resolve(expr, today)
        if span:
            break
    if span is None:
        span = _dateparser_fallback(text, today)
        if span is None:
            return None
    first, last = span
    chains = _time_chains(folded)
    ranges = [(c[i], c[i + 1]) for c in chains for i in range(0, len(c) - 1, 2)]
    if ranges:
        start = _at(first, ranges[0][0])
        end = _at(last or first, ranges[-1][1])
        if end <= start:
            end = end + timedelta(days=1)  # "20h-2h" ends the next morning
        return EventWhen(start, end, False)
    if chains:
        start = _at(first, chains[0][0])
        end = _at(last, DEADLINE_TIME) if last else None
        return EventWhen(start, end, False)
    return EventWhen(_at(first, time(0)), _at(last, time(0)) if last else None, True)


def parse_date(text: str, *, today: date, past: bool = False) -> date | None:
    """The first calendar date in ``text`` (first with a year, else first).

    ``past=True`` suits publication dates: a year left out means the latest
    occurrence on or before ``today`` (plus one day).
    """
    folded = fold(text)
    for expr in _pick(_find_dates(folded)):
        span = _resolve(expr, today, past=past)
        if span:
            return span[0]
    span = _dateparser_fallback(text, today)
    return span[0] if span else None


_DEADLINE_TRIGGER = re.compile(
    r"\b(?:date limite|limite|cloture|avant|jusqu'(?:au|a)|au plus tard|d'ici)\b"
)
_DEADLINE_CONTEXT = re.compile(r"inscri|candidat|repon|reserv|limite|cloture")


def parse_deadline(text: str, *, today: date) -> datetime | None:
    """A registration deadline: "inscription avant le 3 juin", "inscriptions jusqu'au
    28 novembre", "date limite d'inscription : 02/12/2025".

    The date must follow a deadline word (avant, jusqu'au, date limite, clôture,
    au plus tard). In long text (over 80 characters) the deadline word must also
    come with a registration word (inscription, candidature, réponse,
    réservation) in the 60 characters before it, so that "exposition jusqu'au
    30 juin" in a page body is not taken for a deadline. Without a time the
    deadline is 23:59 that day.
    """
    folded = fold(text)
    short = len(folded) <= 80
    for trigger in _DEADLINE_TRIGGER.finditer(folded):
        if not short:
            before = folded[max(0, trigger.start() - 60) : trigger.end()]
            if not _DEADLINE_CONTEXT.search(before):
                continue
        window = folded[trigger.end() : trigger.end() + 70]
        exprs = _find_dates(window)
        if not exprs or exprs[0].pos > 40:
            continue
        span = _resolve(exprs[0], today)
        if not span:
            continue
        day = span[1] or span[0]
        after = window[exprs[0].end_pos : exprs[0].end_pos + 15]
        tokens = _time_tokens(after)
        moment = tokens[0][2] if tokens else DEADLINE_TIME
        return _at(day, moment)
    return None


_PLACES_NUMBERED = [
    re.compile(r"places?\s+limitee?s?\s*(?:a\s+|\(\s*|:\s*)(\d+)"),
    re.compile(r"limitee?s?\s+a\s+(\d+)\s+(?:places|participants|personnes|inscrits|participant\.e\.s)"),
    re.compile(r"(\d+)\s+(?:places|participants maximum|personnes maximum)\b"),
    re.compile(r"(?:maximum|max\.?|jauge\s*:?)\s+(?:de\s+)?(\d+)\s+(?:places|participants|personnes)"),
]
_PLACES_LIMITED = re.compile(
    r"places?\s+(?:limitee?s?|restreintes?)|nombre de places limite|limite des places"
    r"|jauge limitee|places sont limitees"
)


def parse_places(text: str) -> tuple[bool, int | None]:
    """(places limited?, how many) from French text.

    "Attention, nombre de places limité (20)" -> (True, 20); "20 places" -> (True, 20);
    "places limitées" or "dans la limite des places disponibles" -> (True, None);
    nothing about places -> (False, None). A number, where one is given, wins.
    """
    folded = fold(text)
    for pattern in _PLACES_NUMBERED:
        m = pattern.search(folded)
        if m:
            return True, int(m.group(1))
    if _PLACES_LIMITED.search(folded):
        return True, None
    return False, None


def _dateparser_fallback(text: str, today: date) -> tuple[date, None] | None:
    """Short texts the grammar missed, when dateparser finds day, month and year."""
    if not text or len(text) > 80 or not re.search(r"\d", text):
        return None
    import dateparser  # slow to import; only needed here

    parsed = dateparser.parse(
        text,
        languages=["fr"],
        settings={
            "RELATIVE_BASE": datetime.combine(today, time(12)),
            "REQUIRE_PARTS": ["day", "month", "year"],
            "DATE_ORDER": "DMY",
        },
    )
    return (parsed.date(), None) if parsed else None
