"""A TCP proxy on loopback that resets some connections mid-reply and delays others: a real network fault.

    with FaultProxy(upstream_port=s3.ports["s3"], reset_rate=0.05, delay_rate=0.05, delay_s=2.0) as proxy:
        ... point clients at proxy.url ...
        proxy.stats  # {"connections": .., "replies": .., "resets": .., "delays": ..}

Every reply (each chunk the server sends after the client has sent a request) is, with
probability `reset_rate`, cut: the client's socket is closed with SO_LINGER 0, so the client sees
ECONNRESET in the middle of a response, as after a load balancer or NAT drops a flow. With
probability `delay_rate` a reply is held `delay_s` before it is forwarded (a slow server or a
congested link). The choices come from a seeded generator, so a run can be repeated. The proxy
runs its own asyncio loop in a thread; it binds to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from typing import Any


class FaultProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        reset_rate: float = 0.0,
        delay_rate: float = 0.0,
        delay_s: float = 2.0,
        seed: int = 0,
    ) -> None:
        self.upstream_port = upstream_port
        self.reset_rate, self.delay_rate, self.delay_s = reset_rate, delay_rate, delay_s
        self._random = random.Random(seed)
        self.stats = {"connections": 0, "replies": 0, "resets": 0, "delays": 0}
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats["connections"] += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            _reset(writer)
            return
        upstream = asyncio.ensure_future(self._pipe(reader, up_writer, replies=False, client=writer))
        downstream = asyncio.ensure_future(self._pipe(up_reader, writer, replies=True, client=writer))
        await asyncio.wait([upstream, downstream], return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        for w in (writer, up_writer):
            if not w.is_closing():
                w.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, replies: bool, client: Any
    ) -> None:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                writer.close()
                return
            if replies:
                self.stats["replies"] += 1
                draw = self._random.random()
                if draw < self.reset_rate:
                    self.stats["resets"] += 1
                    # Part of the reply reaches the client, then the connection is reset.
                    writer.write(chunk[: len(chunk) // 2])
                    await writer.drain()
                    _reset(client)
                    return
                if draw < self.reset_rate + self.delay_rate:
                    self.stats["delays"] += 1
                    await asyncio.sleep(self.delay_s)
            writer.write(chunk)
            await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST (ECONNRESET), not an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
