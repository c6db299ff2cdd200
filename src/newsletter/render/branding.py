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
    )
