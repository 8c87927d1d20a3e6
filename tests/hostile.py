"""Hostile HTTP peers on 127.0.0.1 (R15): a raw asyncio server in a thread whose every
answer the test writes, down to the bytes: fixed bodies, bodies generated on the fly (a
gigabyte is never held: one 64 KiB block is sent again and again), endless trickles, any
status and headers (redirects). It closes each connection after one answer.

`route(method, target, body)` returns the `Reply`; `server.sent` counts the body bytes
written, so a test can see that its client stopped reading early.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

__all__ = ["HostileServer", "Reply", "always", "endless", "hostile_server", "huge"]

GIGABYTE = 1024**3
Stream = Callable[[], AsyncIterator[bytes]]


@dataclass
class Reply:
    """One answer: a fixed `body`, or a `stream` generated as it is sent (chunked, unless
    `headers` declare a Content-Length)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Stream | None = None


def huge(total: int = GIGABYTE, byte: bytes = b"9") -> Stream:
    """`total` bytes of `byte`, generated 64 KiB at a time."""
    block = byte * 65536

    async def generate() -> AsyncIterator[bytes]:
        left = total
        while left > 0:
            yield block if left >= len(block) else block[:left]
            left -= len(block)

    return generate


def endless(byte: bytes = b"9", every: float = 0.05) -> Stream:
    """One `byte` every `every` seconds, forever."""

    async def generate() -> AsyncIterator[bytes]:
        while True:
            yield byte
            await asyncio.sleep(every)

    return generate


Route = Callable[[str, str, bytes], Reply]


def always(reply: Reply) -> Route:
    """A route that answers `reply` to every request."""

    def route(method: str, target: str, body: bytes) -> Reply:
        return reply

    return route


class HostileServer:
    """The server's state as the test sees it."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.url = ""
        self.sent = 0
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in header_lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((method, target))
            self.bodies.append(body)
            reply = self.route(method, target, body)
            lines = [f"HTTP/1.1 {reply.status} Hostile", f"Content-Type: {reply.content_type}"]
            lines += [f"{name}: {value}" for name, value in reply.headers.items()]
            lines.append("Connection: close")
            if reply.stream is None:
                lines.append(f"Content-Length: {len(reply.body)}")
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + reply.body)
                self.sent += len(reply.body)
                await writer.drain()
                return
            # With a Content-Length of its own the stream is sent as it is, else chunked.
            chunked = not any(name.lower() == "content-length" for name in reply.headers)
            if chunked:
                lines.append("Transfer-Encoding: chunked")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            async for chunk in reply.stream():
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                await writer.drain()
                self.sent += len(chunk)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away: what it was meant to do
        except asyncio.CancelledError:
            pass  # the server stops (`_main`): an endless answer ends here
        finally:
            self._tasks.discard(task)
            writer.close()
            with suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._started.set()
        async with server:
            await self._stop.wait()
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


@contextmanager
def hostile_server(route: Route) -> Iterator[HostileServer]:
    """`route` served on a free loopback port until the block ends."""
    server = HostileServer(route)
    thread = threading.Thread(target=asyncio.run, args=(server._main(),), daemon=True)
    thread.start()
    if not server._started.wait(10):
        raise RuntimeError("the hostile server did not start")
    try:
        yield server
    finally:
        server.stop()
        thread.join(10)
