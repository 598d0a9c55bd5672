"""The control socket between the CLI/shims and a running supervisor.

Protocol: a unix stream socket at ``<cluster>/control.sock``; the client sends
one JSON object on one line, the server answers one JSON object on one line
and closes.  Every answer has ``"ok"``; failures carry ``"error"``.

The client side is plain blocking sockets (the CLI and the shims have no event
loop); the server side is trio.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Awaitable, Callable

from . import wire
from .errors import (ClusterNotUp, EnvironmentUnsupported, ExitCode, InvalidInput,
                     OperationFailed, Refused, VclusterError)

MAX_MESSAGE = wire.MAX_MESSAGE


def request(path: Path, message: dict, timeout: float = 120.0) -> dict:
    """Send one request, return the answer; raise if nobody answers sensibly."""
    try:
        return wire.exchange(path, message, timeout)
    except wire.NotListening as exc:
        if not str(exc):
            raise ClusterNotUp(
                "the cluster is not up (no supervisor answers on its control socket)",
                "start it with 'vcluster-ns up'",
            ) from None
        raise ClusterNotUp(f"cannot reach the supervisor at {path}: {exc}") from None
    except wire.NoAnswer:
        raise OperationFailed(
            f"the supervisor did not answer {message.get('op')!r} within {timeout:.0f}s"
        ) from None
    except wire.Garbage:
        raise OperationFailed(
            f"the supervisor at {path} answered garbage",
            "see supervisor.log in the cluster directory; 'vcluster-ns down' and 'up' again",
        ) from None


def call(path: Path, message: dict, timeout: float = 120.0) -> dict:
    """``request`` that turns a refusal (``ok: false``) into an exception."""
    answer = request(path, message, timeout)
    if not answer["ok"]:
        kind = _ERRORS_BY_CODE.get(answer.get("code"), OperationFailed)
        raise kind(answer.get("error", "the supervisor refused"), answer.get("hint"))
    return answer


# A refusal may name its exit code; the supervisor cannot raise across the socket.
_ERRORS_BY_CODE = {int(ExitCode.USAGE): InvalidInput, int(ExitCode.REFUSED): Refused,
                   int(ExitCode.ENVIRONMENT): EnvironmentUnsupported}


Handler = Callable[[dict], Awaitable[dict]]


async def serve(path: Path, handler: Handler, *, task_status=None) -> None:
    import trio

    if path.exists() or path.is_symlink():
        path.unlink()
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await sock.bind(str(path))
    os.chmod(path, 0o600)
    sock.listen(128)
    listener = trio.SocketListener(sock)
    if task_status is not None:
        task_status.started()

    async def one(stream) -> None:
        async with stream:
            answer = await _answer(stream, handler)
            try:
                await stream.send_all(json.dumps(answer).encode() + b"\n")
            except trio.BrokenResourceError:
                pass

    await trio.serve_listeners(one, [listener])


async def _answer(stream, handler: Handler) -> dict:
    import trio

    data = bytearray()
    try:
        while not data.endswith(b"\n") and len(data) < MAX_MESSAGE:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            data += chunk
        message = json.loads(data)
        if not isinstance(message, dict) or "op" not in message:
            raise ValueError("no 'op'")
    except (ValueError, trio.BrokenResourceError):
        return {"ok": False, "error": "malformed request"}
    try:
        return await handler(message)
    except VclusterError as exc:  # bad input found inside: same code as outside
        return {"ok": False, "error": exc.message, "hint": exc.hint,
                "code": int(exc.exit_code)}
    except Exception as exc:  # one bad request must not take the supervisor down
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
