"""A TCP proxy in front of PostgreSQL that counts round trips, for tests and benchmarks.

:class:`RoundTripProxy` listens on ``127.0.0.1:<free port>`` and forwards
each client connection to the upstream server of a libpq URL (TCP host and
port, or a unix-socket directory and port, as the suite's throwaway server
has). It runs on threads of its own, so sync and async code use it alike::

    with RoundTripProxy(upstream_url) as proxy:
        with psycopg.connect(proxy.url) as connection:
            proxy.reset()
            connection.execute("SELECT 1")
            assert proxy.round_trips == 1

A *round trip* (a flight) is the client sending, then waiting for the
server's answer before it sends again: a new flight is counted when client
bytes arrive after the server's ``ReadyForQuery`` (the end of an answer) was
forwarded since the client's last bytes, so a pipelined batch of several
statements is one flight even when the server streams its first results
while the client is still sending the batch (during startup any server
bytes end a flight; COPY data is not a new flight) (the
``Terminate`` message that closes a connection is none). Flights
before a connection's first ``ReadyForQuery`` (startup and authentication)
are counted apart, in :attr:`RoundTripProxy.startup_round_trips`.

The proxy also reads the protocol's message framing (not the contents) to
list the statements the server was asked to run (:attr:`RoundTripProxy.statements`):
each simple ``Query`` message, and each extended-protocol ``Execute`` with the
text its ``Parse`` gave the prepared statement it runs.

``record_statements=False`` leaves the statements out (after startup the proxy
then only counts). ``delay`` (seconds) holds every chunk that long in each direction, in order,
as a network of that latency would: a round trip then costs at least
``2 * delay``.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self
from urllib.parse import quote, urlencode

from psycopg.conninfo import conninfo_to_dict

__all__ = ["RoundTripProxy"]

_SSL_OR_GSS_REQUEST: Final = frozenset({80877103, 80877104})
_CHUNK: Final = 65536
#: The client's last message (it waits for no answer): not a round trip.
#: Client messages that expect no answer: Flush, Terminate.
_NO_ANSWER: Final = frozenset({b"H", b"X"})


class _Framing:
    """Splits one direction's byte stream into protocol messages ``(type, body)``.

    The client's first message (startup, SSL or GSS request) has no type
    byte; it is reported with type ``b""``. A server answering an SSL or GSS
    request sends one bare byte (``N`` or ``S``), reported as ``(b"!", byte)``;
    after a ``S`` (TLS) the stream is opaque and nothing more is reported.
    """

    def __init__(self, *, untyped_first: bool) -> None:
        self._buffer = b""
        self._untyped = untyped_first
        self.bare_bytes = 0  # bare one-byte answers expected (server side)
        self.opaque = False

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """The complete messages ``data`` finishes."""
        if self.opaque:
            return []
        self._buffer += data
        messages: list[tuple[bytes, bytes]] = []
        while (message := self._next()) is not None:
            messages.append(message)
        return messages

    def _next(self) -> tuple[bytes, bytes] | None:
        buffer = self._buffer
        if self.bare_bytes and buffer:
            self.bare_bytes -= 1
            self._buffer = buffer[1:]
            self.opaque = buffer[:1] == b"S"
            return b"!", buffer[:1]
        header = 4 if self._untyped else 5
        if len(buffer) < header or self.opaque:
            return None
        (length,) = struct.unpack_from("!i", buffer, header - 4)
        end = header - 4 + length
        if len(buffer) < end:
            return None
        kind = b"" if self._untyped else buffer[:1]
        self._buffer = buffer[end:]
        body = buffer[header:end]
        if self._untyped and struct.unpack_from("!i", body)[0] not in _SSL_OR_GSS_REQUEST:
            self._untyped = False  # the startup message: typed messages follow
        return kind, body


def _cstring(body: bytes, start: int) -> tuple[str, int]:
    """The NUL-terminated string at ``start`` of ``body`` and the offset after it."""
    end = body.index(b"\0", start)
    return body[start:end].decode("utf-8", "replace"), end + 1


class _Link:
    """One client connection: its upstream socket, flights and statements."""

    def __init__(self, proxy: RoundTripProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = proxy.open_upstream()
        self.answered = True  # server bytes forwarded since the client's last bytes
        self.ready = False  # the first ReadyForQuery seen: startup is over
        self.client_framing = _Framing(untyped_first=True)
        self.server_framing = _Framing(untyped_first=False)
        self.parsed: dict[str, str] = {}
        self.bound: dict[str, str] = {}

    def start(self) -> None:
        """Pump both directions on threads of their own."""
        self._pump(self.client, self.upstream, self.from_client, self.proxy.delay)
        self._pump(self.upstream, self.client, self.from_server, self.proxy.delay)

    def _pump(
        self,
        source: socket.socket,
        target: socket.socket,
        seen: Callable[[bytes], None],
        delay: float,
    ) -> None:
        if delay <= 0:
            threading.Thread(target=self._copy, args=(source, target, seen), daemon=True).start()
            return
        held: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
        threading.Thread(target=self._hold, args=(source, held), daemon=True).start()
        threading.Thread(target=self._deliver, args=(held, target, seen), daemon=True).start()

    def _copy(
        self, source: socket.socket, target: socket.socket, seen: Callable[[bytes], None]
    ) -> None:
        try:
            while data := source.recv(_CHUNK):
                seen(data)
                target.sendall(data)
        except OSError:
            pass
        self._close()

    def _hold(self, source: socket.socket, held: queue.SimpleQueue[tuple[float, bytes]]) -> None:
        try:
            while data := source.recv(_CHUNK):
                held.put((time.perf_counter() + self.proxy.delay, data))
        except OSError:
            pass
        held.put((0.0, b""))

    def _deliver(
        self,
        held: queue.SimpleQueue[tuple[float, bytes]],
        target: socket.socket,
        seen: Callable[[bytes], None],
    ) -> None:
        try:
            while (item := held.get())[1]:
                due, data = item
                while (wait := due - time.perf_counter()) > 0:
                    time.sleep(wait)  # the simulated network's latency
                seen(data)
                target.sendall(data)
        except OSError:
            pass
        self._close()

    def from_client(self, data: bytes) -> None:
        """Client bytes: a new flight if the server answered since the client's last
        bytes, unless they are only Flush or Terminate messages (no answer to wait for:
        psycopg sends a Flush after a pipeline's Sync)."""
        with self.proxy.lock:
            messages = self.client_framing.feed(data)
            if self.answered and not (messages and {k for k, _ in messages} <= _NO_ANSWER):
                self.proxy.count_flight(startup=not self.ready)
                self.answered = False
            if not self.proxy.record_statements and self.ready:
                return
            for kind, body in messages:
                self._client_message(kind, body)

    def from_server(self, data: bytes) -> None:
        """Server bytes about to reach the client: after startup, an answer is
        complete with its ReadyForQuery (a server that streams the first results
        of a pipeline before the client has sent all of it has not answered it)."""
        with self.proxy.lock:
            kinds = [kind for kind, _ in self.server_framing.feed(data)]
            if not self.ready or b"Z" in kinds:
                self.answered = True
            self.ready = self.ready or b"Z" in kinds

    def _client_message(self, kind: bytes, body: bytes) -> None:
        if kind == b"" and struct.unpack_from("!i", body)[0] in _SSL_OR_GSS_REQUEST:
            self.server_framing.bare_bytes += 1
        elif kind == b"Q":
            self.proxy.statements.append(_cstring(body, 0)[0])
        elif kind == b"P":
            name, offset = _cstring(body, 0)
            self.parsed[name] = _cstring(body, offset)[0]
        elif kind == b"B":
            portal, offset = _cstring(body, 0)
            self.bound[portal] = self.parsed.get(_cstring(body, offset)[0], "?")
        elif kind == b"E":
            self.proxy.statements.append(self.bound.get(_cstring(body, 0)[0], "?"))

    def _close(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class RoundTripProxy:
    """A counting (and optionally delaying) proxy to the PostgreSQL of ``upstream_url``.

    Use it as a context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(
        self, upstream_url: str, *, delay: float = 0.0, record_statements: bool = True
    ) -> None:
        self._params = {k: str(v) for k, v in conninfo_to_dict(upstream_url).items()}
        self.delay = delay
        self.record_statements = record_statements
        self.lock = threading.Lock()
        self.round_trips = 0
        self.startup_round_trips = 0
        self.connections_opened = 0
        self.statements: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._links: list[_Link] = []

    @property
    def port(self) -> int:
        """The port the proxy listens on (on 127.0.0.1)."""
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """A ``postgresql://`` URL of the upstream database through the proxy (no TLS)."""
        params = dict(self._params)
        user, password = params.pop("user", ""), params.pop("password", None)
        dbname = params.pop("dbname", "")
        params.pop("host", None), params.pop("port", None), params.pop("hostaddr", None)
        params.update(sslmode="disable", gssencmode="disable")
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{quote(dbname)}?{urlencode(params)}"

    def reset(self) -> None:
        """Set the counters and the statement list back to nothing (connections stay)."""
        with self.lock:
            self.round_trips = self.startup_round_trips = self.connections_opened = 0
            self.statements = []

    def count_flight(self, *, startup: bool) -> None:
        """One more flight (the caller holds :attr:`lock`)."""
        if startup:
            self.startup_round_trips += 1
        else:
            self.round_trips += 1

    def open_upstream(self) -> socket.socket:
        """A new socket to the upstream server."""
        host = self._params.get("host") or "/var/run/postgresql"
        port = int(self._params.get("port") or 5432)
        if host.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(f"{host}/.s.PGSQL.{port}")
            return sock
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def start(self) -> Self:
        """Start accepting connections."""
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                link = _Link(self, client)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections_opened += 1
                self._links.append(link)
            link.start()

    def close(self) -> None:
        """Stop listening and cut every connection."""
        self._listener.close()
        with self.lock:
            links, self._links = self._links, []
        for link in links:
            link._close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
