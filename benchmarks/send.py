"""Send 2,000 personalised ~64 KB messages to a local SMTP sink, next to a bare smtplib loop.

Both measured in the same run, against the same sink: a minimal SMTP server
in a separate process that reads commands and the DATA phase in large chunks
and answers 250 (so the sink is not what is measured).

- bare: one smtplib connection, ``sendmail`` of 2,000 pre-built messages;
- engine: ``deliver_draft`` with the real send log (SQLite, one commit per
  message around the send), the subscriber status check before each
  message, and each message built from the once-encoded body with its own
  token, Message-ID and headers.

    .venv/bin/python benchmarks/send.py [--count 2000] [--connections 1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import socket
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def sink(port_queue) -> None:
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
            while True:
                if in_data:
                    end = buf.find(b"\r\n.\r\n")
                    if end < 0:
                        buf = buf[-4:]
                        break
                    buf = buf[end + 5:]
                    in_data = False
                    conn.sendall(b"250 2.0.0 queued\r\n")
                    continue
                nl = buf.find(b"\r\n")
                if nl < 0:
                    break
                line, buf = buf[:nl].upper(), buf[nl + 2:]
                if line.startswith((b"EHLO", b"HELO")):
                    conn.sendall(b"250-sink\r\n250 8BITMIME\r\n")
                elif line.startswith(b"DATA"):
                    conn.sendall(b"354 go\r\n")
                    in_data = True
                elif line.startswith(b"QUIT"):
                    conn.sendall(b"221 bye\r\n")
                    conn.close()
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=client, args=(conn,), daemon=True).start()


def big_html(size: int = 55_000) -> str:
    para = "<p>Les quartiers prioritaires de la politique de la ville : une actualit\u00e9 du mois. </p>\n"
    body = para * (size // len(para.encode("utf-8")))
    return f'<html lang="fr"><body>{body}<a href="{{{{unsubscribe_url}}}}">Se désinscrire</a></body></html>'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()

    q = multiprocessing.Queue()
    proc = multiprocessing.Process(target=sink, args=(q,), daemon=True)
    proc.start()
    port = q.get(timeout=10)

    from newsletter.deliver import subscribers as subs
    from newsletter.deliver.engine import SendConfig, deliver_draft
    from newsletter.deliver.messenger import SMTPMessenger
    from newsletter.outbox.drafts import APPROVED, create_draft, transition
    from newsletter.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="send-bench-"))
    store = Store(f"sqlite:///{tmp / 'db.sqlite'}")
    html = big_html()
    text = "La lettre\n" + "Une ligne de texte pour la version texte.\n" * 200 + "Se désinscrire : {{unsubscribe_url}}\n"
    t0 = time.perf_counter()
    from sqlalchemy import insert

    from newsletter.store import subscribers as table, utcnow

    now = utcnow()
    with store.engine.begin() as conn:
        conn.execute(insert(table), [
            {"email": f"abonne{i}@example.org", "email_key": f"abonne{i}@example.org", "status": subs.ACTIVE,
             "bounce_count": 0, "created_at": now, "updated_at": now} for i in range(args.count)
        ])
    draft = create_draft(tmp / "outbox", store, month=date(2026, 12, 1),
                         files={"newsletter.html": html, "newsletter.txt": text, "social.json": "[]"},
                         manifest={"subject": "La lettre de l'IREV – décembre 2026"})
    transition(tmp / "outbox", store, draft.id, APPROVED)
    print(f"setup: {args.count} subscribers in {time.perf_counter() - t0:.2f} s")

    # bare loop: pre-built messages (the engine's own output for one subscriber, repeated)
    from newsletter.deliver.compose import MessageTemplate, Recipient
    from newsletter.deliver.tokens import make_token, token_length

    secret = "bench-secret"
    template = MessageTemplate(subject="La lettre", sender="contact@irev.fr", text=text, html=html, draft_id="x",
                               list_id="<lettre.irev.fr>", unsubscribe_mailto="contact@irev.fr",
                               public_url="https://lettre.irev.fr", token_length=token_length(secret))
    prebuilt = [template.render(Recipient(f"abonne{i}@example.org", None, i, make_token(secret, i, "x"))).data
                for i in range(args.count)]
    size = sum(map(len, prebuilt)) / len(prebuilt)
    smtp = smtplib.SMTP("127.0.0.1", port)
    t0 = time.perf_counter()
    for i, data in enumerate(prebuilt):
        smtp.sendmail("contact@irev.fr", [f"abonne{i}@example.org"], data)
    bare = time.perf_counter() - t0
    smtp.quit()

    config = SendConfig(sender="IREV <contact@irev.fr>", public_url="https://lettre.irev.fr", secret_key=secret,
                        connections=args.connections)
    t0 = time.perf_counter()
    result = deliver_draft(tmp / "outbox", store, draft.id, SMTPMessenger("127.0.0.1", port), config=config)
    engine = time.perf_counter() - t0
    assert result.sent == args.count, result

    bare_rate, engine_rate = args.count / bare, args.count / engine
    print(f"message size: {size / 1024:.1f} KB")
    print(f"bare smtplib loop, pre-built messages: {bare_rate:,.0f} messages/s ({bare:.2f} s)")
    print(f"engine (personalised, send log, {args.connections} connection(s)): {engine_rate:,.0f} messages/s"
          f" ({engine:.2f} s) = {engine_rate / bare_rate:.0%} of the bare loop")
    proc.terminate()


if __name__ == "__main__":
    main()
