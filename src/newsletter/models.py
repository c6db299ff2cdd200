"""Plain data models shared by every stage of the pipeline.

Nothing here does I/O. Every model converts to and from JSON-friendly dicts
(datetimes as ISO 8601 strings) so that stages can be chained through JSON
Lines on the command line.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

KINDS = ("article", "event", "resource", "press")

# Error categories a source can fail with (see collect.py). A source never
# raises out of the collector: it yields items or one of these.
ERROR_TIMEOUT = "timeout"
ERROR_CONNECTION = "connection"
ERROR_HTTP_STATUS = "http_status"
ERROR_TOO_LARGE = "too_large"
ERROR_NOT_A_FEED = "not_a_feed"
ERROR_PARSE = "parse_error"
ERROR_SELECTOR_EMPTY = "selector_empty"
ERROR_INVALID_SOURCE = "invalid_source"
ERROR_CATEGORIES = (
    ERROR_TIMEOUT,
    ERROR_CONNECTION,
    ERROR_HTTP_STATUS,
    ERROR_TOO_LARGE,
    ERROR_NOT_A_FEED,
    ERROR_PARSE,
    ERROR_SELECTOR_EMPTY,
    ERROR_INVALID_SOURCE,
)
# Errors worth retrying: the same request may succeed a moment later.
TRANSIENT_ERRORS = (ERROR_TIMEOUT, ERROR_CONNECTION)


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value))


@dataclass
class Item:
    """One thing worth telling subscribers about: an article, event, resource or press story."""

    kind: str
    title: str
    url: str
    source: str = ""
    published: datetime | None = None
    summary: str = ""
    image: str | None = None
    image_alt: str | None = None
    # Press watch: the outlet that published the story, and the other outlets
    # and links merged into this item by the dedupe step.
    outlet: str | None = None
    outlets: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    # URLs of other kept items that may be the same story (dedupe's suggestions).
    suggested: list[str] = field(default_factory=list)
    # Events.
    start: datetime | None = None
    end: datetime | None = None
    location: str | None = None
    registration_url: str | None = None
    registration_deadline: datetime | None = None
    places: int | None = None
    places_limited: bool = False
    audience: str | None = None
    contact: str | None = None
    # Curation.
    canonical_url: str | None = None
    category: str | None = None
    score: float | None = None
    updated: bool = False
    featured: bool = False
    # Anything else a stage wants to carry along (kept through JSON).
    extra: dict[str, Any] = field(default_factory=dict)

    DATETIME_FIELDS = ("published", "start", "end", "registration_deadline")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (ISO dates); copies, never the item's own lists.

        Written by hand rather than with ``dataclasses.asdict`` (a recursive
        deep copy): the state store serialises thousands of items per run.
        """
        data = {name: getattr(self, name) for name in _ITEM_FIELDS}
        for name in self.DATETIME_FIELDS:
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        data["outlets"] = list(self.outlets)
        data["merged"] = list(self.merged)
        data["suggested"] = list(self.suggested)
        data["extra"] = copy.deepcopy(self.extra) if self.extra else {}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Item":
        """Build an item from a dict; unknown keys go to ``extra``.

        Raises ValueError naming the field when a required field is missing
        or a date cannot be read.
        """
        if not data.get("title"):
            raise ValueError("item has no 'title'")
        if not data.get("url"):
            raise ValueError("item has no 'url'")
        if data.keys() <= _ITEM_FIELD_SET:  # the common case: what to_dict() wrote
            kwargs = dict(data)
            extra = dict(kwargs.pop("extra", None) or {})
        else:
            kwargs, extra = {}, dict(data.get("extra") or {})
            for key, value in data.items():
                if key in _ITEM_FIELD_SET:
                    if key != "extra":
                        kwargs[key] = value
                else:
                    extra[key] = value
        kwargs["kind"] = kwargs.get("kind") or "article"
        for name in cls.DATETIME_FIELDS:
            value = kwargs.get(name)
            if value is not None and not isinstance(value, datetime):
                try:
                    kwargs[name] = _parse_dt(value)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"field {name!r}: cannot read date {value!r}") from exc
        for name in ("outlets", "merged", "suggested"):
            kwargs[name] = list(kwargs.get(name) or ())
        kwargs["extra"] = extra
        if cls is Item and _ITEM_IS_PLAIN and len(kwargs) == len(_ITEM_FIELDS):
            # Every field given: fill the instance directly, ~3x faster than
            # __init__ (a 304 rebuilds thousands of cached items). Equivalent
            # while Item is a plain dataclass (no __post_init__, no slots).
            item = object.__new__(cls)
            item.__dict__.update(kwargs)
            return item
        return cls(**kwargs)

    @property
    def key(self) -> str:
        """The identity used for dedupe and history: canonical URL when known."""
        return self.canonical_url or self.url


_ITEM_FIELDS = tuple(f.name for f in dataclasses.fields(Item))
_ITEM_FIELD_SET = frozenset(_ITEM_FIELDS)
_ITEM_IS_PLAIN = not hasattr(Item, "__post_init__") and not hasattr(Item, "__slots__")


@dataclass
class SourceError:
    """Why a source yielded nothing this run. ``category`` is one of ERROR_CATEGORIES."""

    category: str
    message: str
    http_status: int | None = None
    retry_after: float | None = None

    @property
    def transient(self) -> bool:
        if self.category in TRANSIENT_ERRORS:
            return True
        return self.category == ERROR_HTTP_STATUS and self.http_status is not None and (
            self.http_status == 429 or self.http_status >= 500
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return f"{self.category}: {self.message}"


@dataclass
class SourceResult:
    """What one source gave this run: items, or an error; ``not_modified`` on a 304."""

    source: str
    kind: str
    items: list[Item] = field(default_factory=list)
    error: SourceError | None = None
    not_modified: bool = False
    warnings: list[str] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    elapsed: float = 0.0
    # Filled when the result is recorded in the state store.
    consecutive_failures: int = 0
    needs_attention: bool = False
    # Items of this source dropped because they could not be used (bad link,
    # parse, classification or rendering failure): {"source", "title", "url",
    # "stage", "reason"}. A source with dropped items is not recorded as
    # healthy: its validators are not kept, so the next run reads it again.
    dropped: list[dict[str, Any]] = field(default_factory=list)
    # Retries the collector made after transient failures (timeouts, 429, 5xx).
    retries: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "items": [item.to_dict() for item in self.items],
            "error": self.error.to_dict() if self.error else None,
            "not_modified": self.not_modified,
            "warnings": list(self.warnings),
            "etag": self.etag,
            "last_modified": self.last_modified,
            "elapsed": self.elapsed,
            "consecutive_failures": self.consecutive_failures,
            "needs_attention": self.needs_attention,
            "dropped": [dict(d) for d in self.dropped],
            "retries": self.retries,
        }


@dataclass
class Issue:
    """One monthly issue, curated and ready to render."""

    month: date  # first day of the issue's month
    today: date  # the day the issue is prepared (agenda starts here)
    featured: list[Item] = field(default_factory=list)  # "À la une"
    agenda: list[Item] = field(default_factory=list)  # upcoming events, sorted by start
    news: dict[str, list[Item]] = field(default_factory=dict)  # category slug -> articles
    resources: list[Item] = field(default_factory=list)
    press: list[Item] = field(default_factory=list)
    editorial: str | None = None
    category_labels: dict[str, str] = field(default_factory=dict)  # slug -> French label

    def all_items(self) -> list[Item]:
        """Every item once, in display order. A featured item also sits in its
        section; the two are one item by key (canonical URL), not by object:
        after the ``issue.json`` round trip they are two equal objects."""
        seen: set[str] = set()
        out: list[Item] = []
        groups = [self.featured, self.agenda, *self.news.values(), self.resources, self.press]
        for group in groups:
            for item in group:
                if item.key not in seen:
                    seen.add(item.key)
                    out.append(item)
        return out

    def counts(self) -> dict[str, int]:
        return {
            "featured": len(self.featured),
            "agenda": len(self.agenda),
            "news": sum(len(v) for v in self.news.values()),
            "resources": len(self.resources),
            "press": len(self.press),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month.isoformat(),
            "today": self.today.isoformat(),
            "featured": [i.to_dict() for i in self.featured],
            "agenda": [i.to_dict() for i in self.agenda],
            "news": {k: [i.to_dict() for i in v] for k, v in self.news.items()},
            "resources": [i.to_dict() for i in self.resources],
            "press": [i.to_dict() for i in self.press],
            "editorial": self.editorial,
            "category_labels": dict(self.category_labels),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Issue":
        def items(values: list[dict[str, Any]]) -> list[Item]:
            return [Item.from_dict(v) for v in values]

        return cls(
            month=date.fromisoformat(data["month"]),
            today=date.fromisoformat(data["today"]),
            featured=items(data.get("featured", [])),
            agenda=items(data.get("agenda", [])),
            news={k: items(v) for k, v in (data.get("news") or {}).items()},
            resources=items(data.get("resources", [])),
            press=items(data.get("press", [])),
            editorial=data.get("editorial"),
            category_labels=dict(data.get("category_labels") or {}),
        )
