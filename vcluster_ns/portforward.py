"""Reach a service inside the cluster from the host's loopback.

The listening socket is opened by the launcher *before* it leaves the host's
network namespace, so it stays bound to the host's 127.0.0.1; the service,
which lives inside the cluster's network namespace, accepts on it and
connects to the target there.  No process of the host's network namespace
is needed, and nothing is listening on the host once the cluster is gone.
"""

from __future__ import annotations

import socket
from typing import Callable

import trio

from .errors import InvalidInput


def open_host_listener(port: int, host: str = "127.0.0.1") -> socket.socket:
    """Bind and listen on the host's loopback (port 0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}",
                           "choose another --rapi-port, or 0 for a free one") from None
    sock.listen(64)
    return sock


async def _pump(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
    try:
        async for chunk in source:
            await sink.send_all(chunk)
        await sink.send_eof()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass


async def forward(listener: socket.socket, target: Callable[[], tuple[str, int]]) -> None:
    """Accept on ``listener`` forever; join each connection to ``target()``.

    ``target`` is asked per connection, so a moving service (the RAPI of the
    current Ganeti master) is followed without restarting anything.
    """
    trio_listener = trio.SocketListener(trio.socket.from_stdlib_socket(listener))

    async def one(client: trio.SocketStream) -> None:
        host, port = target()
        try:
            upstream = await trio.open_tcp_stream(host, port)
        except OSError:
            await client.aclose()
            return
        async with client, upstream:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_pump, client, upstream)
                nursery.start_soon(_pump, upstream, client)

    await trio.serve_listeners(one, [trio_listener])
