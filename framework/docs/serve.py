"""`medallion docs --serve`: the generated folder over HTTP on 127.0.0.1 only.

The site works from file:// too; serving is for sharing a link on the same machine or for tools that
need http. We bind the loopback address (never all interfaces) and serve files only, with the standard
library's handler; port 0 picks a free port.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from framework.errors import DocsError

HOST = "127.0.0.1"


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves the site folder; logs nothing per request (the CLI prints the URL once)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def make_server(folder: Path, port: int = 8000) -> ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        return ThreadingHTTPServer((HOST, port), handler)
    except OSError as exc:
        raise DocsError(f"cannot serve on {HOST}:{port}: {exc.strerror or exc}; try another --port "
                        "(0 picks a free one)") from None


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/index.html"


def serve_in_background(folder: Path, port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start serving in a daemon thread; stop with `server.shutdown(); server.server_close()`."""
    server = make_server(folder, port)
    thread = threading.Thread(target=server.serve_forever, name="medallion-docs-server", daemon=True)
    thread.start()
    return server, thread
