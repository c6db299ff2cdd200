"""Load and validate the sources file (YAML) that a non-developer edits.

Schema (see sources/README.md for the French-speaking editor's guide)::

    centre: irev                 # optional: branding/config name
    sample_site:                 # only in the sources.yaml that `newsletter sample-site` writes:
      built_for: 2025-12-05      #   `newsletter run`/`collect` serve its folder on 127.0.0.1
    taxonomy: taxonomy.yaml      # optional: path relative to this file
    branding: branding.yaml      # optional: path relative to this file
    sources:
      - name: IREV – actualités  # unique, shown in reports
        kind: article            # article | event | resource | press
        type: feed               # feed | page
        url: https://www.irev.fr/rss.xml   # an http(s) URL (nothing else is read)
        outlet: Le Monde         # optional (press): outlet name if the feed does not give one
        category: transitions    # optional: force this category on every item
        enabled: true            # optional
      - name: IREV – agenda
        kind: event
        type: page
        url: https://www.irev.fr/agenda
        selectors:               # required for type: page
          item: ".event-card"    # required: one element per item on the listing page
          title: "h3"
          link: "a"              # the href of the first match is the item's link
          date: "time"
          summary: ".teaser"
          image: "img"
        follow: true             # optional: fetch each item's detail page
        detail:                  # optional: selectors on the detail page
          title: "h1"
          date: ".event-date"
          hours: ".event-hours"
          location: ".event-place"
          registration: "a.registration"
          places: ".places"
          audience: ".audience"
          contact: ".contact"
          summary: ".intro"
          image: "img"

Every problem raises SourcesError with the file and the problem, never a
traceback for the user.
"""

from __future__ import annotations

from newsletter.errors import UserError

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import soupsieve

from newsletter.models import KINDS
from newsletter.urls import web_url_problem
from newsletter.yamlfile import load_yaml

TYPES = ("feed", "page")
LISTING_SELECTORS = ("item", "title", "link", "date", "summary", "image")
DETAIL_SELECTORS = (
    "title",
    "date",
    "hours",
    "location",
    "registration",
    "deadline",
    "places",
    "audience",
    "contact",
    "summary",
    "image",
)


class SourcesError(UserError):
    """The sources file is unusable. The message names the file and the problem."""


@dataclass
class Source:
    name: str
    kind: str
    type: str
    url: str
    selectors: dict[str, str] = field(default_factory=dict)
    detail: dict[str, str] = field(default_factory=dict)
    follow: bool = False
    outlet: str | None = None
    category: str | None = None
    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return urlparse(self.url).hostname or ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "type": self.type,
            "url": self.url,
            "selectors": dict(self.selectors),
            "detail": dict(self.detail),
            "follow": self.follow,
            "outlet": self.outlet,
            "category": self.category,
            "enabled": self.enabled,
            "options": dict(self.options),
        }


@dataclass(frozen=True)
class SampleSiteMarker:
    """A sources file's ``sample_site:`` entry: this file is the bundled sample
    site's, built by ``newsletter sample-site`` in ``folder`` for the day
    ``built_for``; ``newsletter run`` and ``newsletter collect`` serve that folder."""

    built_for: date
    folder: Path


# Hosts a sample site's sources may point at: the local server serving its folder.
SAMPLE_SITE_HOSTS = ("127.0.0.1", "localhost")


@dataclass
class SourcesConfig:
    path: Path
    sources: list[Source]
    taxonomy_path: Path | None = None
    branding_path: Path | None = None
    centre: str | None = None
    sample_site: SampleSiteMarker | None = None  # set only for the sample site's own sources file

    @property
    def enabled(self) -> list[Source]:
        return [s for s in self.sources if s.enabled]


_KNOWN_KEYS = {
    "name",
    "kind",
    "type",
    "url",
    "selectors",
    "detail",
    "follow",
    "outlet",
    "category",
    "enabled",
    "options",
}


def load_sources(path: str | Path) -> SourcesConfig:
    """Read and validate a sources file. Raises SourcesError naming the file."""
    path = Path(path)
    where = str(path)
    data = load_yaml(path, SourcesError, "sources file")
    if not isinstance(data, dict) or "sources" not in data:
        raise SourcesError(f"{where}: expected a top-level 'sources:' list")
    raw_sources = data["sources"]
    if not isinstance(raw_sources, list) or not raw_sources:
        raise SourcesError(f"{where}: 'sources:' must be a non-empty list")
    base_dir = path.resolve().parent
    sources: list[Source] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_sources, start=1):
        label = f"{where}: source #{index}"
        if not isinstance(raw, dict):
            raise SourcesError(f"{label}: expected a mapping with name, kind, type and url")
        if raw.get("name"):
            label = f"{where}: source #{index} ({raw['name']!r})"
        unknown = sorted(set(raw) - _KNOWN_KEYS)
        if unknown:
            raise SourcesError(f"{label}: unknown key(s) {', '.join(map(repr, unknown))}")
        for key in ("name", "kind", "type", "url"):
            value = raw.get(key)
            if not isinstance(value, str) or not value.strip():
                raise SourcesError(f"{label}: missing or empty '{key}'")
        name = raw["name"].strip()
        if name in seen:
            raise SourcesError(f"{label}: duplicate name {name!r}")
        seen.add(name)
        kind = raw["kind"].strip()
        if kind not in KINDS:
            raise SourcesError(f"{label}: kind {kind!r} is not one of {', '.join(KINDS)}")
        stype = raw["type"].strip()
        if stype not in TYPES:
            raise SourcesError(f"{label}: type {stype!r} is not one of {', '.join(TYPES)}")
        url = raw["url"].strip()
        problem = web_url_problem(url)
        if problem:
            raise SourcesError(
                f"{label}: url {url!r}: {problem}. To read local files, serve them over HTTP"
                " (see `newsletter sample-site --serve`)"
            )
        selectors = raw.get("selectors") or {}
        detail = raw.get("detail") or {}
        for key_name, mapping, allowed in (
            ("selectors", selectors, LISTING_SELECTORS),
            ("detail", detail, DETAIL_SELECTORS),
        ):
            if not isinstance(mapping, dict):
                raise SourcesError(f"{label}: '{key_name}' must be a mapping of field: CSS selector")
            bad = sorted(set(mapping) - set(allowed))
            if bad:
                raise SourcesError(
                    f"{label}: unknown {key_name} field(s) {', '.join(map(repr, bad))}"
                    f" (allowed: {', '.join(allowed)})"
                )
            for field_name, selector in mapping.items():
                if not isinstance(selector, str) or not selector.strip():
                    raise SourcesError(f"{label}: {key_name}.{field_name} must be a CSS selector")
                try:
                    soupsieve.compile(selector.strip())
                except soupsieve.SelectorSyntaxError as exc:
                    first = str(exc).splitlines()[0]
                    raise SourcesError(
                        f"{label}: {key_name}.{field_name} {selector!r} is not a valid CSS selector ({first})"
                    ) from None
        if stype == "page" and not selectors.get("item"):
            raise SourcesError(f"{label}: a page source needs selectors.item")
        follow = raw.get("follow", False)
        enabled = raw.get("enabled", True)
        for key_name, value in (("follow", follow), ("enabled", enabled)):
            if not isinstance(value, bool):
                raise SourcesError(f"{label}: '{key_name}' must be true or false")
        options = raw.get("options") or {}
        if not isinstance(options, dict):
            raise SourcesError(f"{label}: 'options' must be a mapping")
        sources.append(
            Source(
                name=name,
                kind=kind,
                type=stype,
                url=url,
                selectors={k: v.strip() for k, v in selectors.items()},
                detail={k: v.strip() for k, v in detail.items()},
                follow=follow,
                outlet=(raw.get("outlet") or None),
                category=(raw.get("category") or None),
                enabled=enabled,
                options=options,
            )
        )

    def _opt_path(key: str) -> Path | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise SourcesError(f"{where}: '{key}' must be a path")
        resolved = (base_dir / value).resolve()
        if not resolved.is_file():
            raise SourcesError(f"{where}: {key} file {value!r} not found")
        return resolved

    return SourcesConfig(
        path=path,
        sources=sources,
        taxonomy_path=_opt_path("taxonomy"),
        branding_path=_opt_path("branding"),
        centre=data.get("centre"),
        sample_site=_sample_site_marker(data, sources, base_dir, where),
    )


def _sample_site_marker(data: dict, sources: list[Source], folder: Path, where: str) -> SampleSiteMarker | None:
    """The ``sample_site:`` entry, checked: honoured only when every source is a
    file of this folder on the local server, as in the file ``newsletter
    sample-site`` writes, so that a centre's real sources file never starts a
    server (nor gets its folder rebuilt) because of a stray key."""
    if "sample_site" not in data:
        return None
    raw = data["sample_site"]
    label = f"{where}: sample_site"
    if not isinstance(raw, dict) or set(raw) != {"built_for"}:
        raise SourcesError(f"{label}: expected a mapping with only 'built_for: YYYY-MM-DD'")
    built_for = raw["built_for"]
    if isinstance(built_for, str):
        try:
            built_for = date.fromisoformat(built_for.strip())
        except ValueError:
            pass
    if isinstance(built_for, datetime):
        built_for = built_for.date()
    if not isinstance(built_for, date):
        raise SourcesError(f"{label}: built_for {raw['built_for']!r} is not a date (YYYY-MM-DD)")
    for source in sources:
        parsed = urlparse(source.url)
        relative = unquote(parsed.path).lstrip("/")
        target = (folder / relative).resolve()
        if (
            parsed.hostname not in SAMPLE_SITE_HOSTS
            or not relative
            or not target.is_relative_to(folder)
            or not target.is_file()
        ):
            raise SourcesError(
                f"{label}: source {source.name!r} ({source.url}) is not a file of this folder served on"
                " 127.0.0.1; 'sample_site:' belongs only to the sources file that `newsletter sample-site`"
                " writes beside its pages: remove it from a centre's sources file"
            )
    return SampleSiteMarker(built_for=built_for, folder=folder)
