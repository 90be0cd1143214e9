"""A real HTTP server on 127.0.0.1 that answers like Alpaca's and Yahoo's market-data APIs.

Bars come from the synthetic generator (so they are realistic and known in advance), served in each
API's real response shape. Faults are scripted per request: a status (429 with Retry-After, 500,
403...), a slow answer (for client timeouts), a truncated JSON body, or an empty page in the middle of
Alpaca pagination. Every request is logged (path, query, time, fault) for the tests to inspect;
headers are checked but never stored.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from market.collect import calendar
from market.collect.calendar import rfc3339
from market.collect.providers.synthetic import session_bars

ALPACA_PATH = "/v2/stocks/bars"
YAHOO_PREFIX = "/v8/finance/chart/"
YAHOO_INTERVALS = {"1m": "1Min", "5m": "5Min", "15m": "15Min", "60m": "1Hour", "1d": "1Day"}


@dataclass
class Request:
    path: str
    query: dict[str, str]
    at: float
    fault: str | None = None

    @property
    def symbols(self) -> list[str]:
        if self.path.startswith(YAHOO_PREFIX):
            return [self.path[len(YAHOO_PREFIX):]]
        return self.query.get("symbols", "").split(",")


@dataclass
class Fault:
    """Applied to requests that `match`, `times` times (None: always)."""

    match: Callable[[Request], bool]
    kind: str  # status | slow | truncate
    times: int | None = 1
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    body: dict[str, Any] | None = None
    used: int = 0


@dataclass
class MarketServer:
    key: str = "test-key-id"
    secret: str = "test-secret-key"
    seed: int = 11
    page_size: int = 10_000
    empty_page_after: int | None = None
    """Insert one empty page (with a token) after this many pages of an Alpaca answer."""
    unknown: set[str] = field(default_factory=lambda: {"NOPE"})
    """Symbols Yahoo answers 404 for and Alpaca leaves out of its answer."""
    null_minute: bool = True
    """Yahoo fills one minute with nulls in every array (as it does for minutes without trades)."""
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "MarketServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def fault(self, kind: str, match: Callable[[Request], bool] = lambda r: True, times: int | None = 1,
              **options: Any) -> Fault:
        added = Fault(match, kind, times, **options)
        self.faults.append(added)
        return added

    def served(self, prefix: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    # --- answers -------------------------------------------------------------------------------

    def bars(self, symbol: str, timeframe: str, first: datetime, last: datetime) -> list[Any]:
        """Synthetic bars of `symbol` with first <= start <= last, over every session in between."""
        out = []
        for session in calendar.sessions_between(calendar.new_york_date(first), calendar.new_york_date(last)):
            out.extend(b for b in session_bars(self.seed, symbol, session, timeframe) if first <= b.ts <= last)
        return out

    def alpaca(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        timeframe = query["timeframe"]
        first, last = _instant(query["start"]), _instant(query["end"])
        rows = [(s, b) for s in sorted(query["symbols"].split(",")) if s not in self.unknown
                for b in self.bars(s, timeframe, first, last)]
        limit = min(int(query.get("limit", 1000)), self.page_size)
        state = json.loads(base64.b64decode(query["page_token"])) if query.get("page_token") else {"o": 0, "p": 0}
        if self.empty_page_after is not None and state["p"] == self.empty_page_after and not state.get("e"):
            return 200, {"bars": {}, "next_page_token": _token({**state, "e": True}), "currency": "USD"}
        page = rows[state["o"]: state["o"] + limit]
        bars: dict[str, list[dict[str, Any]]] = {}
        for symbol, bar in page:
            bars.setdefault(symbol, []).append({"t": rfc3339(bar.ts), "o": bar.open, "h": bar.high, "l": bar.low,
                                                "c": bar.close, "v": bar.volume, "n": bar.trade_count,
                                                "vw": bar.vwap})
        offset = state["o"] + len(page)
        token = _token({"o": offset, "p": state["p"] + 1, "e": state.get("e", False)}) if offset < len(rows) else None
        return 200, {"bars": bars, "next_page_token": token, "currency": "USD"}

    def yahoo(self, symbol: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if symbol in self.unknown:
            return 404, {"chart": {"result": None, "error": {"code": "Not Found",
                                                               "description": "No data found, symbol may be delisted"}}}
        timeframe = YAHOO_INTERVALS[query["interval"]]
        first = datetime.fromtimestamp(int(query["period1"]), timezone.utc)
        last = datetime.fromtimestamp(int(query["period2"]), timezone.utc) - timedelta(seconds=1)
        bars = self.bars(symbol, timeframe, first, last)
        if timeframe == "1Day":  # Yahoo stamps daily points at the session open
            stamps = [int(calendar.session(calendar.new_york_date(b.ts)).open_utc.timestamp()) for b in bars]
        else:
            stamps = [int(b.ts.timestamp()) for b in bars]
        quote = {name: [getattr(b, name) for b in bars] for name in ("open", "high", "low", "close", "volume")}
        if self.null_minute and timeframe != "1Day" and len(bars) > 10:
            for values in quote.values():
                values[5] = None
        result = {"meta": {"currency": "USD", "symbol": symbol, "exchangeName": "NMS",
                           "exchangeTimezoneName": "America/New_York", "dataGranularity": query["interval"]},
                  "timestamp": stamps, "indicators": {"quote": [quote]}}
        return 200, {"chart": {"result": [result], "error": None}}


def _token(state: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(state).encode()).decode()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _handler(server: MarketServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            request = Request(url.path, {k: v[-1] for k, v in parse_qs(url.query).items()}, time.monotonic())
            with server._lock:
                server.requests.append(request)
                fault = next((f for f in server.faults if (f.times is None or f.used < f.times) and f.match(request)),
                             None)
                if fault:
                    fault.used += 1
                    request.fault = fault.kind
            try:
                self._answer(request, fault)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def _answer(self, request: Request, fault: Fault | None) -> None:
            if fault and fault.kind == "slow":
                time.sleep(fault.delay)
            if fault and fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return self._send(fault.status, fault.body or {"message": f"injected HTTP {fault.status}"}, headers)
            if request.path == ALPACA_PATH:
                if (self.headers.get("APCA-API-KEY-ID") != server.key
                        or self.headers.get("APCA-API-SECRET-KEY") != server.secret):
                    return self._send(403, {"message": "forbidden."})
                status, body = server.alpaca(request.query)
            elif request.path.startswith(YAHOO_PREFIX):
                status, body = server.yahoo(request.symbols[0], request.query)
            else:
                status, body = 404, {"message": "not found"}
            truncate = bool(fault and fault.kind == "truncate")
            self._send(status, body, truncate=truncate)

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None,
                  truncate: bool = False) -> None:
            data = json.dumps(body).encode()
            if truncate:
                data = data[: len(data) // 2]
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
