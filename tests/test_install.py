"""A real install: the checkout installed (not editable) into a fresh virtual environment runs
from a folder outside the repository, with its configuration and templates from the package.

Slow (it installs every dependency, Prefect included, into the new environment: about 1 to 3
minutes here, from pip's cache); select it alone with `-m install`, leave it out with `-m "not install"`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What a checkout's top level holds that is not part of it (and may be large or in use).
NOT_THE_CHECKOUT = {".venv", ".git", "build", "outbox", "archive", "test-artifacts", ".pytest_cache"}
_ANYWHERE = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.sqlite")


# Issue 8, point 2, word for word.
ISSUE_SEQUENCE = (
    "newsletter init home && cd home && newsletter sample-site --out site"
    " && newsletter run --sources site/sources.yaml"
)


def _ignore(folder: str, names: list[str]) -> set[str]:
    top = NOT_THE_CHECKOUT if Path(folder) == ROOT else set()
    return top | set(_ANYWHERE(folder, names))


def _run(cmd, *, cwd, env, timeout=600):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.install
@pytest.mark.timeout(1200)
def test_a_non_editable_install_runs_the_sample_month_from_any_folder(tmp_path):
    # A copy of the working tree, so that the build leaves nothing in the repository.
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT, checkout, symlinks=True, ignore=_ignore)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=dict(os.environ))
    bin_dir = venv / "bin"

    # The environment of a person in a shell: no NEWSLETTER_* (the test session sets some), no PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "PREFECT_", "VIRTUAL_ENV"))}
    env.pop("PYTHONPATH", None)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    _run([bin_dir / "pip", "install", "--quiet", "--no-compile", str(checkout)], cwd=tmp_path, env=env, timeout=1100)
    shutil.rmtree(checkout)  # the installed package must not need the checkout any more

    elsewhere = tmp_path / "ailleurs"
    elsewhere.mkdir()
    where = _run(
        [bin_dir / "python", "-c", "import flows.monthly, newsletter; print(newsletter.__file__); print(flows.__file__)"],
        cwd=elsewhere, env=env,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where

    # Exactly the issue's sequence, in a shell started in that folder.
    run = _run(["sh", "-c", ISSUE_SEQUENCE], cwd=elsewhere, env=env, timeout=600)
    assert "Et maintenant" in run.stdout  # `newsletter init` said what to edit next
    assert "servi sur http://127.0.0.1:" in run.stderr  # `newsletter run` served the sample site itself
    home = elsewhere / "home"
    draft_id = run.stdout.strip().splitlines()[-1]

    manifest = json.loads((home / "outbox" / draft_id / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "pending"
    assert manifest["sources"]["failed"] == []  # every source of the sample site was read over HTTP
    assert manifest["centre"] == "IREV"  # the home's branding (copied from the packaged IREV one)
    html = (home / "outbox" / draft_id / "newsletter.html").read_text(encoding="utf-8")
    links = re.findall(r"""href\s*=\s*["']([^"']*)["']""", html)
    assert links and all(re.match(r"(https?://|mailto:|\{\{unsubscribe_url\}\}$)", link) for link in links), links
    assert str(tmp_path) not in html  # no file path
    assert (home / "newsletter.sqlite").is_file()  # the database lives in the home
    listing = _run(["newsletter", "outbox", "list"], cwd=home, env=env).stdout
    assert draft_id in listing
