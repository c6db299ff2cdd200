"""Pre-send checks: what a draft must pass before it is approved, and again before it is sent.

:func:`run_checks` reads a draft folder and returns a :class:`ChecksReport`,
one :class:`CheckResult` per check, each with a French label and French
details naming every culprit (the URL and its status, the empty section, the
placeholder, the image without alt text…). The checks:

``links``           every link and image of the HTML answers (HEAD, then GET
                    when HEAD is refused; redirects followed; bounded
                    concurrency, per-host bound and timeouts; a link that
                    answered is cached in the database for a few hours);
``size``            the HTML is under the Gmail clipping budget (102 KB, the
                    branding's ``size_budget_bytes``);
``empty_sections``  no section (or news category) without an item, and an
                    issue that has at least one item;
``placeholders``    no unresolved placeholder (``{{…}}``, ``{%…%}``, ``{email}``,
                    ``*|…|*``, ``[[…]]``, ``%%…%%``, ``${…}``) in the subject, HTML,
                    text or social drafts, except the branding's declared
                    unsubscribe placeholder that the sending fills in;
``schemes``         every href/src of the HTML, and every URL of the text part,
                    is http(s) or mailto (``cid:`` allowed for images);
``alt_text``        every ``<img>`` has a non-empty ``alt``; ``alt=""`` is accepted
                    only on an image explicitly marked decorative
                    (``role="presentation"``/``"none"`` or ``aria-hidden="true"``);
``social``          every social draft fits its platform's limit, counted as
                    the platform counts (``render.social.platform_length``);
``spam``            SpamAssassin's score of the rendered message (``spamassassin
                    -t -L``: local tests only, nothing leaves the machine) is
                    under the threshold. Without SpamAssassin the check is
                    skipped, not failed ("SpamAssassin non installé").

Reports are stored in the database (table ``draft_checks``) so the drafts list
can show the last one (:func:`last_checks`).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape as html_escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from bs4 import BeautifulSoup
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from newsletter import USER_AGENT
from newsletter.store import Store, as_aware, check_cache, draft_checks, utcnow

CHECK_ORDER = ("links", "size", "empty_sections", "placeholders", "schemes", "alt_text", "social", "spam")
CHECK_TITLES_FR = {
    "links": "liens",
    "size": "taille",
    "empty_sections": "sections vides",
    "placeholders": "champs non remplacés",
    "schemes": "adresses des liens",
    "alt_text": "textes alternatifs",
    "social": "posts réseaux sociaux",
    "spam": "score de spam",
}
HTML_FILE = "newsletter.html"
TEXT_FILE = "newsletter.txt"
SOCIAL_FILE = "social.json"


# ---------------------------------------------------------------- results


@dataclass
class CheckResult:
    name: str
    ok: bool
    label: str
    details: list[str] = field(default_factory=list)
    skipped_reason: str | None = None
    # Stable keys of what failed (a URL, "newsletter.html:{{x}}"…): an override
    # given at approval covers, at send time, exactly these culprits.
    culprits: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return self.skipped_reason is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckResult":
        return cls(
            name=data["name"],
            ok=bool(data["ok"]),
            label=data.get("label", ""),
            details=list(data.get("details") or []),
            skipped_reason=data.get("skipped_reason"),
            culprits=list(data.get("culprits") or []),
        )


@dataclass
class ChecksReport:
    results: list[CheckResult]
    checked_at: datetime = field(default_factory=utcnow)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]

    def get(self, name: str) -> CheckResult | None:
        return next((r for r in self.results if r.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ChecksReport":
        return cls(
            results=[CheckResult.from_dict(r) for r in data.get("results") or []],
            checked_at=as_aware(datetime.fromisoformat(data["checked_at"])) if data.get("checked_at") else utcnow(),
        )

    def summary_fr(self) -> str:
        """One line: what failed, by check, for an error message."""
        if self.ok:
            return "tous les contrôles sont passés"
        parts = [f"{CHECK_TITLES_FR.get(r.name, r.name)} ({r.label})" for r in self.failed]
        n = len(parts)
        return f"{n} contrôle{'s' if n > 1 else ''} en échec : " + " ; ".join(parts)

    def lines_fr(self) -> list[str]:
        """The report as the officer reads it, one check per line, culprits indented."""
        lines = []
        for r in self.results:
            if r.skipped:
                lines.append(f"–  {r.label} ({r.skipped_reason})")
            else:
                lines.append(f"{'✓' if r.ok else '✗'}  {r.label}")
            lines += [f"     - {d}" for d in r.details]
        return lines


def uncovered_failures(report: ChecksReport, overridden: ChecksReport | None) -> list[CheckResult]:
    """Failed checks of ``report`` whose culprits were not all failing (and overridden) in ``overridden``."""
    out = []
    for r in report.failed:
        before = overridden.get(r.name) if overridden is not None else None
        if before is None or before.ok:
            out.append(r)
            continue
        keys = set(r.culprits or r.details)
        if not keys <= set(before.culprits or before.details):
            out.append(r)
    return out


# ---------------------------------------------------------------- cache (table check_cache)


def _cache_key(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def cache_get(store: Store, kind: str, keys: Iterable[str], max_age: timedelta) -> dict[str, dict[str, Any]]:
    """Cached entries of ``kind`` younger than ``max_age``: original key -> data (with ``ok``)."""
    by_hash = {_cache_key(k): k for k in keys}
    if not by_hash or max_age.total_seconds() <= 0:
        return {}
    oldest = utcnow() - max_age
    out: dict[str, dict[str, Any]] = {}
    hashes = list(by_hash)
    with store.engine.connect() as conn:
        for start in range(0, len(hashes), 500):
            rows = conn.execute(
                select(check_cache).where(check_cache.c.kind == kind, check_cache.c.key.in_(hashes[start:start + 500]))
            ).all()
            for row in rows:
                if as_aware(row.checked_at) >= oldest:
                    out[by_hash[row.key]] = {**json.loads(row.data_json), "ok": bool(row.ok)}
    return out


def cache_put(store: Store, kind: str, entries: dict[str, tuple[bool, dict[str, Any]]]) -> None:
    """Replace the cached entries of ``kind`` for these keys, in one transaction."""
    if not entries:
        return
    now = utcnow()
    rows = [
        {"kind": kind, "key": _cache_key(key), "ok": ok, "data_json": json.dumps(data, ensure_ascii=False), "checked_at": now}
        for key, (ok, data) in entries.items()
    ]
    try:
        with store.engine.begin() as conn:
            conn.execute(delete(check_cache).where(check_cache.c.kind == kind, check_cache.c.key.in_([r["key"] for r in rows])))
            conn.execute(insert(check_cache), rows)
    except IntegrityError:  # another process cached the same keys at the same moment: theirs will do
        pass


# ---------------------------------------------------------------- links


@dataclass
class LinkStatus:
    url: str
    ok: bool
    status: int | None = None
    final_url: str | None = None
    error: str | None = None  # French, e.g. "injoignable (nom de domaine introuvable)"
    from_cache: bool = False

    def describe_fr(self) -> str:
        where = f" (après redirection vers {self.final_url})" if self.final_url and self.final_url != self.url else ""
        if self.error:
            return f"{self.url} : {self.error}{where}"
        if self.status is not None:
            reason = HTTP_REASONS_FR.get(self.status, "")
            return f"{self.url} : erreur {self.status}{' (' + reason + ')' if reason else ''}{where}"
        return f"{self.url} : répond{where}"


HTTP_REASONS_FR = {
    400: "requête refusée",
    401: "accès protégé par un mot de passe",
    403: "accès refusé",
    404: "page introuvable",
    410: "page supprimée",
    429: "trop de requêtes, réessayez plus tard",
    500: "erreur du serveur",
    502: "passerelle en erreur",
    503: "service indisponible",
    504: "le serveur ne répond pas à temps",
}

def _secs(value: float) -> str:
    return f"{value:g}".replace(".", ",")


LinkCheckFn = Callable[[list[str]], dict[str, LinkStatus]]


class LinkChecker:
    """Checks that URLs answer. Call it with a list of URLs; returns URL -> LinkStatus.

    HEAD first (cheap for the site), then GET (body not downloaded) when HEAD
    gets an error status, since many servers answer HEAD wrongly (403, 405,
    501…); redirects followed (at most ``max_redirects``); at most
    ``max_workers`` requests at once and ``per_host`` per host; ``timeout``
    seconds to connect and to read. With a ``store``, a link that answered is
    not fetched again for ``cache_hours``; a failing link is always fetched
    again (the site may have been fixed since).
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        timeout: float = 10.0,
        cache_hours: float = 6.0,
        max_workers: int = 8,
        per_host: int = 2,
        max_redirects: int = 10,
        user_agent: str = USER_AGENT,
    ):
        self.store = store
        self.timeout = timeout
        self.cache_hours = cache_hours
        self.max_workers = max_workers
        self.per_host = per_host
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self._local = threading.local()
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._hosts_lock = threading.Lock()

    def __call__(self, urls: list[str]) -> dict[str, LinkStatus]:
        urls = list(dict.fromkeys(urls))
        results: dict[str, LinkStatus] = {}
        if self.store is not None:
            for url, data in cache_get(self.store, "link", urls, timedelta(hours=self.cache_hours)).items():
                if data.get("ok"):
                    results[url] = LinkStatus(
                        url=url, ok=True, status=data.get("status"), final_url=data.get("final_url"), from_cache=True
                    )
        todo = [u for u in urls if u not in results]
        if todo:
            with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(todo)))) as pool:
                # host -> why it cannot be reached at all (no DNS, refused, connect timeout): the
                # other links of that host get the same verdict in this run without waiting again.
                dead: dict[str, str] = {}
                for status in pool.map(lambda u: self._check_one(u, dead), todo):
                    results[status.url] = status
            if self.store is not None:
                cache_put(
                    self.store,
                    "link",
                    {
                        s.url: (s.ok, {"status": s.status, "final_url": s.final_url, "error": s.error})
                        for s in (results[u] for u in todo)
                    },
                )
        return {u: results[u] for u in urls}

    @staticmethod
    def _dead(url: str, exc: Exception, error: str, dead: dict[str, str]) -> LinkStatus:
        # The host that failed is the one of the request being sent (after a redirect,
        # maybe not the link's own host).
        request = getattr(exc, "request", None)
        failed_url = getattr(request, "url", None) or url
        host = _server_key(failed_url)
        if host:
            dead.setdefault(host, error)
        if failed_url != url:
            return LinkStatus(url, ok=False, final_url=failed_url, error=error)
        return LinkStatus(url, ok=False, error=error)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.max_redirects = self.max_redirects
            session.headers.update({"User-Agent": self.user_agent, "Accept": "*/*"})
            self._local.session = session
        return session

    def _host_slot(self, url: str) -> threading.BoundedSemaphore:
        host = (urlsplit(url).hostname or "").lower()
        with self._hosts_lock:
            if host not in self._hosts:
                self._hosts[host] = threading.BoundedSemaphore(self.per_host)
            return self._hosts[host]

    def _check_one(self, url: str, dead: dict[str, str]) -> LinkStatus:
        host = _server_key(url)
        with self._host_slot(url):
            if host in dead:
                return LinkStatus(url, ok=False, error=dead[host])
            try:
                session = self._session()
                resp = session.head(url, allow_redirects=True, timeout=(self.timeout, self.timeout))
                if resp.status_code >= 400:
                    resp = session.get(url, allow_redirects=True, timeout=(self.timeout, self.timeout), stream=True)
                    resp.close()
            except requests.exceptions.SSLError as exc:
                return self._dead(url, exc, "injoignable (certificat TLS invalide)", dead)
            except requests.exceptions.ConnectTimeout as exc:
                return self._dead(url, exc, f"injoignable (pas de connexion en {_secs(self.timeout)} s)", dead)
            except requests.exceptions.Timeout:
                return LinkStatus(url, ok=False, error=f"pas de réponse en {_secs(self.timeout)} s")
            except requests.exceptions.TooManyRedirects:
                return LinkStatus(url, ok=False, error="trop de redirections (boucle ?)")
            except requests.exceptions.ConnectionError as exc:
                text = str(exc)
                if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
                    return self._dead(url, exc, "injoignable (nom de domaine introuvable)", dead)
                return self._dead(url, exc, "injoignable (connexion impossible)", dead)
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, ValueError):
                return LinkStatus(url, ok=False, error="adresse invalide")
            except requests.exceptions.RequestException as exc:
                return LinkStatus(url, ok=False, error=f"injoignable ({type(exc).__name__})")
        final = resp.url if resp.url != url else None
        return LinkStatus(url, ok=resp.status_code < 400, status=resp.status_code, final_url=final)


def _server_key(url: str) -> str:
    """The server a link reaches: host and port (two servers on one host are not one dead server)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return f"{host}:{port}" if host else ""


# ---------------------------------------------------------------- reading the draft


@dataclass
class _Content:
    html: str | None
    text: str | None
    subject: str
    social: list[dict[str, Any]] | None
    social_error: str | None
    soup: BeautifulSoup
    exempt: set[str]  # placeholders the sending fills in (the declared unsubscribe placeholder)
    self_published: list[str]  # URL prefixes written by this very send (the online version, archive)
    issue: Any


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return path.read_bytes().decode("utf-8", errors="replace")


def _looks_like_placeholder(value: str) -> bool:
    return any(p.search(value) for _, p in PLACEHOLDERS)


def _content(draft) -> _Content:
    manifest = draft.manifest
    html = _read_text(draft.file(HTML_FILE))
    text = _read_text(draft.file(TEXT_FILE))
    social, social_error = None, None
    raw = _read_text(draft.file(SOCIAL_FILE))
    if raw is not None:
        try:
            social = json.loads(raw)
            if not isinstance(social, list):
                raise ValueError("une liste de posts est attendue")
        except ValueError as exc:
            social, social_error = None, f"{SOCIAL_FILE} illisible ({exc})"
    unsubscribe = manifest.get("unsubscribe") or ""
    exempt = {unsubscribe} if unsubscribe and _looks_like_placeholder(unsubscribe) else set()
    self_published = []
    web_url = manifest.get("web_url") or ""
    if web_url.startswith(("http://", "https://")):
        self_published.append(web_url)
        base = web_url.rstrip("/").rsplit("/", 1)[0] + "/"
        self_published += [base + "index.html", base + "feed.xml"]
        self_published.append("=" + base)  # "=": exact match only
    try:
        issue = draft.issue()
    except Exception:
        issue = None
    return _Content(
        html=html,
        text=text,
        subject=manifest.get("subject") or "",
        social=social,
        social_error=social_error,
        soup=BeautifulSoup(html or "", "lxml"),
        exempt=exempt,
        self_published=self_published,
        issue=issue,
    )


def _is_self_published(url: str, prefixes: list[str]) -> bool:
    for p in prefixes:
        if p.startswith("="):
            if url == p[1:]:
                return True
        elif url.startswith(p):
            return True
    return False


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _failed(name: str, details: list[str], culprits: list[str], one: str, many: str) -> CheckResult:
    """A failed check whose label counts its problems ("2 liens ne répondent pas")."""
    return CheckResult(name, False, _plural(len(details), one, many), details, culprits=culprits)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


# ---------------------------------------------------------------- the checks


def check_links(c: _Content, link_checker: LinkCheckFn) -> CheckResult:
    urls: list[str] = []
    own = 0
    for tag, attr in (("a", "href"), ("area", "href"), ("img", "src")):
        for el in c.soup.find_all(tag):
            value = (el.get(attr) or "").strip()
            if not value.lower().startswith(("http://", "https://")) or value in c.exempt:
                continue
            if _is_self_published(value, c.self_published):
                own += 1
                continue
            urls.append(value)
    urls = list(dict.fromkeys(urls))
    info = []
    if own:
        info.append(
            f"{_plural(own, 'lien', 'liens')} vers la version en ligne et les archives, publiées au moment de l'envoi :"
            " non vérifiés"
        )
    if not urls:
        return CheckResult("links", True, "Aucun lien à vérifier", info)
    statuses = link_checker(urls)
    bad = [statuses[u] for u in urls if not statuses[u].ok]
    if not bad:
        return CheckResult("links", True, f"Tous les liens répondent ({_plural(len(urls), 'lien vérifié', 'liens vérifiés')})", info)
    label = (
        f"{_plural(len(bad), 'lien ne répond pas', 'liens ne répondent pas')} sur {len(urls)}"
    )
    return CheckResult("links", False, label, [s.describe_fr() for s in bad] + info, culprits=[s.url for s in bad])


def _kb(n: int) -> str:
    return f"{n / 1000:.0f} Ko"


def default_size_budget() -> int:
    from dataclasses import fields

    from newsletter.render.branding import Branding

    return next(f.default for f in fields(Branding) if f.name == "size_budget_bytes")


def _size_budget(draft) -> int:
    """The branding's budget (the approved copy in the draft, else the manifest's file), else Gmail's 102 KB."""
    from newsletter.outbox.drafts import BRANDING_COPY
    from newsletter.render.branding import load_branding

    for candidate in (draft.file(BRANDING_COPY), draft.manifest.get("branding_file")):
        if candidate and Path(candidate).is_file():
            try:
                return load_branding(Path(candidate)).size_budget_bytes
            except Exception:
                break
    return default_size_budget()


def check_size(c: _Content, budget: int) -> CheckResult:
    size = len((c.html or "").encode("utf-8"))
    if size > budget:
        return CheckResult(
            "size",
            False,
            f"HTML trop lourd : {_kb(size)}, Gmail tronque les messages au-delà de {_kb(budget)}",
            [f"{HTML_FILE} pèse {_kb(size)} : retirez environ {_kb(size - budget)} (des éléments, ou des résumés plus courts)"],
            culprits=[HTML_FILE],
        )
    details = []
    if size > 0.9 * budget:
        details.append(f"proche de la limite : évitez d'ajouter du contenu")
    return CheckResult("size", True, f"HTML de {_kb(size)}, sous la limite de {_kb(budget)} de Gmail", details)


_TEXT_HEADING = re.compile(r"^(?P<title>[^\n]+)\n=+[ \t]*$", re.MULTILINE)


def check_empty_sections(c: _Content) -> CheckResult:
    problems: list[str] = []
    culprits: list[str] = []
    if c.html is None:
        problems.append(f"{HTML_FILE} est absent")
        culprits.append(HTML_FILE)
    for section in c.soup.select('[class*="nl-section-"]'):
        heading = section.find(["h2", "h1"])
        title = heading.get_text(" ", strip=True) if heading else section.get("class", ["?"])[0]
        rest = section.get_text(" ", strip=True)
        if heading is not None:
            rest = rest.replace(heading.get_text(" ", strip=True), "", 1)
        if not rest.strip() and not section.find("img"):
            problems.append(f"la section « {title} » est vide ({HTML_FILE})")
            culprits.append(f"{HTML_FILE}:{title}")
    for h3 in c.soup.select("h3.nl-h3"):
        has_item = False
        for sib in h3.find_next_siblings():
            if sib.name == "h3":
                break
            if sib.get_text(strip=True):
                has_item = True
                break
        if not has_item:
            label = h3.get_text(" ", strip=True)
            problems.append(f"la rubrique « {label} » n'a aucun élément ({HTML_FILE})")
            culprits.append(f"{HTML_FILE}:{label}")
    if c.text is not None:
        headings = list(_TEXT_HEADING.finditer(c.text))
        for i, m in enumerate(headings):
            end = headings[i + 1].start() if i + 1 < len(headings) else len(c.text)
            if not c.text[m.end():end].strip():
                title = m.group("title").strip()
                problems.append(f"la section « {title} » est vide ({TEXT_FILE}, ligne {_line_of(c.text, m.start())})")
                culprits.append(f"{TEXT_FILE}:{title}")
    if c.issue is not None and not c.issue.all_items():
        problems.append("la lettre ne contient aucun élément : ni à la une, ni agenda, ni actualité")
        culprits.append("issue:empty")
    if problems:
        return _failed("empty_sections", problems, culprits, "section vide", "sections vides")
    return CheckResult("empty_sections", True, "Aucune section vide")


# (description, pattern) of what a template or a mailing tool leaves unreplaced
PLACEHOLDERS: list[tuple[str, re.Pattern[str]]] = [
    ("Jinja/Handlebars", re.compile(r"\{\{.*?\}\}", re.DOTALL)),
    ("Jinja", re.compile(r"\{%.*?%\}", re.DOTALL)),
    ("Jinja", re.compile(r"\{#.*?#\}", re.DOTALL)),
    ("Mailchimp", re.compile(r"\*\|[^|\s]{1,60}\|\*")),
    ("crochets", re.compile(r"\[\[[^\[\]\n]{1,80}\]\]")),
    ("accolades", re.compile(r"\{[A-Za-z_][A-Za-z0-9_.]{0,60}\}")),
    ("%%", re.compile(r"%%[A-Za-z_][A-Za-z0-9_]{0,60}%%")),
    ("${}", re.compile(r"\$\{[^}\n]{1,80}\}")),
]


_STYLE_BLOCK = re.compile(r"<style\b.*?</style\s*>", re.IGNORECASE | re.DOTALL)


def _find_placeholders(text: str, exempt: set[str]) -> list[tuple[str, int]]:
    """(placeholder, offset) found in ``text``; overlapping matches count once (the longest)."""
    taken: list[tuple[int, int]] = []
    for value in exempt:  # the declared placeholder, and nothing inside it, is fine
        taken += [(m.start(), m.end()) for m in re.finditer(re.escape(value), text)]
    matches = sorted(
        ((m.start(), m.end()) for _, pattern in PLACEHOLDERS for m in pattern.finditer(text)),
        key=lambda span: (span[0], -(span[1] - span[0])),
    )
    found: list[tuple[str, int]] = []
    for start, end in matches:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        found.append((text[start:end], start))
    return found


def check_placeholders(c: _Content) -> CheckResult:
    details: list[str] = []
    culprits: list[str] = []

    def scan(where: str, text: str | None, lines: bool = True) -> None:
        if not text:
            return
        for value, pos in _find_placeholders(text, c.exempt):
            short = value if len(value) <= 60 else value[:57] + "…"
            at = f", ligne {_line_of(text, pos)}" if lines else ""
            details.append(f"« {short} » dans {where}{at}")
            culprits.append(f"{where}:{value}")

    scan("l'objet", c.subject, lines=False)
    if c.html:
        # Not the CSS of <style> blocks (braces are CSS syntax); newlines kept for line numbers.
        scan(HTML_FILE, _STYLE_BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), c.html))
    scan(TEXT_FILE, c.text)
    for i, post in enumerate(c.social or [], 1):
        if isinstance(post, dict):
            scan(f"le post {post.get('platform', i)} ({SOCIAL_FILE})", str(post.get("text") or ""), lines=False)
    if details:
        return _failed("placeholders", details, culprits, "champ non remplacé", "champs non remplacés")
    note = [f"« {p} » sera remplacé par le lien de désinscription à l'envoi" for p in sorted(c.exempt)]
    return CheckResult("placeholders", True, "Aucun champ non remplacé", note)


_ALLOWED_HREF = ("http", "https", "mailto")
_ALLOWED_SRC = ("http", "https", "cid")
_TEXT_URL = re.compile(r"(?<![\w.+-])([A-Za-z][A-Za-z0-9+.-]{1,30})://\S+")
_TEXT_BAD_SCHEME = re.compile(r"(?<![\w.+-])(javascript|vbscript|data|file|tel|sms|callto|ftp|about|blob):\S+", re.IGNORECASE)


def _scheme_problem(value: str, allowed: tuple[str, ...]) -> str | None:
    if not value:
        return "adresse vide"
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return "adresse invalide"
    if not scheme:
        return "lien relatif, qui ne mène nulle part depuis une boîte mail"
    if scheme not in allowed:
        return f"adresse « {scheme}: » non autorisée (seules http(s) et mailto le sont)"
    return None


def check_schemes(c: _Content) -> CheckResult:
    details: list[str] = []
    culprits: list[str] = []
    for el in c.soup.find_all(True):
        for attr, allowed in (("href", _ALLOWED_HREF), ("src", _ALLOWED_SRC), ("action", ())):
            if el.name in ("link", "script") and attr in ("href", "src"):
                continue  # <head> resources are not links the reader follows (and are checked by the render)
            value = el.get(attr)
            if value is None:
                continue
            value = value.strip()
            if value in c.exempt:
                continue
            problem = _scheme_problem(value, allowed) if allowed else "formulaire dans un e-mail"
            if problem:
                text = " ".join(el.get_text(" ").split())[:50]
                what = f"lien « {text} »" if el.name == "a" and text else f"<{el.name} {attr}>"
                details.append(f"{value or '(vide)'} ({HTML_FILE}, {what}) : {problem}")
                culprits.append(f"{HTML_FILE}:{value}")
    if c.text:
        for pattern in (_TEXT_URL, _TEXT_BAD_SCHEME):
            for m in pattern.finditer(c.text):
                scheme = m.group(1).lower()
                if scheme in _ALLOWED_HREF or m.group(0) in c.exempt:
                    continue
                key = f"{TEXT_FILE}:{m.group(0)}"
                if key in culprits:
                    continue
                details.append(
                    f"{m.group(0)} ({TEXT_FILE}, ligne {_line_of(c.text, m.start())}) :"
                    f" adresse « {scheme}: » non autorisée (seules http(s) et mailto le sont)"
                )
                culprits.append(key)
    if details:
        return _failed("schemes", details, culprits, "lien n'est pas en http(s) ou mailto", "liens ne sont pas en http(s) ou mailto")
    return CheckResult("schemes", True, "Tous les liens sont en http(s) ou mailto")


def _decorative(img) -> bool:
    return (img.get("role") or "").strip().lower() in ("presentation", "none") or (
        (img.get("aria-hidden") or "").strip().lower() == "true"
    )


def check_alt_text(c: _Content) -> CheckResult:
    images = c.soup.find_all("img")
    details: list[str] = []
    culprits: list[str] = []
    for img in images:
        src = img.get("src") or "(sans src)"
        alt = img.get("alt")
        if alt is None:
            details.append(f"l'image {src} n'a pas de texte alternatif (attribut alt)")
        elif not alt.strip() and not _decorative(img):
            details.append(
                f"l'image {src} a un texte alternatif vide : décrivez-la, ou marquez-la décorative"
                ' (role="presentation")'
            )
        else:
            continue
        culprits.append(src)
    if details:
        return _failed("alt_text", details, culprits, "image sans texte alternatif", "images sans texte alternatif")
    if not images:
        return CheckResult("alt_text", True, "Aucune image")
    return CheckResult("alt_text", True, f"Toutes les images ont un texte alternatif ({_plural(len(images), 'image', 'images')})")


PLATFORM_NAMES_FR = {"x": "X", "linkedin": "LinkedIn", "mastodon": "Mastodon", "bluesky": "Bluesky"}


def check_social(c: _Content) -> CheckResult:
    from newsletter.render import social as social_mod

    if c.social_error:
        return CheckResult("social", False, "Posts réseaux sociaux illisibles", [c.social_error], culprits=[SOCIAL_FILE])
    posts = [p for p in (c.social or []) if isinstance(p, dict)]
    if not posts:
        return CheckResult("social", True, "Aucun post réseaux sociaux")
    details, culprits = [], []
    for i, post in enumerate(posts, 1):
        platform = str(post.get("platform") or "")
        text = str(post.get("text") or "")
        name = PLATFORM_NAMES_FR.get(platform, platform or "?")
        if platform not in social_mod.LIMITS:
            details.append(f"post n° {i} : réseau inconnu « {platform} »")
            culprits.append(f"{i}:{platform}")
            continue
        length, limit = social_mod.platform_length(text, platform), social_mod.LIMITS[platform]
        if length > limit:
            start = " ".join(text.split())[:40]
            details.append(f"post {name} n° {i} « {start}… » : {length} caractères pour {limit} autorisés")
            culprits.append(f"{i}:{platform}")
    if details:
        return _failed("social", details, culprits, "post trop long", "posts trop longs")
    return CheckResult("social", True, f"Tous les posts respectent la limite de leur réseau ({len(posts)} posts)")


def _fr_number(value: float) -> str:
    return f"{value:.1f}".replace(".", ",").replace("-0,0", "0,0")


def spam_message(c: _Content, settings: Any) -> EmailMessage:
    """The message as it will leave (same headers and parts as the delivery builds)."""
    html, text = c.html or "", c.text or ""
    unsubscribe = next(iter(c.exempt), None)
    if settings.unsubscribe_url and unsubscribe:
        html = html.replace(unsubscribe, html_escape(settings.unsubscribe_url))
        text = text.replace(unsubscribe, settings.unsubscribe_url)
        unsubscribe = settings.unsubscribe_url
    msg = EmailMessage()
    msg["Subject"] = c.subject
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(settings.mail_to)
    msg["Date"] = format_datetime(utcnow())
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(">") if "@" in settings.mail_from else None
    msg["Message-ID"] = make_msgid(idstring="newsletter-check", domain=domain)
    if unsubscribe and unsubscribe.startswith(("http://", "https://", "mailto:")):
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


# -t: report appended; -L: local tests only (no DNS blocklists: nothing leaves the machine);
# -x: no per-user preferences file created; no Bayes: it is trained on incoming mail, not on
# what the centre sends, and learning would make the score change from one run to the next.
SPAMASSASSIN_ARGS = ("-t", "-L", "-x", "--cf=use_bayes 0", "--cf=bayes_auto_learn 0")
_SA_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")


def parse_spamassassin(output: bytes) -> tuple[float, float, list[tuple[float, str, str]]]:
    """(score, required, [(points, rule, description)]) from ``spamassassin -t`` output."""
    parsed = message_from_bytes(output, policy=policy.default)
    status = " ".join(str(parsed.get("X-Spam-Status", "")).split())
    m = re.search(r"score=(-?\d+(?:\.\d+)?)\s+required=(-?\d+(?:\.\d+)?)", status)
    if not m:
        raise ValueError("pas d'en-tête X-Spam-Status dans la réponse de SpamAssassin")
    rules: list[tuple[float, str, str]] = []
    text = output.decode("utf-8", errors="replace")
    if "Content analysis details" in text:
        table = text.split("Content analysis details", 1)[1]
        for line in table.splitlines()[3:]:
            rm = _SA_RULE.match(line)
            if rm:
                rules.append((float(rm.group(1)), rm.group(2), rm.group(3).strip()))
            elif rules and line.startswith(" " * 10) and line.strip():
                pts, rule, desc = rules[-1]
                rules[-1] = (pts, rule, f"{desc} {line.strip()}")
            elif rules and not line.strip():
                break
    return float(m.group(1)), float(m.group(2)), rules


def check_spam(c: _Content, settings: Any, store: Store | None) -> CheckResult:
    setting = (getattr(settings, "spamassassin", "spamassassin") or "spamassassin").strip()
    label_skipped = "Score de spam non mesuré"
    if setting.lower() == "off":
        return CheckResult("spam", True, label_skipped, skipped_reason="contrôle désactivé (NEWSLETTER_SPAMASSASSIN=off)")
    command = shlex.split(setting)
    if not command or shutil.which(command[0]) is None:
        return CheckResult("spam", True, label_skipped, skipped_reason="SpamAssassin non installé")
    threshold = float(getattr(settings, "spam_threshold", 5.0))
    msg = spam_message(c, settings)
    body = msg.as_bytes()
    key_source = json.dumps(
        [command, c.subject, c.html, c.text, settings.mail_from, settings.unsubscribe_url], ensure_ascii=False
    )
    cached = None
    if store is not None:
        cached = cache_get(store, "spam", [key_source], timedelta(hours=getattr(settings, "link_cache_hours", 6))).get(
            key_source
        )
    if cached is not None:
        score, rules = cached["score"], [tuple(r) for r in cached["rules"]]
    else:
        try:
            proc = subprocess.run(
                [*command, *SPAMASSASSIN_ARGS], input=body, capture_output=True, timeout=180, check=False
            )
            score, _required, rules = parse_spamassassin(proc.stdout)
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            return CheckResult(
                "spam", True, label_skipped, skipped_reason=f"SpamAssassin n'a pas pu analyser le message ({exc})"
            )
        if store is not None:
            cache_put(store, "spam", {key_source: (score < threshold, {"score": score, "rules": rules})})
    hits = [f"{rule} ({'+' if pts >= 0 else ''}{_fr_number(pts)}) : {desc}" for pts, rule, desc in rules if pts > 0]
    if score >= threshold:
        return CheckResult(
            "spam",
            False,
            f"Score de spam trop élevé : {_fr_number(score)} (seuil {_fr_number(threshold)})",
            hits or [f"score {_fr_number(score)}"],
            culprits=["spam"],
        )
    return CheckResult("spam", True, f"Score de spam : {_fr_number(score)} (seuil {_fr_number(threshold)})", hits)


# ---------------------------------------------------------------- entry points


def default_link_checker(settings: Any, store: Store | None) -> LinkChecker:
    return LinkChecker(
        store,
        timeout=float(getattr(settings, "link_timeout", 10.0)),
        cache_hours=float(getattr(settings, "link_cache_hours", 6.0)),
    )


def run_checks(
    draft,
    settings: Any = None,
    *,
    link_checker: LinkCheckFn | None = None,
    store: Store | None = None,
    stage: str = "check",
) -> ChecksReport:
    """Run every pre-send check on ``draft``; record the report in the database; return it.

    ``link_checker``: a callable taking a list of URLs and returning URL ->
    :class:`LinkStatus` (default: :class:`LinkChecker` with the settings'
    timeout and the database cache). ``store`` defaults to the settings'
    database. ``stage`` ("check", "approval", "send") is recorded with it.
    """
    if settings is None:
        from newsletter.settings import Settings

        settings = Settings.from_env()
    if store is None:
        store = Store(settings.database_url)
    checker = link_checker or default_link_checker(settings, store)
    c = _content(draft)
    results = [
        check_links(c, checker),
        check_size(c, _size_budget(draft)),
        check_empty_sections(c),
        check_placeholders(c),
        check_schemes(c),
        check_alt_text(c),
        check_social(c),
        check_spam(c, settings, store),
    ]
    report = ChecksReport(results=results)
    record_checks(store, draft.id, report, stage)
    return report


def record_checks(store: Store, draft_id: str, report: ChecksReport, stage: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(draft_checks).values(
                draft_id=draft_id,
                stage=stage,
                ok=report.ok,
                checked_at=report.checked_at,
                report_json=json.dumps(report.to_dict(), ensure_ascii=False),
            )
        )


def last_checks(store: Store, draft_id: str) -> tuple[str, ChecksReport] | None:
    """(stage, report) of the last checks run on a draft, None if never checked."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(draft_checks).where(draft_checks.c.draft_id == draft_id).order_by(draft_checks.c.id.desc()).limit(1)
        ).first()
    if row is None:
        return None
    return row.stage, ChecksReport.from_dict(json.loads(row.report_json))
