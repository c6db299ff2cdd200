"""The centre's identity: name, colours, logo, address, links, campaign settings.

Loaded from one YAML file (default: the home's ``sources/branding.yaml``, else the packaged IREV one) so that
the templates never hard-code a centre. ``load_branding`` validates the file
and raises ``BrandingError`` naming the file and the problem. Colours are
checked against WCAG AA: every text/background pair the templates use
(``Branding.color_pairs``) must reach a contrast ratio of 4.5:1.
"""

from __future__ import annotations

from newsletter.errors import UserError

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


from newsletter.home import BRANDING_FILE, config_path
from newsletter.yamlfile import load_yaml

WCAG_AA = 4.5

COLOR_KEYS = (
    "primary",
    "on_primary",
    "accent",
    "on_accent",
    "text",
    "muted",
    "link",
    "background",
    "surface",
    "footer_background",
    "footer_text",
)
# Every (text colour, background colour) pair the templates put together.
# The templates must not combine colours outside this list.
COLOR_PAIRS = (
    ("text", "surface"),
    ("muted", "surface"),
    ("link", "surface"),
    ("accent", "surface"),
    ("primary", "surface"),
    ("on_primary", "primary"),
    ("on_accent", "accent"),
    ("footer_text", "footer_background"),
    ("link", "footer_background"),
    ("muted", "background"),
    ("link", "background"),
    ("text", "background"),
)
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
CAMPAIGN_STYLES = ("utm", "matomo")


class BrandingError(UserError):
    """The branding file is unusable. The message names the file and the problem."""


@dataclass
class SocialLink:
    name: str
    url: str


@dataclass
class Campaign:
    enabled: bool = False
    style: str = "utm"
    source: str = "newsletter"
    medium: str = "email"
    campaign: str = "lettre-{month}"

    def params(self, month: str) -> dict[str, str]:
        """Query parameters for an issue of ``month`` ("YYYY-MM"); {} when disabled."""
        if not self.enabled:
            return {}
        prefix = "utm" if self.style == "utm" else "mtm"
        return {
            f"{prefix}_source": self.source,
            f"{prefix}_medium": self.medium,
            f"{prefix}_campaign": self.campaign.replace("{month}", month),
        }


@dataclass
class ChannelPlan:
    """One social channel of the posting plan (one account per platform)."""

    platform: str
    per_day: int = 1
    per_week: int = 5
    times: list[str] = field(default_factory=lambda: ["10:00", "14:30"])  # preferred posting times, HH:MM


@dataclass
class Posting:
    """The posting plan's rules (``posting:`` in the branding file).

    ``announcement_weekday``: None posts the letter's announcement on its send
    day; 0-4 (Monday-Friday) moves it to the first such weekday on or after it.
    """

    channels: list[ChannelPlan] = field(default_factory=lambda: [ChannelPlan("linkedin"), ChannelPlan("x")])
    office_start: str = "09:00"
    office_end: str = "18:00"
    min_gap_minutes: int = 120
    announcement_time: str = "10:00"
    announcement_weekday: int | None = None
    event_lead_days: int = 14
    reminder_lead_days: int = 3
    timezone: str = "Europe/Paris"

    def channel(self, platform: str) -> ChannelPlan | None:
        return next((c for c in self.channels if c.platform == platform), None)


@dataclass
class Branding:
    name: str
    newsletter_name: str
    tagline: str
    address: str
    phone: str
    email: str
    site_url: str
    logo_url: str | None = None
    logo_width: int = 160
    archive_url: str = ""
    unsubscribe_url: str = "{{unsubscribe_url}}"
    social: list[SocialLink] = field(default_factory=list)
    colors: dict[str, str] = field(default_factory=dict)
    campaign: Campaign = field(default_factory=Campaign)
    size_budget_bytes: int = 102_000
    path: Path | None = None
    posting: Posting = field(default_factory=Posting)

    def color_pairs(self) -> list[tuple[str, str, str, str]]:
        """(foreground name, background name, foreground hex, background hex) for every pair used."""
        return [(fg, bg, self.colors[fg], self.colors[bg]) for fg, bg in COLOR_PAIRS]

    def issue_url(self, month_key: str) -> str:
        """Public URL of the online version of the issue ``month_key`` ("YYYY-MM")."""
        return f"{self.archive_url.rstrip('/')}/{month_key}/"


def relative_luminance(hex_color: str) -> float:
    """WCAG 2.x relative luminance of "#rrggbb"."""
    channels = []
    for i in (1, 3, 5):
        c = int(hex_color[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG contrast ratio between two "#rrggbb" colours (1 to 21)."""
    la, lb = relative_luminance(fg), relative_luminance(bg)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def _http_url(value: Any, label: str, where: str) -> str:
    if not isinstance(value, str) or urlparse(value).scheme not in ("http", "https") or not urlparse(value).hostname:
        raise BrandingError(f"{where}: '{label}' must be an http(s) URL, got {value!r}")
    return value


def _text(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BrandingError(f"{where}: missing or empty '{key}'")
    return value.strip()


def load_branding(path: str | Path | None = None) -> Branding:
    """Read and validate a branding file (default: the home's sources/branding.yaml, else IREV's)."""
    path = Path(path) if path is not None else config_path(BRANDING_FILE)
    where = str(path)
    data = load_yaml(path, BrandingError, "branding file")
    if not isinstance(data, dict):
        raise BrandingError(f"{where}: expected a mapping of branding settings")

    name = _text(data, "name", where)
    email = _text(data, "email", where)
    if "@" not in email:
        raise BrandingError(f"{where}: 'email' {email!r} is not an e-mail address")
    site_url = _http_url(data.get("site_url"), "site_url", where)
    archive_url = _http_url(data.get("archive_url"), "archive_url", where)
    logo_url = data.get("logo_url")
    if logo_url is not None:
        logo_url = _http_url(logo_url, "logo_url", where)
    logo_width = data.get("logo_width", 160)
    if not isinstance(logo_width, int) or not 20 <= logo_width <= 600:
        raise BrandingError(f"{where}: 'logo_width' must be a number of pixels between 20 and 600")
    unsubscribe = _text(data, "unsubscribe_url", where)

    social: list[SocialLink] = []
    for index, raw in enumerate(data.get("social") or [], start=1):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise BrandingError(f"{where}: social link #{index} needs a 'name' and a 'url'")
        social.append(SocialLink(name=str(raw["name"]), url=_http_url(raw.get("url"), f"social #{index} url", where)))

    colors = data.get("colors")
    if not isinstance(colors, dict):
        raise BrandingError(f"{where}: missing 'colors' mapping ({', '.join(COLOR_KEYS)})")
    missing = [k for k in COLOR_KEYS if k not in colors]
    if missing:
        raise BrandingError(f"{where}: colors: missing {', '.join(missing)}")
    for key in COLOR_KEYS:
        if not isinstance(colors[key], str) or not _HEX.match(colors[key]):
            raise BrandingError(f"{where}: colors.{key} must be '#rrggbb', got {colors[key]!r}")
    colors = {k: colors[k].lower() for k in COLOR_KEYS}
    for fg, bg in COLOR_PAIRS:
        ratio = contrast_ratio(colors[fg], colors[bg])
        if ratio < WCAG_AA:
            raise BrandingError(
                f"{where}: colors.{fg} ({colors[fg]}) on colors.{bg} ({colors[bg]}) has a contrast"
                f" ratio of {ratio:.2f}:1, below the WCAG AA minimum of {WCAG_AA}:1"
            )

    raw_campaign = data.get("campaign") or {}
    if not isinstance(raw_campaign, dict):
        raise BrandingError(f"{where}: 'campaign' must be a mapping")
    unknown = sorted(set(raw_campaign) - {"enabled", "style", "source", "medium", "campaign"})
    if unknown:
        raise BrandingError(f"{where}: campaign: unknown key(s) {', '.join(unknown)}")
    campaign = Campaign(**raw_campaign)
    if not isinstance(campaign.enabled, bool):
        raise BrandingError(f"{where}: campaign.enabled must be true or false")
    if campaign.style not in CAMPAIGN_STYLES:
        raise BrandingError(f"{where}: campaign.style {campaign.style!r} is not one of {', '.join(CAMPAIGN_STYLES)}")

    budget = data.get("size_budget_bytes", 102_000)
    if not isinstance(budget, int) or budget <= 0:
        raise BrandingError(f"{where}: 'size_budget_bytes' must be a positive number of bytes")

    posting = _posting(data.get("posting"), where)

    return Branding(
        name=name,
        newsletter_name=str(data.get("newsletter_name") or f"La lettre de {name}"),
        tagline=str(data.get("tagline") or ""),
        address=_text(data, "address", where),
        phone=str(data.get("phone") or ""),
        email=email,
        site_url=site_url,
        logo_url=logo_url,
        logo_width=logo_width,
        archive_url=archive_url,
        unsubscribe_url=unsubscribe,
        social=social,
        colors=colors,
        campaign=campaign,
        size_budget_bytes=budget,
        path=path,
        posting=posting,
    )


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_POSTING_KEYS = {"channels", "office_hours", "min_gap_minutes", "announcement_time", "announcement_weekday",
                 "event_lead_days", "reminder_lead_days", "timezone"}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
_PLATFORMS = ("linkedin", "x", "mastodon", "bluesky")  # render.social.PLATFORMS (not imported: no cycle)


def _hhmm(value: Any, label: str, where: str) -> str:
    if not isinstance(value, str) or not _HHMM.match(value.strip()):
        raise BrandingError(f"{where}: posting: {label} must be a time 'HH:MM', got {value!r}")
    return value.strip()


def _count(value: Any, label: str, where: str, low: int = 0, high: int = 10_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BrandingError(f"{where}: posting: {label} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _posting(raw: Any, where: str) -> Posting:
    """The ``posting:`` section (all keys optional); defaults: LinkedIn and X, 9:00-18:00, 1 a day, 5 a week."""
    if raw is None:
        return Posting()
    if not isinstance(raw, dict):
        raise BrandingError(f"{where}: 'posting' must be a mapping")
    unknown = sorted(set(raw) - _POSTING_KEYS)
    if unknown:
        raise BrandingError(f"{where}: posting: unknown key(s) {', '.join(unknown)}")
    posting = Posting()
    if "channels" in raw:
        channels: list[ChannelPlan] = []
        if not isinstance(raw["channels"], list) or not raw["channels"]:
            raise BrandingError(f"{where}: posting: channels must be a non-empty list (e.g. [linkedin, x])")
        for index, entry in enumerate(raw["channels"], start=1):
            entry = {"platform": entry} if isinstance(entry, str) else entry
            if not isinstance(entry, dict) or entry.get("platform") not in _PLATFORMS:
                raise BrandingError(
                    f"{where}: posting: channel #{index} must be one of {', '.join(_PLATFORMS)}"
                    " (or a mapping with 'platform', 'per_day', 'per_week', 'times')"
                )
            extra = sorted(set(entry) - {"platform", "per_day", "per_week", "times"})
            if extra:
                raise BrandingError(f"{where}: posting: channel #{index}: unknown key(s) {', '.join(extra)}")
            platform = entry["platform"]
            if any(c.platform == platform for c in channels):
                raise BrandingError(f"{where}: posting: channel {platform!r} is listed twice")
            channel = ChannelPlan(platform)
            channel.per_day = _count(entry.get("per_day", 1), f"{platform}.per_day", where, 1, 24)
            channel.per_week = _count(entry.get("per_week", 5), f"{platform}.per_week", where, 1, 100)
            if "times" in entry:
                if not isinstance(entry["times"], list) or not entry["times"]:
                    raise BrandingError(f"{where}: posting: {platform}.times must be a list of 'HH:MM'")
                channel.times = sorted(_hhmm(t, f"{platform}.times", where) for t in entry["times"])
            channels.append(channel)
        posting.channels = channels
    if "office_hours" in raw:
        hours = raw["office_hours"]
        if not isinstance(hours, list) or len(hours) != 2:
            raise BrandingError(f"{where}: posting: office_hours must be [start, end], e.g. ['09:00', '18:00']")
        posting.office_start = _hhmm(hours[0], "office_hours", where)
        posting.office_end = _hhmm(hours[1], "office_hours", where)
        if posting.office_start >= posting.office_end:
            raise BrandingError(f"{where}: posting: office_hours must start before they end")
    if "announcement_time" in raw:
        posting.announcement_time = _hhmm(raw["announcement_time"], "announcement_time", where)
    if raw.get("announcement_weekday") is not None:
        day = str(raw["announcement_weekday"]).strip().lower()
        if day not in _WEEKDAYS:
            raise BrandingError(f"{where}: posting: announcement_weekday must be one of {', '.join(_WEEKDAYS)}")
        posting.announcement_weekday = _WEEKDAYS.index(day)
    for key in ("min_gap_minutes", "event_lead_days", "reminder_lead_days"):
        if key in raw:
            setattr(posting, key, _count(raw[key], key, where, 0, 600))
    if "timezone" in raw:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(str(raw["timezone"]))
        except Exception as exc:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError
            raise BrandingError(f"{where}: posting: unknown timezone {raw['timezone']!r}") from exc
        posting.timezone = str(raw["timezone"])
    for channel in posting.channels:
        for t in channel.times:
            if not posting.office_start <= t < posting.office_end:
                raise BrandingError(
                    f"{where}: posting: {channel.platform}.times {t} is outside office hours"
                    f" {posting.office_start}-{posting.office_end}"
                )
    if not posting.office_start <= posting.announcement_time < posting.office_end:
        raise BrandingError(f"{where}: posting: announcement_time {posting.announcement_time} is outside office hours")
    return posting
