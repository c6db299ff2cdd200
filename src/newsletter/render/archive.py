"""The web archive: each issue as a standalone page, an index and an RSS feed.

Layout written by ``publish_web``::

    archive_dir/
      index.html            list of past issues (French), newest first
      feed.xml              RSS 2.0 feed of the issues
      2025-12/index.html    the issue, rendered in "web" mode
      2025-12/issue.json    subject, preheader, dates (read back to build index and feed)
      2025-12/ics/*.ics     calendar files linked by "Ajouter à mon agenda"

Publishing the same month again replaces that month's page. The feed and index
are rebuilt from every ``*/issue.json`` present, so past issues stay listed.
"""

from __future__ import annotations

from newsletter.errors import UserError

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, time
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from newsletter.render.branding import Branding
from newsletter.files import atomic_write
from newsletter.render.frformat import format_month_fr
from newsletter.models import Issue
from newsletter.normalize import PARIS
from newsletter.render.newsletter import RenderedNewsletter, render_newsletter, render_template, template_environment

_MONTH_DIR = re.compile(r"^\d{4}-\d{2}$")
INDEX_TEMPLATE = "web/index.html.j2"


class ArchiveError(UserError):
    """The archive folder is unusable. The message names the path and the problem."""


def _issue_meta(dirpath: Path) -> dict[str, Any] | None:
    meta_path = dirpath / "issue.json"
    if not meta_path.is_file():
        return None
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{meta_path}: unreadable issue metadata ({exc})") from None


def list_issues(archive_dir: Path) -> list[dict[str, Any]]:
    """Metadata of every published issue, newest first."""
    archive_dir = Path(archive_dir)
    if not archive_dir.is_dir():
        return []
    issues = []
    for child in archive_dir.iterdir():
        if child.is_dir() and _MONTH_DIR.match(child.name):
            meta = _issue_meta(child)
            if meta:
                issues.append(meta)
    return sorted(issues, key=lambda m: m["month"], reverse=True)


def _feed(issues: list[dict[str, Any]], branding: Branding) -> bytes:
    base = branding.archive_url.rstrip("/") + "/"
    rss = ET.Element("rss", version="2.0", attrib={"xmlns:atom": "http://www.w3.org/2005/Atom"})
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = branding.newsletter_name
    ET.SubElement(channel, "link").text = base
    ET.SubElement(channel, "description").text = f"{branding.newsletter_name} – {branding.tagline}"
    ET.SubElement(channel, "language").text = "fr"
    ET.SubElement(
        channel, "atom:link", href=base + "feed.xml", rel="self", type="application/rss+xml"
    )
    for meta in issues:
        entry = ET.SubElement(channel, "item")
        ET.SubElement(entry, "title").text = meta["subject"]
        ET.SubElement(entry, "link").text = meta["url"]
        ET.SubElement(entry, "guid", isPermaLink="true").text = meta["url"]
        ET.SubElement(entry, "description").text = meta["preheader"]
        ET.SubElement(entry, "pubDate").text = meta["pub_date"]
    ET.indent(rss)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def publish_web(
    rendered: RenderedNewsletter,
    issue: Issue,
    branding: Branding,
    archive_dir: Path,
    *,
    templates_dir: Path | None = None,
) -> Path:
    """Write the issue's web page, its .ics files, and rebuild index.html and feed.xml.

    ``rendered`` is the e-mail rendering (its subject, preheader, online URL and
    campaign-free links are reused); the page itself is rendered again in "web"
    mode: no unsubscribe link, relative calendar links. Returns the page's path.
    """
    month_key = f"{issue.month:%Y-%m}"
    page = render_newsletter(
        issue, branding, templates_dir=templates_dir, campaign={}, web_url=rendered.web_url, mode="web"
    )
    return publish_page(
        page.html,
        issue,
        branding,
        archive_dir,
        subject=rendered.subject,
        preheader=rendered.preheader,
        url=rendered.web_url or branding.issue_url(month_key),
        ics_files=page.ics_files(),
        templates_dir=templates_dir,
    )


def web_version(html: str, *, web_url: str, branding: Branding, unsubscribe: set[str] = frozenset()) -> str:
    """The sent e-mail's HTML made into the archive page, and nothing else changed.

    Removes what only makes sense in a subscriber's mailbox: the paragraph with
    the unsubscribe link (``a.nl-unsub`` or an href in ``unsubscribe``) and the
    "Voir la version en ligne" links (the page itself; the top bar's points to
    the archive index instead); calendar links under ``web_url`` become relative.
    """
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(html, "html.parser")
    for a in list(soup.find_all("a")):
        href = (a.get("href") or "").strip()
        if "nl-unsub" in (a.get("class") or []) or href in unsubscribe:
            (a.find_parent("p") or a).decompose()
    index_url = branding.archive_url.rstrip("/") + "/"
    for a in list(soup.find_all("a")):
        href = (a.get("href") or "").strip()
        if not web_url or not href.startswith(web_url):
            continue
        if href.rstrip("/") != web_url.rstrip("/"):
            a["href"] = href[len(web_url):].lstrip("/") or "./"
            continue
        parent = a.find_parent("p")
        if parent is not None and "nl-topbar" in (parent.get("class") or []):
            a["href"] = index_url
            a.string = f"Toutes les lettres de {branding.name}"
            continue
        sibling = a.next_sibling
        if isinstance(sibling, NavigableString) and sibling.strip() in ("·", "|", "-", "–"):
            sibling.extract()
        a.decompose()
        if parent is not None and not parent.get_text(strip=True):
            parent.decompose()
    return str(soup)


def publish_page(
    html: str,
    issue: Issue,
    branding: Branding,
    archive_dir: Path,
    *,
    subject: str,
    preheader: str,
    url: str,
    ics_files: dict[str, bytes],
    templates_dir: Path | None = None,
) -> Path:
    """Write an issue's page as given, its .ics files, and rebuild index.html and feed.xml."""
    archive_dir = Path(archive_dir)
    month_key = f"{issue.month:%Y-%m}"
    try:
        issue_dir = archive_dir / month_key
        (issue_dir / "ics").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"{archive_dir}: cannot create the archive folder ({exc.strerror})") from None
    atomic_write(issue_dir / "index.html", html)
    for name, data in ics_files.items():
        atomic_write(issue_dir / "ics" / name, data)
    published = datetime.combine(issue.today, time(8, 0), tzinfo=PARIS)
    meta = {
        "month": month_key,
        "month_label": format_month_fr(issue.month),
        "subject": subject,
        "preheader": preheader,
        "url": url,
        "pub_date": format_datetime(published),
        "counts": issue.counts(),
    }
    atomic_write(issue_dir / "issue.json", json.dumps(meta, ensure_ascii=False, indent=2))

    issues = list_issues(archive_dir)
    env = template_environment(templates_dir)
    index = render_template(env, INDEX_TEMPLATE, {"b": branding, "c": branding.colors, "issues": issues})
    atomic_write(archive_dir / "index.html", index)
    atomic_write(archive_dir / "feed.xml", _feed(issues, branding))
    return issue_dir / "index.html"
