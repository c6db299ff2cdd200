"""Build the bundled sample site with dates around a given day.

The sample site lives in ``sources/sample-site/`` as Jinja2 templates plus
``data.yaml``, where every date is an offset in days from "today". Rendering
it for a given day gives a site whose news is recent and whose events are all
upcoming, so that ``make run`` shows a full newsletter on whatever day it runs.

Output (in ``out_dir``)::

    actualites.xml           RSS 2.0 feed of the centre's news (kind: article)
    agenda.html              agenda listing (kind: event), relative links to...
    evenements/<slug>.html   ...one detail page per event (some with JSON-LD)
    ressources.html          resources listing (kind: resource)
    revue-presse-a.xml       press alerts, RSS 2.0 (kind: press)
    revue-presse-b.xml       partner press review, Atom 1.0 (kind: press)
    sources.yaml             the sources file pointing at all of the above
    style.css                cosmetic, for viewing the pages in a browser

Built with ``sample_site=True`` (what ``newsletter sample-site --out DIR``
does), sources.yaml carries a ``sample_site: {built_for: DAY}`` entry: then
``newsletter run`` and ``newsletter collect`` on it serve the folder on
127.0.0.1 for the length of the run (:func:`serving_sample_site`).
"""

from __future__ import annotations

from newsletter.errors import UserError

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import holidays
import jinja2
from babel.dates import format_date

from newsletter.home import packaged_sources
from newsletter.normalize import PARIS
from newsletter.yamlfile import load_yaml

if TYPE_CHECKING:
    from newsletter.collect.sources import SourcesConfig

# sources/sample-site, shipped in the package.
SAMPLE_SITE_DIR = packaged_sources() / "sample-site"

# Top-level templates and the file each one renders to. The event detail
# template is rendered once per event.
PAGE_TEMPLATES = {
    "actualites.xml.j2": "actualites.xml",
    "agenda.html.j2": "agenda.html",
    "ressources.html.j2": "ressources.html",
    "revue-presse-a.xml.j2": "revue-presse-a.xml",
    "revue-presse-b.xml.j2": "revue-presse-b.xml",
    "sources.yaml.j2": "sources.yaml",
}
EVENT_TEMPLATE = "evenement.html.j2"
EVENTS_DIR = "evenements"
STATIC_FILES = ("style.css",)


# Sample events start and end within these hours (Europe/Paris).
OFFICE_HOURS = (time(8, 30), time(18, 0))
_FRENCH_HOLIDAYS = holidays.country_holidays("FR")  # metropolitan France; years filled on demand


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a French public holiday (``holidays`` library)."""
    return day.weekday() < 5 and day not in _FRENCH_HOLIDAYS


class SampleSiteError(UserError):
    """The sample site data or templates are unusable; the message names the culprit."""


@dataclass(frozen=True)
class _Clock:
    today: date

    def day(self, offset: Any, where: str) -> date:
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise SampleSiteError(f"{where}: expected a whole number of days from today, got {offset!r}")
        return self.today + timedelta(days=offset)

    @staticmethod
    def at(day: date, hhmm: Any, where: str) -> datetime:
        try:
            t = time.fromisoformat(str(hhmm))
        except ValueError:
            raise SampleSiteError(f"{where}: expected a time like '09:30', got {hhmm!r}") from None
        return datetime.combine(day, t, tzinfo=PARIS)


def _fr_long(d: date) -> str:
    """'Vendredi 5 décembre 2025', 'Lundi 1er juin 2026' (capitalised, as on the centre's pages)."""
    text = format_date(d, "EEEE d MMMM y", locale="fr_FR")
    if d.day == 1:  # French typography: "1er", as real sites write it
        text = text.replace(" 1 ", " 1er ", 1)
    return text[:1].upper() + text[1:]


def _fr_short(d: date) -> str:
    text = format_date(d, "d MMMM y", locale="fr_FR")
    return "1er" + text[1:] if d.day == 1 else text


def _require(entry: dict, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(entry, dict):
        raise SampleSiteError(f"{where}: expected a mapping")
    missing = [k for k in keys if entry.get(k) in (None, "")]
    if missing:
        raise SampleSiteError(f"{where}: missing {', '.join(missing)}")


def _articles(data: dict, clock: _Clock, home: str, where: str) -> list[dict]:
    out = []
    for i, raw in enumerate(data.get("articles") or [], start=1):
        at = f"{where}: articles #{i}"
        _require(raw, ("title", "path", "published", "summary"), at)
        day = clock.day(raw["published"], f"{at} published")
        published = clock.at(day, raw.get("time", "10:00"), f"{at} time")
        out.append({**raw, "url": home + raw["path"], "published": published,
                    "pubdate": format_datetime(published)})
    return out


def _events(data: dict, clock: _Clock, where: str) -> list[dict]:
    out = []
    slugs: set[str] = set()
    for i, raw in enumerate(data.get("events") or [], start=1):
        at = f"{where}: events #{i}"
        _require(raw, ("slug", "title", "type", "start", "from", "to", "hours", "place",
                       "registration", "teaser", "intro", "audience", "contact"), at)
        if raw["slug"] in slugs:
            raise SampleSiteError(f"{at}: duplicate slug {raw['slug']!r}")
        slugs.add(raw["slug"])
        length = 0
        if raw.get("end") is not None:
            length = (clock.day(raw["end"], f"{at} end") - clock.day(raw["start"], f"{at} start")).days
            if length < 0:
                raise SampleSiteError(f"{at}: end ({raw['end']}) is before start ({raw['start']})")
        first = clock.day(raw["start"], f"{at} start")
        # Events happen on working days: move the whole event past any weekend
        # or French public holiday.
        while not all(is_working_day(first + timedelta(days=n)) for n in range(length + 1)):
            first += timedelta(days=1)
        last = first + timedelta(days=length)
        start = clock.at(first, raw["from"], f"{at} from")
        end = clock.at(last, raw["to"], f"{at} to")
        if not (OFFICE_HOURS[0] <= start.time() and end.time() <= OFFICE_HOURS[1] and start < end):
            raise SampleSiteError(
                f"{at}: {raw['from']}–{raw['to']} is not within office hours"
                f" ({OFFICE_HOURS[0]:%H:%M}–{OFFICE_HOURS[1]:%H:%M})"
            )
        if last == first:
            date_line = _fr_long(first)
        else:
            date_line = f"Du {_fr_long(first).lower()} au {_fr_long(last).lower()}"
        deadline = None
        if raw.get("deadline_before") is not None:
            deadline = first - timedelta(days=int(raw["deadline_before"]))
            while not is_working_day(deadline):  # registrations close on a working day
                deadline -= timedelta(days=1)
        event = {
            **raw,
            "href": f"{EVENTS_DIR}/{raw['slug']}.html",
            "canonical": f"https://www.irev.fr/agenda/{raw['slug']}",
            "start": start,
            "end": end,
            "date_line": date_line,
            "date_short": _fr_short(first),
            "deadline": deadline,
            "deadline_line": _fr_long(deadline).lower() if deadline else None,
            "online": bool(raw.get("online")),
        }
        event["jsonld_text"] = _event_jsonld(event) if raw.get("jsonld") else None
        out.append(event)
    out.sort(key=lambda e: e["start"])
    return out


def _event_jsonld(event: dict) -> str:
    if event["online"]:
        location: dict[str, Any] = {"@type": "VirtualLocation", "url": event["registration"]}
        mode = "https://schema.org/OnlineEventAttendanceMode"
    else:
        location = {"@type": "Place", "name": event["place"],
                    "address": event.get("address") or event["place"]}
        mode = "https://schema.org/OfflineEventAttendanceMode"
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": event["title"],
        "description": event["teaser"].strip(),
        "startDate": event["start"].isoformat(),
        "endDate": event["end"].isoformat(),
        "eventStatus": "https://schema.org/EventScheduled",
        "eventAttendanceMode": mode,
        "location": location,
        "organizer": {"@type": "Organization", "name": "IREV", "url": "https://www.irev.fr"},
        "url": event["canonical"],
        "inLanguage": "fr",
    }
    if event.get("places"):
        data["maximumAttendeeCapacity"] = int(event["places"])
    # Escape "</" so the JSON cannot close the <script> element early.
    return json.dumps(data, ensure_ascii=False, indent=2).replace("</", "<\\/")


def _resources(data: dict, clock: _Clock, home: str, where: str) -> list[dict]:
    out = []
    for i, raw in enumerate(data.get("resources") or [], start=1):
        at = f"{where}: resources #{i}"
        _require(raw, ("type", "title", "path", "published", "summary"), at)
        day = clock.day(raw["published"], f"{at} published")
        out.append({**raw, "url": home + raw["path"], "day": day, "date_short": _fr_short(day)})
    out.sort(key=lambda r: r["day"], reverse=True)
    return out


def _press(data: dict, clock: _Clock, where: str) -> tuple[list[dict], list[dict]]:
    outlets = data.get("outlets") or {}
    feeds: dict[str, list[dict]] = {"a": [], "b": []}
    for i, raw in enumerate(data.get("press") or [], start=1):
        at = f"{where}: press #{i}"
        _require(raw, ("outlet", "path", "published", "summary"), at)
        outlet = outlets.get(raw["outlet"])
        if not outlet:
            raise SampleSiteError(f"{at}: unknown outlet {raw['outlet']!r} (not under 'outlets:')")
        if not (raw.get("a") or raw.get("b")):
            raise SampleSiteError(f"{at}: needs 'a:' and/or 'b:' (which feed carries the story)")
        day = clock.day(raw["published"], f"{at} published")
        base = outlet["home"] + raw["path"]
        for feed, hour in (("a", "07:00"), ("b", "08:30")):
            variant = raw.get(feed)
            if not variant:
                continue
            _require(variant, ("title",), f"{at} {feed}")
            query = variant.get("query") or ""
            published = clock.at(day, hour, at)
            feeds[feed].append({
                "title": variant["title"],
                "url": f"{base}?{query}" if query else base,
                "canonical": base,
                "summary": raw["summary"],
                "outlet": outlet["name"],
                "outlet_home": outlet["home"],
                "published": published,
                "pubdate": format_datetime(published),
            })
    for items in feeds.values():
        items.sort(key=lambda x: x["published"], reverse=True)
    return feeds["a"], feeds["b"]


def _environment(template_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        # HTML and XML escaping everywhere except the YAML template, which
        # quotes its values with the `yaml` filter (JSON strings are valid YAML).
        autoescape=lambda name: bool(name) and not name.endswith(".yaml.j2"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yaml"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def _check_base_url(base_url: str | None) -> str | None:
    if base_url is None:
        return None
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"base_url {base_url!r} must be an http(s) URL with a host, e.g. http://127.0.0.1:8123")
    return base_url.rstrip("/")


def build_sample_site(
    out_dir: str | Path,
    today: date,
    base_url: str | None = None,
    *,
    template_dir: str | Path | None = None,
    sample_site: bool = False,
) -> Path:
    """Render the sample site for ``today`` into ``out_dir``; return the path of its sources.yaml.

    With ``base_url`` None, sources.yaml points at the rendered files by paths
    relative to itself; with a base URL (e.g. ``"http://127.0.0.1:8123"``) it
    points at ``base_url + "/actualites.xml"`` etc., for serving ``out_dir`` over HTTP.
    With ``sample_site`` (which needs a base URL on 127.0.0.1), sources.yaml
    also says it is the sample site's, built for ``today``: ``newsletter run``
    then serves ``out_dir`` itself (see :func:`serving_sample_site`).
    Raises SampleSiteError naming the file and entry when the data is unusable,
    ValueError for a bad ``base_url``.
    """
    if isinstance(today, datetime):
        today = today.date()
    if not isinstance(today, date):
        raise ValueError(f"today must be a date, got {today!r}")
    base = _check_base_url(base_url)
    if sample_site and (base is None or urlparse(base).hostname != LOCAL_HOST):
        raise ValueError(f"a sample site served by the run needs a base URL on {LOCAL_HOST}, got {base_url!r}")
    template_dir = Path(template_dir) if template_dir else SAMPLE_SITE_DIR
    data_path = template_dir / "data.yaml"
    data = load_yaml(data_path, SampleSiteError, "sample-site data file")
    if not isinstance(data, dict):
        raise SampleSiteError(f"{data_path}: expected a mapping with articles, events, resources, press")
    where = str(data_path)
    clock = _Clock(today)
    site = data.get("site") or {}
    home = str(site.get("home") or "https://www.irev.fr").rstrip("/")
    press_a, press_b = _press(data, clock, where)
    context = {
        "site": site,
        "today": today,
        "today_line": _fr_long(today),
        "built": format_datetime(clock.at(today, "06:00", where)),
        "built_iso": clock.at(today, "06:00", where).isoformat(),
        "articles": _articles(data, clock, home, where),
        "events": _events(data, clock, where),
        "resources": _resources(data, clock, home, where),
        "press_a": press_a,
        "press_b": press_b,
        "base_url": base,
        "sample_site": sample_site,
    }

    def url(name: str) -> str:
        return f"{base}/{name}" if base else name

    context["url"] = url

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    events_dir = out / EVENTS_DIR
    if events_dir.is_dir():  # drop detail pages of a previous build
        for old in events_dir.glob("*.html"):
            old.unlink()
    events_dir.mkdir(exist_ok=True)

    env = _environment(template_dir)
    try:
        for template_name, target in PAGE_TEMPLATES.items():
            text = env.get_template(template_name).render(context)
            (out / target).write_text(text, encoding="utf-8")
        detail = env.get_template(EVENT_TEMPLATE)
        for event in context["events"]:
            text = detail.render(context, event=event)
            (out / event["href"]).write_text(text, encoding="utf-8")
    except jinja2.TemplateNotFound as exc:
        raise SampleSiteError(f"{template_dir}: template {exc.name!r} not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise SampleSiteError(f"{exc.filename}:{exc.lineno}: template error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise SampleSiteError(f"{template_dir}: template uses an unknown value: {exc.message}") from None
    for name in STATIC_FILES:
        if (template_dir / name).is_file():
            shutil.copyfile(template_dir / name, out / name)
    return out / "sources.yaml"


LOCAL_HOST = "127.0.0.1"


def sample_server(out_dir: str | Path, *, host: str = LOCAL_HOST, port: int = 0):
    """An HTTP server (not started) for the files of ``out_dir``, bound on
    ``host:port`` (port 0: a free one). Its ``base_url`` attribute is the URL
    to give ``build_sample_site``. Serve with ``serve_forever()``."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class QuietHandler(SimpleHTTPRequestHandler):
        extensions_map = {
            **SimpleHTTPRequestHandler.extensions_map,
            ".xml": "application/xml; charset=utf-8",
            ".html": "text/html; charset=utf-8",
            ".yaml": "text/plain; charset=utf-8",
        }

        def log_message(self, *args) -> None:  # the run's own log says what was fetched
            pass

    handler = functools.partial(QuietHandler, directory=str(Path(out_dir)))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    bound_host, bound_port = server.server_address[:2]
    server.base_url = f"http://{bound_host}:{bound_port}"
    return server



def free_local_port(host: str = LOCAL_HOST) -> int:
    """A port nothing listens on now (the system's choice), for a sample site's sources.yaml."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextmanager
def serving_sample_site(config: SourcesConfig) -> Iterator[str | None]:
    """Serve the sample site of ``config`` for the length of the ``with`` block.

    A no-op yielding None unless ``config.sample_site`` is set (the sources file
    ``newsletter sample-site --out DIR`` writes; :mod:`newsletter.collect.sources`
    honours that marker only when every source is a file of that folder). Then:
    serve the folder on 127.0.0.1 in a background thread — on the port its
    sources.yaml already names when free (so item links stay the same from one
    run to the next), else on a free one —, rebuild the site in place for its
    day with that base URL (every link then is an http URL of this server), and
    yield the base URL. The server is stopped on leaving the block, failed or not.
    """
    marker = config.sample_site
    if marker is None:
        yield None
        return
    ports = {urlparse(s.url).port for s in config.sources} - {None}
    try:
        server = sample_server(marker.folder, port=ports.pop() if len(ports) == 1 else 0)
    except OSError:  # that port is taken now: any free one
        server = sample_server(marker.folder, port=0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="sample-site-server", daemon=True
    )
    thread.start()
    try:
        build_sample_site(marker.folder, marker.built_for, base_url=server.base_url, sample_site=True)
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
