"""Commands on a node of another slice: a small remote shell over the link.

A node of another machine is reached the way a real node is: over the
cluster's network (the L2 link), on its port 22, where that slice's
supervisor listens (linkserve.py).  The ssh shim is the client.  Because
the link carries it, a cut link cuts these commands too, as a cut cable
cuts ssh.

The protocol: the client sends one JSON line (the cluster's token, the
target node, the command, the caller's node root), then both sides send
frames ``type (1 byte) + length (4 bytes, big-endian) + payload``:

  client -> server   ``i`` stdin data, ``e`` end of stdin, ``k`` a signal number
  server -> client   ``o`` stdout, ``r`` stderr, ``x`` exit status, ``!`` refusal text

Standard library only: the ssh shim imports it.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import sys

PORT = 22
CONNECT_TIMEOUT = 10.0  # as Ganeti's own ssh options (ConnectTimeout=10)
HEADER = struct.Struct(">cI")
MAX_HEADER_LINE = 1 << 20
STDIN, STDIN_EOF, SIGNAL = b"i", b"e", b"k"
STDOUT, STDERR, EXIT, REFUSED = b"o", b"r", b"x", b"!"
SSH_FAILURE = 255
FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


class FrameReader:
    """Frames out of a byte stream fed in pieces."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + length:
                break
            frames.append((kind, self.buffer[HEADER.size:HEADER.size + length]))
            self.buffer = self.buffer[HEADER.size + length:]
        return frames


def request(token: str, node: str, script: str | None, caller_root: str | None) -> bytes:
    return json.dumps({"token": token, "node": node, "script": script,
                       "root": caller_root}).encode() + b"\n"


def read_token(path) -> str | None:
    try:
        return open(path).read().strip() or None
    except OSError:
        return None


def run(address: str, token: str, node: str, script: str | None,
        caller_root: str | None, stdin_fd: int | None = 0) -> int:
    """Run ``script`` on ``node`` at ``address``; stdout, stderr, the exit
    status and SIGTERM/SIGHUP/SIGINT pass through.  Errors as ssh's, 255."""
    try:
        sock = socket.create_connection((address, PORT), timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        reason = "Connection timed out" if isinstance(exc, TimeoutError) else \
            (exc.strerror or str(exc))
        print(f"ssh: connect to host {node} port {PORT}: {reason}", file=sys.stderr)
        return SSH_FAILURE
    sock.settimeout(None)
    sock.sendall(request(token, node, script, caller_root))
    pending_signals: list[int] = []

    def forward(signum, frame_):
        pending_signals.append(signum)
        try:
            sock.sendall(frame(SIGNAL, str(signum).encode()))
        except OSError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    reader = FrameReader()
    out, err = sys.stdout.buffer, sys.stderr.buffer
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        if stdin_fd is not None:
            try:
                sel.register(stdin_fd, selectors.EVENT_READ)
            except PermissionError:  # a regular file (or /dev/null): no polling
                while data := os.read(stdin_fd, 65536):
                    sock.sendall(frame(STDIN, data))
                stdin_fd = None
        if stdin_fd is None:
            sock.sendall(frame(STDIN_EOF))
        while True:
            for key, _ in sel.select():
                if key.fileobj is sock:
                    data = sock.recv(65536)
                    if not data:
                        print(f"ssh: connection to {node} closed", file=sys.stderr)
                        return SSH_FAILURE
                    for kind, payload in reader.feed(data):
                        if kind == STDOUT:
                            out.write(payload)
                            out.flush()
                        elif kind == STDERR:
                            err.write(payload)
                            err.flush()
                        elif kind == EXIT:
                            return int(payload)
                        elif kind == REFUSED:
                            print(f"ssh: {node}: {payload.decode(errors='replace')}",
                                  file=sys.stderr)
                            return SSH_FAILURE
                else:
                    try:
                        data = os.read(stdin_fd, 65536)
                    except OSError:
                        data = b""
                    if data:
                        sock.sendall(frame(STDIN, data))
                    else:
                        sel.unregister(stdin_fd)
                        sock.sendall(frame(STDIN_EOF))
