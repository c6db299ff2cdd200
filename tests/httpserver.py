"""A local HTTP server on 127.0.0.1 for tests: static files plus scripted routes.

Routes can delay, fail, redirect, answer 304 to conditional requests, and send
any bytes with any headers. No test reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    redirect_to: str | None = None
    handler: Callable[["Request"], tuple[int, dict[str, str], bytes]] | None = None
    head: bool = False  # answer HEAD requests (headers only) instead of 501


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    method: str = "GET"


class LocalServer:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else None
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):  # noqa: N802
                server._handle(self)

            def do_HEAD(self):  # noqa: N802
                # Only routes that opt in (head=True, or a handler) answer HEAD; others say 501
                # like a server that does not implement it.
                server._handle(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                # Clients that drop keep-alive connections are expected here.
                import sys as _sys

                if isinstance(_sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
                    return
                super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def add(self, path: str, body: bytes | str = b"", **kwargs) -> str:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body=body, **kwargs)
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> "LocalServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        req = Request(path=h.path, headers={k.lower(): v for k, v in h.headers.items()}, method=h.command)
        with self._lock:
            self.requests.append(req)
        route = self.routes.get(h.path) or self.routes.get(path)
        if h.command == "HEAD" and not (route is not None and (route.head or route.handler is not None)):
            self._send(h, 501, {"Content-Type": "text/plain"}, b"")
            return
        if route is None and self.root is not None:
            rel = path.lstrip("/") or "index.html"
            candidate = (self.root / rel).resolve()
            if candidate.is_dir():
                candidate = candidate / "index.html"
            if self.root.resolve() in candidate.parents and candidate.is_file():
                ctype = {
                    ".xml": "application/rss+xml; charset=utf-8",
                    ".rss": "application/rss+xml; charset=utf-8",
                    ".atom": "application/atom+xml; charset=utf-8",
                    ".json": "application/feed+json; charset=utf-8",
                    ".html": "text/html; charset=utf-8",
                    ".ics": "text/calendar; charset=utf-8",
                }.get(candidate.suffix, "application/octet-stream")
                route = Route(body=candidate.read_bytes(), headers={"Content-Type": ctype})
        if route is None:
            self._send(h, 404, {"Content-Type": "text/plain"}, b"not found")
            return
        if route.delay:
            time.sleep(route.delay)
        if route.handler is not None:
            status, headers, body = route.handler(req)
            self._send(h, status, headers, body)
            return
        if route.redirect_to:
            self._send(h, route.status if 300 <= route.status < 400 else 302,
                       {"Location": route.redirect_to}, b"")
            return
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
            if req.headers.get("if-none-match") == route.etag:
                self._send(h, 304, {"ETag": route.etag}, b"")
                return
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
            if req.headers.get("if-modified-since") == route.last_modified and not route.etag:
                self._send(h, 304, {"Last-Modified": route.last_modified}, b"")
                return
        self._send(h, route.status, headers, route.body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            h.send_response(status)
            for key, value in headers.items():
                h.send_header(key, value)
            if status != 304:
                h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if status != 304 and body and h.command != "HEAD":
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (closed right after binding)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
