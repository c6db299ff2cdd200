"""The monthly run on a real Prefect server: started, deployed, picked up by a worker, watched.

One stack per module (deploy/server.sh start: `prefect server`, the work pool,
`prefect deploy --all` for a temporary home, a worker), driven through
Prefect's REST API the way an operator's tools would, then stopped by PID.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller

pytestmark = pytest.mark.prefect

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{title}</title><link>https://www.irev.fr/</link>
<description>Actualités</description>
<item><title>{item}</title><link>https://www.irev.fr/actualites/{slug}</link>
<description>{item} : compte rendu de la rencontre régionale des pilotes des contrats de ville.</description>
<pubDate>{date}</pubDate></item>
</channel></rss>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def feed(title, item, slug, date="Fri, 20 Nov 2026 10:00:00 +0100"):
    return RSS.format(title=title, item=item, slug=slug, date=date).encode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, postgres_server):
    """A home, a local site, a local SMTP server, and the services of `make server` for that home.

    Both databases on PostgreSQL: the project's (psycopg) and Prefect's (asyncpg).
    """
    from httpserver import LocalServer
    from sqlalchemy.engine import make_url

    import pg

    home = tmp_path_factory.mktemp("home")
    site = LocalServer().start()
    site.add("/ok.xml", feed("OK", "Cités éducatives : un réseau régional", "cites"),
             headers={"Content-Type": "application/rss+xml"})
    site.add("/gone.xml", b"not here", status=404)

    def slow(request):
        time.sleep(6)
        return 200, {"Content-Type": "application/rss+xml"}, feed(
            "Lent", "Quartiers 2030 : les pilotes", "q2030", "Tue, 20 Oct 2026 10:00:00 +0200")

    site.add("/slow.xml", handler=slow)
    (home / "sources").mkdir()
    (home / "sources" / "sources.yaml").write_text(
        "sources:\n"
        f"  - {{name: OK, kind: article, type: feed, url: '{site.url('/ok.xml')}'}}\n"
        f"  - {{name: Gone, kind: article, type: feed, url: '{site.url('/gone.xml')}'}}\n",
        encoding="utf-8",
    )
    (home / "sources" / "slow.yaml").write_text(
        f"sources:\n  - {{name: Lent, kind: article, type: feed, url: '{site.url('/slow.xml')}'}}\n",
        encoding="utf-8",
    )
    smtp = Collector()
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
    controller.start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSLETTER_"))}
    env.update(
        NEWSLETTER_HOME=str(home),
        NEWSLETTER_BIN=str(BIN),
        NEWSLETTER_OUTBOX=str(home / "outbox"),
        NEWSLETTER_DATABASE_URL=pg.fresh_database(postgres_server),
        PREFECT_API_DATABASE_CONNECTION_URL=make_url(pg.fresh_database(postgres_server))
        .set(drivername="postgresql+asyncpg")
        .render_as_string(hide_password=False),
        NEWSLETTER_TRANSPORT="smtp",
        NEWSLETTER_SMTP_HOST="127.0.0.1",
        NEWSLETTER_SMTP_PORT=str(controller.port),
        NEWSLETTER_MAIL_TO="abonnes@example.org,elus@example.org",
        NEWSLETTER_OPERATOR_EMAIL="exploitation@example.org",
        NEWSLETTER_ARCHIVE=str(home / "archive"),
        PREFECT_PORT=str(port),
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    started = subprocess.run(
        [str(ROOT / "deploy" / "server.sh"), "start"], env=env, capture_output=True, text=True, timeout=240
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        assert started.returncode == 0, started.stderr + _logs(home)
        assert f"Prefect UI:   http://127.0.0.1:{port}" in started.stdout
        env["PREFECT_API_URL"] = api
        yield {"home": home, "env": env, "api": api, "smtp": smtp, "site": site}
    finally:
        stopped = subprocess.run(
            [str(ROOT / "deploy" / "server.sh"), "stop"], env=env, capture_output=True, text=True, timeout=120
        )
        controller.stop()
        site.stop()
    assert "stopped worker" in stopped.stdout and "stopped server" in stopped.stdout
    assert not list((home / "run").glob("*.pid"))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{api}/health", timeout=2)


def _logs(home: Path) -> str:
    out = []
    for log in sorted((home / "run").glob("*.log")):
        out.append(f"\n--- {log.name} ---\n" + log.read_text(errors="replace")[-3000:])
    return "".join(out)


def deployment_id(api, name):
    resp = requests.get(f"{api}/deployments/name/{name}", timeout=10)
    resp.raise_for_status()
    return resp.json()["id"]


def trigger(api, name, parameters):
    resp = requests.post(
        f"{api}/deployments/{deployment_id(api, name)}/create_flow_run", json={"parameters": parameters}, timeout=10
    )
    resp.raise_for_status()
    return resp.json()["id"]


def flow_run(api, run_id):
    resp = requests.get(f"{api}/flow_runs/{run_id}", timeout=10)
    resp.raise_for_status()
    return resp.json()


def wait_final(api, run_id, home, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = flow_run(api, run_id)
        if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(1)
    pytest.fail(f"flow run {run_id} not finished after {timeout} s: {run['state_type']}" + _logs(home))


def artifacts(api, run_id):
    resp = requests.post(
        f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}, timeout=10
    )
    resp.raise_for_status()
    return {a["key"]: a for a in resp.json()}


def drafts_of(home, month):
    box = home / "outbox"
    found = []
    for manifest in box.glob("*/manifest.json"):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data["month"] == month:
            found.append(data)
    return found


def test_monthly_deployment_makes_a_draft_and_approval_delivers_it(stack):
    api, home, env = stack["api"], stack["home"], stack["env"]
    run_id = trigger(api, "monthly-newsletter/monthly",
                     {"sources": "sources/sources.yaml", "month": "2026-11", "today": "2026-11-22"})
    run = wait_final(api, run_id, home)
    assert run["state_type"] == "COMPLETED", _logs(home)

    (draft,) = drafts_of(home, "2026-11")
    assert draft["status"] == "pending"
    assert [f["source"] for f in draft["sources"]["failed"]] == ["Gone"]
    found = artifacts(api, run_id)
    assert {"newsletter-sections", "newsletter-sources", "newsletter-curation", "newsletter-review"} <= set(found)
    assert "Gone" in found["newsletter-sources"]["data"]
    assert f"(http://127.0.0.1:8000/drafts/{draft['id']})" in found["newsletter-review"]["data"]
    sections = json.loads(found["newsletter-sections"]["data"])
    assert {"section": "Actualités", "items": draft["counts"]["news"]} in sections
    # a 404 is a warning line naming the source, not a traceback
    logs = requests.post(f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}}, timeout=10).json()
    messages = [entry["message"] for entry in logs]
    assert any("Gone" in m and entry["level"] == 30 for m, entry in zip(messages, logs))
    assert not any("Traceback" in m for m in messages), messages

    approved = subprocess.run(
        [str(BIN / "newsletter"), "outbox", "approve", draft["id"], "--actor", "marie", "--override", "hors ligne : les liens du site ne sont pas joignables"],
        env=env, cwd=home, capture_output=True, text=True, timeout=60,
    )
    assert approved.returncode == 0, approved.stderr
    deliver_id = approved.stdout.split("exécution ")[1].split(")")[0]
    run = wait_final(api, deliver_id, home)
    assert run["state_type"] == "COMPLETED", _logs(home)
    assert run["parameters"]["draft_id"] == draft["id"]

    manifest = json.loads((home / "outbox" / draft["id"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "sent"
    assert any(deliver_id in (e.get("note") or "") for e in manifest["events"])
    # one private message per recipient (NEWSLETTER_MAIL_TO: two list addresses here)
    mine = [m for m in stack["smtp"].messages if {"abonnes@example.org", "elus@example.org"} & set(m.rcpt_tos)]
    assert sorted(tuple(m.rcpt_tos) for m in mine) == [("abonnes@example.org",), ("elus@example.org",)]
    assert all(b"List-Unsubscribe" in m.content for m in mine)
    found = artifacts(api, deliver_id)
    assert found["newsletter-delivery-progress"]["data"] == 100.0
    counts = {row["outcome"]: row["messages"] for row in json.loads(found["newsletter-delivery"]["data"])}
    assert counts == {"sent": 2, "skipped": 0, "failed": 0, "uncertain": 0}


def test_a_failed_run_mails_the_operator_with_its_url(stack):
    api, home = stack["api"], stack["home"]
    run_id = trigger(api, "monthly-newsletter/monthly", {"sources": "sources/missing.yaml", "month": "2026-09"})
    run = wait_final(api, run_id, home)
    assert run["state_type"] == "FAILED"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mails = [m for m in stack["smtp"].messages if m.rcpt_tos == ["exploitation@example.org"]]
        if mails:
            break
        time.sleep(0.5)
    (mail,) = mails
    body = email.message_from_bytes(mail.content, policy=email.policy.default).get_content()
    assert "missing.yaml" in body
    assert f"/runs/flow-run/{run_id}" in body


def test_killing_the_worker_mid_run_leaves_no_half_draft_and_the_rerun_finishes(stack):
    api, home, env = stack["api"], stack["home"], stack["env"]
    params = {"sources": "sources/slow.yaml", "month": "2026-10", "today": "2026-10-22"}
    run_id = trigger(api, "monthly-newsletter/monthly", params)
    site = stack["site"]
    deadline = time.monotonic() + 120
    while not site.hits("/slow.xml"):  # the run is collecting
        assert time.monotonic() < deadline, _logs(home)
        time.sleep(0.2)
    worker_pid = int((home / "run" / "worker.pid").read_text())
    os.killpg(worker_pid, signal.SIGKILL)  # the machine goes down: worker and its flow run
    time.sleep(7)  # long enough for the slow answer: nobody is left to write the draft
    assert drafts_of(home, "2026-10") == []

    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "newsletter", "--name", "newsletter-restarted"],
        env={**env, "PYTHONPATH": str(ROOT)},  # as deploy/server.sh does until `flows` is packaged
        cwd="/", stdout=open(home / "run" / "worker.log", "ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (home / "run" / "worker.pid").write_text(str(worker.pid))
    rerun_id = trigger(api, "monthly-newsletter/monthly", params)
    run = wait_final(api, rerun_id, home)
    assert run["state_type"] == "COMPLETED", _logs(home)
    (draft,) = drafts_of(home, "2026-10")
    assert draft["status"] == "pending" and draft["counts"]["news"] == 1
