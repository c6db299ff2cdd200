"""`kill -9` the sending process at random points, resume, and count what the SMTP server received."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading

from deliverytools import HTML, approved_draft, delivery_env, start_smtp

from newsletter.deliver import subscribers as subs
from newsletter.outbox import drafts as outbox
from newsletter.settings import Settings
from newsletter.store import Store

TRIALS = 10
ACTIVE = 40


def _send(env, draft_id):
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "outbox", "send", draft_id, "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_sigkill_at_random_points_then_resume_mails_every_active_subscriber_once(monkeypatch, tmp_path):
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    controller, handler = start_smtp()
    try:
        delivery_env(monkeypatch, controller)
        env = dict(os.environ)
        settings = Settings.from_env()
        store = Store(settings.database_url)
        active = [subs.add(store, f"abonne{i}@example.org")[0] for i in range(ACTIVE)]
        gone = []
        for i, status in enumerate((subs.UNSUBSCRIBED, subs.UNSUBSCRIBED, subs.BOUNCED, subs.COMPLAINED)):
            s = subs.add(store, f"parti{i}@example.org")[0]
            subs.change_status(store, s.id, status, actor="test")
            gone.append(s.email)
        big_html = HTML.replace("</body>", "".join(f"<p>{'contenu ' * 40}{i}</p>\n" for i in range(60)) + "</body>")
        kills_total = 0
        for trial in range(TRIALS):
            where = f"(seed {seed}, trial {trial})"
            for s in active:  # everyone is active again for this issue
                subs_row = subs.get_by_id(store, s.id)
                assert subs_row.status == subs.ACTIVE or subs_row.email in gone
            draft = approved_draft(settings.outbox, store, html=big_html)
            handler.pipelining = trial % 2 == 1  # every other trial through a server offering PIPELINING
            with handler.lock:
                handler.messages.clear()
            kills = rng.choice((1, 1, 1, 2))
            proc_box: dict = {}
            results = None
            runs = 0
            late_unsubscribed: list[str] = []
            while True:
                runs += 1
                assert runs < 8, f"never finished {where}"
                target = None
                if kills:
                    with handler.lock:
                        got = len(handler.messages)
                    target = got + rng.randint(1, max(1, ACTIVE // 3))
                    delay = rng.choice((0.0, 0.0005, 0.002, 0.01, 0.03))

                    def on_message(n, envelope, target=target, delay=delay):
                        if n == target:
                            p = proc_box["p"]
                            threading.Timer(delay, lambda: p.poll() is None and os.kill(p.pid, signal.SIGKILL)).start()

                    handler.on_message = on_message
                else:
                    handler.on_message = None
                proc = _send(env, draft.id)
                proc_box["p"] = proc
                out, err = proc.communicate(timeout=120)
                if proc.returncode == -signal.SIGKILL:
                    kills -= 1
                    kills_total += 1
                    assert store.draft_status(draft.id) == outbox.SENDING, where
                    # someone unsubscribes between the crash and the resume: never mailed after that
                    received = handler.by_recipient()
                    candidates = [s for s in active if s.email not in received and s.email not in late_unsubscribed]
                    if candidates and rng.random() < 0.5:
                        victim = rng.choice(candidates)
                        subs.change_status(store, victim.id, subs.UNSUBSCRIBED, actor="test")
                        late_unsubscribed.append(victim.email)
                    continue
                if proc.returncode == 0:
                    results = json.loads(out)
                    break
                # the kill came after the last message: the process finished before the signal
                raise AssertionError(f"send failed {where}: rc={proc.returncode} {err}")
            handler.on_message = None
            assert store.draft_status(draft.id) == outbox.SENT, where
            received = handler.by_recipient()
            uncertain = set(results["uncertain_addresses"])
            for s in active:
                n = received.get(s.email, 0)
                assert n <= 1, f"{s.email} received {n} copies {where}"
                if s.email in late_unsubscribed:
                    assert n == 0 or s.email in uncertain, f"{s.email} mailed after unsubscribing {where}"
                    continue
                if s.email not in uncertain:
                    assert n == 1, f"{s.email} received {n} copies and is not reported uncertain {where}"
            for address in gone:
                assert received.get(address, 0) == 0, f"{address} is not active but was mailed {where}"
            assert len(uncertain) <= runs - 1, f"more uncertain than interruptions {where}"
            assert results["sent"] + results["uncertain"] + results["skipped"] == ACTIVE, where
            for email in late_unsubscribed:  # reactivate for the next trial
                from sqlalchemy import update

                from newsletter.store import subscribers as table

                with store.engine.begin() as conn:
                    conn.execute(update(table).where(table.c.email == email).values(status=subs.ACTIVE))
        assert kills_total >= TRIALS
    finally:
        controller.stop()
