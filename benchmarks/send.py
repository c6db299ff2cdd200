"""Send 2,000 personalised ~64 KB messages to a local SMTP sink, next to a bare smtplib loop.

    .venv/bin/python benchmarks/send.py [--count 2000] [--connections 1] [--rounds 3] [--profile]

What is measured, in one run, against one sink:

- bare: one smtplib connection, ``sendmail`` of ``count`` pre-built messages
  (the engine's own output, built before the clock starts);
- raw (information): the same loop with the data dot-stuffed beforehand,
  so smtplib's per-message dot-stuffing (a regular expression over 64 KB,
  about a third of the bare loop's CPU) is not counted; the engine does that
  work once per issue;
- engine: ``deliver_draft`` of a fresh approved draft to ``count`` active
  subscribers, everything on: the send log in SQLite (one commit per
  message: the previous message's result and this message's claim), the
  claim doubling as the check that the subscriber is still active, the
  lease, the rate limiter (no limit set), and each message built from the
  once-encoded body with its own token, Message-ID, Date and headers.

Method:

- Messages are calibrated to about 64 KB (the printed size is the mean of
  the messages actually sent).
- The sink is a minimal SMTP server in a separate process: it reads in
  256 KB chunks, looks for the end of the data and answers 250; it never
  parses the message. It reports its own CPU time (``XSTAT``), printed as
  a share of each phase's wall time: well under 100% means the sink is not
  what is measured.
- Bare and engine rounds alternate (``--rounds``, default 3), so a burst of
  load from other processes hits both; every round is printed, then the
  median of each and their ratio (the target: engine >= 1,000 messages/s
  and >= 80% of the bare loop). The sender's CPU time per message is
  printed too: it is steadier than wall time on a shared machine.
- The sink offers PIPELINING (RFC 2920), as Postfix and the big providers
  do: the engine then sends MAIL, RCPT and DATA in one write (two round
  trips per message instead of four); smtplib's loop cannot.
  ``--no-pipelining`` measures the engine one command at a time.
- ``--profile``: cProfile of one more engine round, top functions by own time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TARGET_SIZE = 64 * 1024


def sink(port_queue, pipelining: bool) -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port_queue.put(srv.getsockname()[1])
    import threading

    def client(conn):
        conn.sendall(b"220 sink ESMTP\r\n")
        buf = b""
        in_data = False
        while True:
            chunk = conn.recv(262144)
            if not chunk:
                return
            buf += chunk
            out = []  # the replies to what this chunk held, written at once (as a pipelining server does)
            while True:
                if in_data:
                    end = buf.find(b"\r\n.\r\n")
                    if end < 0:
                        buf = buf[-4:]
                        break
                    buf = buf[end + 5:]
                    in_data = False
                    out.append(b"250 2.0.0 queued\r\n")
                    continue
                nl = buf.find(b"\r\n")
                if nl < 0:
                    break
                line, buf = buf[:nl].upper(), buf[nl + 2:]
                if line.startswith((b"EHLO", b"HELO")):
                    out.append(b"250-sink\r\n" + (b"250-PIPELINING\r\n" if pipelining else b"") + b"250 8BITMIME\r\n")
                elif line.startswith(b"DATA"):
                    out.append(b"354 go\r\n")
                    in_data = True
                elif line.startswith(b"XSTAT"):
                    out.append(f"250 {time.process_time():.6f}\r\n".encode())
                elif line.startswith(b"QUIT"):
                    conn.sendall(b"".join(out) + b"221 bye\r\n")
                    conn.close()
                    return
                else:
                    out.append(b"250 ok\r\n")
            if out:
                conn.sendall(b"".join(out))

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=client, args=(conn,), daemon=True).start()


def sink_cpu(port: int) -> float:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        code, resp = smtp.docmd("XSTAT")
    return float(resp)


PARA = "<p>Les quartiers prioritaires de la politique de la ville : une actualit\u00e9 du mois. </p>\n"
TEXT = "La lettre\n" + "Une ligne de texte pour la version texte.\n" * 200 + "Se désinscrire : {{unsubscribe_url}}\n"


def big_html(paragraphs: int) -> str:
    return f'<html lang="fr"><body>{PARA * paragraphs}<a href="{{{{unsubscribe_url}}}}">Se désinscrire</a></body></html>'


def calibrated_html(secret: str) -> str:
    """HTML making the whole message (headers, text and quoted-printable HTML) about 64 KB."""
    from newsletter.deliver.compose import MessageTemplate, Recipient
    from newsletter.deliver.tokens import make_token, token_length

    def size(paragraphs: int) -> int:
        t = MessageTemplate(subject="La lettre de l'IREV – décembre 2026", sender="IREV <contact@irev.fr>",
                            text=TEXT, html=big_html(paragraphs), draft_id="2026-12", list_id="<lettre.irev.fr>",
                            unsubscribe_mailto="contact@irev.fr", public_url="https://lettre.irev.fr",
                            token_length=token_length(secret))
        return len(t.render(Recipient("abonne1@example.org", None, 1, make_token(secret, 1, "abonne1@example.org"))).data)

    low, high = size(0), size(100)
    paragraphs = round((TARGET_SIZE - low) * 100 / (high - low))
    return big_html(paragraphs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-pipelining", action="store_true", help="the sink does not offer PIPELINING")
    args = parser.parse_args()

    q = multiprocessing.Queue()
    proc = multiprocessing.Process(target=sink, args=(q, not args.no_pipelining), daemon=True)
    proc.start()
    port = q.get(timeout=10)

    from sqlalchemy import insert

    from newsletter.deliver import subscribers as subs
    from newsletter.deliver.engine import SendConfig, deliver_draft
    from newsletter.deliver.messenger import SMTPMessenger
    from newsletter.outbox.drafts import APPROVED, create_draft, transition
    from newsletter.store import Store, subscribers as table, utcnow

    secret = "bench-secret"
    tmp = Path(tempfile.mkdtemp(prefix="send-bench-"))
    store = Store(f"sqlite:///{tmp / 'db.sqlite'}")
    html = calibrated_html(secret)
    now = utcnow()
    with store.engine.begin() as conn:
        conn.execute(insert(table), [
            {"email": f"abonne{i}@example.org", "email_key": f"abonne{i}@example.org", "status": subs.ACTIVE,
             "bounce_count": 0, "created_at": now, "updated_at": now} for i in range(args.count)
        ])
    config = SendConfig(sender="IREV <contact@irev.fr>", public_url="https://lettre.irev.fr", secret_key=secret,
                        connections=args.connections)
    months = iter(date(2000 + k // 12, k % 12 + 1, 1) for k in range(100 * 12))

    def new_draft():
        draft = create_draft(tmp / "outbox", store, month=next(months),
                             files={"newsletter.html": html, "newsletter.txt": TEXT, "social.json": "[]"},
                             manifest={"subject": "La lettre de l'IREV – décembre 2026"})
        transition(tmp / "outbox", store, draft.id, APPROVED)
        return draft

    # the messages the bare loop sends: the engine's own output, built beforehand
    first = new_draft()
    from newsletter.deliver.engine import _template  # the template deliver_draft builds
    from newsletter.deliver.compose import Recipient
    from newsletter.deliver.tokens import make_token
    from newsletter.outbox.drafts import load_draft

    template = _template(load_draft(tmp / "outbox", first.id, store), config, personal=True)
    prebuilt = [template.render(Recipient(f"abonne{i}@example.org", None, i + 1,
                                          make_token(secret, i + 1, f"abonne{i}@example.org"))).data
                for i in range(args.count)]
    size = sum(map(len, prebuilt)) / len(prebuilt)
    print(f"{args.count} messages of {size / 1024:.1f} KB; engine on {args.connections} connection(s);"
          f" sink {'without' if args.no_pipelining else 'with'} PIPELINING")

    def measure(fn):
        s0, c0, t0 = sink_cpu(port), time.process_time(), time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        sink = sink_cpu(port) - s0
        return args.count / wall, cpu / args.count * 1e6, sink / wall

    def bare():
        smtp = smtplib.SMTP("127.0.0.1", port)
        for i, data in enumerate(prebuilt):
            smtp.sendmail("contact@irev.fr", [f"abonne{i}@example.org"], data)
        smtp.quit()

    stuffed = [template.render(Recipient(f"abonne{i}@example.org", None, i + 1,
                                         make_token(secret, i + 1, f"abonne{i}@example.org"))).smtp_data
               for i in range(args.count)]

    def raw():  # smtplib commands, data dot-stuffed beforehand: what smtplib's own per-message work costs
        smtp = smtplib.SMTP("127.0.0.1", port)
        smtp.ehlo()
        for i, data in enumerate(stuffed):
            smtp.docmd("MAIL FROM:<contact@irev.fr>")
            smtp.docmd(f"RCPT TO:<abonne{i}@example.org>")
            smtp.docmd("DATA")
            smtp.send(data)
            smtp.getreply()
        smtp.quit()

    drafts = [first] + [new_draft() for _ in range(args.rounds - 1 + args.profile)]

    def engine(draft):
        result = deliver_draft(tmp / "outbox", store, draft.id, SMTPMessenger("127.0.0.1", port), config=config)
        assert result.sent == args.count, result

    results = {"bare": [], "raw": [], "engine": []}
    for r in range(args.rounds):
        for name, fn in (("bare", bare), ("raw", raw), ("engine", lambda: engine(drafts[r]))):
            rate, cpu_us, sink_share = measure(fn)
            results[name].append(rate)
            print(f"round {r + 1} {name:6}: {rate:6,.0f} messages/s, sender CPU {cpu_us:4.0f} µs/message,"
                  f" sink busy {sink_share:4.0%} of the time")
    bare_rate = statistics.median(results["bare"])
    engine_rate = statistics.median(results["engine"])
    print(f"median bare smtplib loop, pre-built messages: {bare_rate:,.0f} messages/s")
    print(f"median bare loop without smtplib's per-message dot-stuffing: {statistics.median(results['raw']):,.0f}"
          " messages/s (information)")
    print(f"median engine (personalised, send log, {args.connections} connection(s)): {engine_rate:,.0f} messages/s"
          f" = {engine_rate / bare_rate:.0%} of the bare loop")
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(engine, drafts[-1])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    proc.terminate()


if __name__ == "__main__":
    main()
