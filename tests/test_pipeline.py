"""End to end: `newsletter run` on the bundled samples served from 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import pytest
from bs4 import BeautifulSoup

from conftest import prefect_env
from newsletter.samples import build_sample_site

TODAY = date(2026, 11, 22)
TRACKING = re.compile(r"^(utm_.*|xtor|fbclid|gclid|mc_cid|mc_eid)$")


def _strip(url: str) -> str:
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not TRACKING.match(k)])
    return urlunsplit((parts.scheme, parts.netloc.lower().removeprefix("www."), parts.path.rstrip("/"), query, ""))


def _feed_titles(path: Path) -> list[tuple[str, str]]:
    parsed = feedparser.parse(path.read_bytes())
    return [(e.title, e.link) for e in parsed.entries]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    from httpserver import LocalServer

    tmp = tmp_path_factory.mktemp("e2e")
    site = tmp / "site"
    # Build once to know the layout, then again with the server's URL.
    server = LocalServer(site).start()
    sources = build_sample_site(site, TODAY, base_url=server.base_url)
    env = prefect_env(tmp)
    env["NEWSLETTER_OUTBOX"] = str(tmp / "outbox")
    env["NEWSLETTER_DATABASE_URL"] = f"sqlite:///{tmp / 'db.sqlite'}"
    proc = subprocess.run(
        [sys.executable, "-m", "newsletter.cli", "run", "--sources", str(sources), "--today", TODAY.isoformat()],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=240,
    )
    server.stop()
    return {"proc": proc, "site": site, "tmp": tmp, "server": server, "env": env}


def test_run_ends_with_the_draft_id_and_a_summary(sample_run):
    proc = sample_run["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    draft_id = lines[-1]
    assert re.fullmatch(r"2026-11-\d{14}-[0-9a-f]{4}", draft_id)
    assert f"Brouillon {draft_id}" in proc.stdout
    assert "Sources en échec : aucune" in proc.stdout
    assert "newsletter outbox approve" in proc.stdout
    # nothing went beyond 127.0.0.1: every request the server saw came from the run
    assert sample_run["server"].requests


def _draft(sample_run) -> Path:
    draft_id = sample_run["proc"].stdout.strip().splitlines()[-1]
    return sample_run["tmp"] / "outbox" / draft_id


def test_draft_holds_every_sample_item_exactly_once(sample_run):
    assert sample_run["proc"].returncode == 0, sample_run["proc"].stderr[-3000:]
    draft = _draft(sample_run)
    site = sample_run["site"]
    html = (draft / "newsletter.html").read_text(encoding="utf-8")
    issue = json.loads((draft / "issue.json").read_text(encoding="utf-8"))

    # articles from the site's RSS feed
    articles = _feed_titles(site / "actualites.xml")
    assert len(articles) >= 8
    # events from the agenda listing, resources from the resources page (relative links)
    base = sample_run["server"].base_url + "/"
    agenda = BeautifulSoup((site / "agenda.html").read_bytes(), "lxml")
    resources = BeautifulSoup((site / "ressources.html").read_bytes(), "lxml")
    event_links = [urljoin(base, card.select_one("a")["href"]) for card in agenda.select(".event-card")]
    resource_links = [urljoin(base, r.select_one("h3 a")["href"]) for r in resources.select(".resource")]
    assert len(event_links) >= 5 and len(resource_links) >= 5
    in_issue = [i for k in ("agenda", "resources", "press") for i in issue[k]]
    in_issue += [i for items in issue["news"].values() for i in items]
    urls = [_strip(i["url"]) for i in in_issue]
    assert len(urls) == len(set(urls)), "an item appears twice in the issue"

    for title, link in articles:
        matches = [i for i in in_issue if _strip(i["url"]) == _strip(link)]
        assert len(matches) == 1, f"article {title!r} appears {len(matches)} times"
    for kind, links, section in (("event", event_links, issue["agenda"]), ("resource", resource_links, issue["resources"])):
        assert len(section) == len(links)
        for link in links:
            matches = [i for i in in_issue if _strip(i["url"]) == _strip(link) or _strip(i.get("canonical_url") or "") == _strip(link)]
            assert len(matches) == 1, f"{kind} {link} appears {len(matches)} times"
    for event in issue["agenda"]:
        assert event["start"] and event["location"], event
    # every item is in the newsletter itself, as a link with its title
    soup = BeautifulSoup(html, "lxml")
    link_texts = {" ".join(a.get_text(" ").split()) for a in soup.find_all("a")}
    for item in in_issue:
        assert " ".join(item["title"].split()) in link_texts, item["title"]

    # each item's title appears in the HTML exactly once per section, and no leftover mj- tag
    assert not re.search(r"<\s*/?\s*mj-", html)
    assert 'lang="fr"' in html

    # press: stories shared by the two feeds appear once
    press_a = _feed_titles(site / "revue-presse-a.xml")
    press_b = _feed_titles(site / "revue-presse-b.xml")
    shared = {_strip(l) for _, l in press_a} & {_strip(l) for _, l in press_b}
    assert len(shared) >= 3
    press_urls = [_strip(i["url"]) for i in issue["press"]]
    for url in shared:
        assert press_urls.count(url) == 1
    assert len(issue["press"]) == len({_strip(l) for _, l in press_a + press_b})
    # readers get the article's own link, without another campaign's tracking
    for item in issue["press"]:
        assert not re.search(r"[?&](utm_|xtor=|fbclid=)", item["url"]), item["url"]


def test_manifest_says_pending_and_counts(sample_run):
    assert sample_run["proc"].returncode == 0, sample_run["proc"].stderr[-3000:]
    draft = _draft(sample_run)
    manifest = json.loads((draft / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "pending"
    assert manifest["counts"]["agenda"] >= 5
    assert manifest["sources"]["failed"] == []
    for name in ("newsletter.html", "newsletter.txt", "newsletter.mjml", "social.json"):
        assert name in manifest["files"]
    social = json.loads((draft / "social.json").read_text(encoding="utf-8"))
    assert {"platform", "text", "url"} <= set(social[0])
    # the outbox commands see it
    env = sample_run["env"]
    out = subprocess.run([sys.executable, "-m", "newsletter.cli", "outbox", "list"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert draft.name in out.stdout and "en attente de validation" in out.stdout


def test_load_taxonomy_reads_its_files_again_only_when_they_change(tmp_path):
    """The review app's taxonomy: the same object (and so the same trained model) while the YAML and
    the training file are unchanged; a new one after an edit of either; a broken file is not kept."""
    from newsletter.curate.classify import TaxonomyError
    from newsletter.home import packaged_sources
    from newsletter.pipeline import load_taxonomy

    yaml_file, training = tmp_path / "taxonomy.yaml", tmp_path / "training.jsonl"
    text = (packaged_sources() / "taxonomy.yaml").read_text(encoding="utf-8")
    yaml_file.write_text(text, encoding="utf-8")
    training.write_text((packaged_sources() / "training.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    first = load_taxonomy(yaml_file)
    assert load_taxonomy(yaml_file) is first and first.path == yaml_file
    with training.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"title": "Une page de plus", "label": "autres"}) + "\n")
    second = load_taxonomy(yaml_file)
    assert second is not first and len(second.training) == len(first.training) + 1
    assert load_taxonomy(yaml_file) is second
    yaml_file.write_text(text.replace("categories:", "categories: [", 1), encoding="utf-8")
    with pytest.raises(TaxonomyError, match="taxonomy.yaml"):
        load_taxonomy(yaml_file)
    yaml_file.write_text(text, encoding="utf-8")
    assert load_taxonomy(yaml_file) is not second and load_taxonomy(yaml_file).slugs == first.slugs
