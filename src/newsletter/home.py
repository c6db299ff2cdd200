"""A centre's home: the one folder holding everything a centre owns.

Layout (``newsletter init DIR`` creates it from the packaged IREV configuration)::

    <home>/
      sources/sources.yaml     the sources to collect
      sources/taxonomy.yaml    the sections of the letter and their keywords
      sources/branding.yaml    the centre's name, colours, logo, address, links
      sources/README.md        the editor's guide to these files (French)
      templates/               optional: a template here overrides the packaged one of the same name
      outbox/                  drafts awaiting approval
      archive/                 the web archive of sent issues
      newsletter.sqlite        the database (source state, draft status, sent items)

``NEWSLETTER_HOME`` names the home (default: the working directory); every
default path in :mod:`newsletter.settings` derives from it. A file the home
lacks (no ``sources/taxonomy.yaml``, no ``templates/``) falls back to the one
shipped in the package (:mod:`newsletter.packaged`, found through
:mod:`importlib.resources`, never through a path into a repository).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from newsletter.errors import UserError

HOME_ENV = "NEWSLETTER_HOME"
SOURCES_DIR = "sources"
TEMPLATES_DIR = "templates"
OUTBOX_DIR = "outbox"
ARCHIVE_DIR = "archive"
DB_FILE = "newsletter.sqlite"
SOURCES_FILE = "sources.yaml"
TAXONOMY_FILE = "taxonomy.yaml"
BRANDING_FILE = "branding.yaml"
# What `newsletter init` copies from the packaged configuration into <home>/sources/.
INIT_FILES = (SOURCES_FILE, TAXONOMY_FILE, BRANDING_FILE, "README.md")


class HomeError(UserError):
    """A home cannot be created or used; the message (French) names the folder or file."""


def home_dir(env: Mapping[str, str] | None = None) -> Path:
    """The home named by ``NEWSLETTER_HOME`` (default: the working directory), as an absolute path."""
    env = os.environ if env is None else env
    value = env.get(HOME_ENV)
    return (Path(value).expanduser() if value else Path.cwd()).absolute()


def _packaged(name: str) -> Path:
    root = files("newsletter.packaged") / name
    path = Path(str(root))
    if not path.is_dir():  # pragma: no cover - a broken install
        raise HomeError(f"installation incomplète : dossier {name}/ introuvable dans le paquet ({path})")
    return path


def packaged_templates() -> Path:
    """The templates shipped in the package."""
    return _packaged(TEMPLATES_DIR)


def packaged_sources() -> Path:
    """IREV's configuration shipped in the package (sources, taxonomy, branding, sample site)."""
    return _packaged(SOURCES_DIR)


def config_path(name: str, home: Path | None = None) -> Path:
    """``<home>/sources/<name>`` when the home has it, else the packaged file of that name."""
    home = home_dir() if home is None else Path(home)
    own = home / SOURCES_DIR / name
    return own if own.is_file() else packaged_sources() / name


def template_dirs(home: Path | None = None) -> list[Path]:
    """Where templates are looked up, in order: the home's ``templates/`` (if any), then the packaged ones.

    A template in the home overrides the packaged one of the same name; every
    other template (and every ``{% import %}`` of one) comes from the package.
    """
    home = home_dir() if home is None else Path(home)
    own = home / TEMPLATES_DIR
    dirs = [own] if own.is_dir() else []
    return dirs + [packaged_templates()]


@dataclass
class InitResult:
    home: Path
    written: list[Path]
    overwritten: list[Path]


def init_home(dest: str | Path, *, force: bool = False) -> InitResult:
    """Create a home in ``dest`` from the packaged IREV configuration.

    Copies ``sources.yaml``, ``taxonomy.yaml``, ``branding.yaml`` and
    ``README.md`` into ``dest/sources/`` and creates ``outbox/`` and
    ``archive/``. Never touches drafts, the archive or the database. When one
    of the configuration files already exists, refuses (HomeError naming
    them) unless ``force`` is true, which replaces them with the packaged ones.
    """
    home = Path(dest).expanduser().absolute()
    if home.exists() and not home.is_dir():
        raise HomeError(f"{home} existe déjà et n'est pas un dossier")
    packaged = packaged_sources()
    targets = [home / SOURCES_DIR / name for name in INIT_FILES]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        names = ", ".join(str(t.relative_to(home)) for t in existing)
        raise HomeError(
            f"{home} contient déjà une configuration ({names}) : rien n'a été modifié ; "
            "ajoutez --force pour la remplacer par celle de l'IREV"
        )
    try:
        for sub in (SOURCES_DIR, OUTBOX_DIR, ARCHIVE_DIR):
            (home / sub).mkdir(parents=True, exist_ok=True)
        for name, target in zip(INIT_FILES, targets):
            shutil.copyfile(packaged / name, target)
    except OSError as exc:
        raise HomeError(f"{home} : impossible de créer le dossier du centre ({exc.strerror or exc})") from None
    return InitResult(home=home, written=targets, overwritten=existing)
