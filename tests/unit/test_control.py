"""control.py: the JSON-lines control socket, server (trio) and client (blocking)."""

import json
import socket
import stat

import pytest
import trio

from vcluster_ns import control
from vcluster_ns.errors import (ClusterNotUp, EnvironmentUnsupported, ExitCode,
                                InvalidInput, OperationFailed)


async def echo_handler(message):
    if message["op"] == "fail":
        raise RuntimeError("handler broke")
    if message["op"] == "bad":
        raise InvalidInput("bad thing", "do better")
    if message["op"] == "unsupported":
        return {"ok": False, "code": 4, "error": "no netem", "hint": "get one"}
    return {"ok": True, "echo": message}


async def ask(path, message, timeout=10.0):
    return await trio.to_thread.run_sync(control.request, path, message, timeout)


async def test_request_and_answer(tmp_path):
    path = tmp_path / "control.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, path, echo_handler)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        answer = await ask(path, {"op": "ping", "n": [1, 2]})
        assert answer == {"ok": True, "echo": {"op": "ping", "n": [1, 2]}}
        # the server keeps serving after one request
        assert (await ask(path, {"op": "again"}))["echo"]["op"] == "again"
        nursery.cancel_scope.cancel()


async def test_malformed_request(tmp_path):
    path = tmp_path / "control.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, path, echo_handler)
        assert await ask(path, {"no-op": 1}) == {"ok": False, "error": "malformed request"}

        def raw(data):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)
                s.connect(str(path))
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                return json.loads(s.makefile("rb").readline())

        for data in (b"not json\n", b"[1, 2]\n", b"", b'{"op": "x"'):
            answer = await trio.to_thread.run_sync(raw, data)
            assert answer == {"ok": False, "error": "malformed request"}, data
        assert (await ask(path, {"op": "still-up"}))["ok"] is True
        nursery.cancel_scope.cancel()


async def test_handler_exception_becomes_error_answer(tmp_path):
    path = tmp_path / "control.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, path, echo_handler)
        answer = await ask(path, {"op": "fail"})
        assert answer == {"ok": False, "error": "RuntimeError: handler broke"}
        with pytest.raises(OperationFailed, match="handler broke"):
            await trio.to_thread.run_sync(control.call, path, {"op": "fail"})
        assert (await trio.to_thread.run_sync(control.call, path, {"op": "x"}))["ok"]
        nursery.cancel_scope.cancel()


async def test_refusals_keep_their_exit_code_across_the_socket(tmp_path):
    path = tmp_path / "control.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, path, echo_handler)
        with pytest.raises(InvalidInput) as bad:
            await trio.to_thread.run_sync(control.call, path, {"op": "bad"})
        assert bad.value.one_line() == "bad thing (do better)"
        with pytest.raises(EnvironmentUnsupported) as missing:
            await trio.to_thread.run_sync(control.call, path, {"op": "unsupported"})
        assert missing.value.exit_code == 4 and missing.value.hint == "get one"
        nursery.cancel_scope.cancel()


async def test_serve_replaces_a_stale_socket_file(tmp_path):
    path = tmp_path / "control.sock"
    path.write_text("stale")
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, path, echo_handler)
        assert path.is_socket()
        assert (await ask(path, {"op": "ping"}))["ok"] is True
        nursery.cancel_scope.cancel()


def test_missing_socket_is_cluster_not_up(tmp_path):
    with pytest.raises(ClusterNotUp) as exc:
        control.request(tmp_path / "control.sock", {"op": "ping"})
    assert exc.value.exit_code == ExitCode.NOT_UP == 5
    assert "up" in exc.value.hint


def test_socket_nobody_listens_on_is_cluster_not_up(tmp_path):
    path = tmp_path / "control.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # the file stays, nobody listens: ECONNREFUSED
    with pytest.raises(ClusterNotUp):
        control.request(path, {"op": "ping"})


async def garbage_server(path, reply, *, task_status=trio.TASK_STATUS_IGNORED):
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen()
    task_status.started()
    while True:
        conn, _ = await sock.accept()
        with conn:
            await conn.recv(65536)
            if reply is not None:
                await conn.send(reply)


@pytest.mark.parametrize("reply", [b"nonsense\n", b'{"no-ok": 1}\n', b"[true]\n", b""])
async def test_garbage_answer_is_operation_failed(tmp_path, reply):
    path = tmp_path / "control.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(garbage_server, path, reply)
        with pytest.raises(OperationFailed, match="garbage") as exc:
            await ask(path, {"op": "ping"})
        assert exc.value.exit_code == 1
        nursery.cancel_scope.cancel()


async def test_silent_server_times_out(tmp_path):
    path = tmp_path / "control.sock"
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen()  # accepts (backlog) but never answers
    with pytest.raises(OperationFailed, match="did not answer 'status'"):
        await ask(path, {"op": "status"}, timeout=0.2)
    sock.close()
