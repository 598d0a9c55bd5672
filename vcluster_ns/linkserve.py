"""The supervisor's side of slices: the link's plugs and remote commands.

**Plugs.**  A transport to another slice (ssh, see slices.py) ends, on
each machine, in a stream handed to the supervisor over ``link.sock``
(file descriptors passed with SCM_RIGHTS).  The supervisor plugs it into
the cluster's switch::

    vcbr0 ── vlNp ═══ vlN ── vde_plug pcap://vlN ── stdin/stdout: the stream

``vlN`` is named after the first node of the slice on the far side.  The
plug runs in the cluster's user and network namespaces (pcap needs
CAP_NET_RAW there), one per transport: when the transport ends, the plug
ends, and the transport's owner (the joining slice's link keeper) starts
both again with backoff.  TCP over the pair needs checksum offload off
(``ethtool -K ... tx off``): an AF_PACKET reader sees the frames before the
checksum is filled in.

**Cuts.**  ``net partition`` of a whole slice sets the switch end of its
link down: a cut cable, and the transport stays up to heal it.

**Remote commands** (rexec.py): on a sliced cluster every node's port 22
answers the ssh shims of the other slices: after the cluster's token, the
command runs on that node as a local ssh would run it.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import signal
import subprocess
import time

import trio

from . import rexec
from .layout import ClusterPaths
from .netns import BRIDGE
from .shims.ssh import localize, node_command
from .slices import veth_name
from .spec import ClusterSpec

VDE_PLUG = "vde_plug"
ETHTOOL = "ethtool"
HEADER_TIMEOUT = 30.0


@dataclasses.dataclass
class Plug:
    peer: str
    state: str = "down"
    since: float = dataclasses.field(default_factory=time.time)
    plugs: int = 0
    pid: int | None = None
    cut: bool = False
    last_error: str | None = None
    cancel: trio.CancelScope | None = None

    def as_dict(self) -> dict:
        return {"peer": self.peer, "state": "cut" if self.cut else self.state,
                "since": self.since, "plugs": self.plugs, "pid": self.pid,
                "last_error": self.last_error}


class LinkServer:
    def __init__(self, paths: ClusterPaths, spec: ClusterSpec, log):
        self.paths = paths
        self.spec = spec
        self.log = log
        self.plugs: dict[str, Plug] = {}
        self.cut_all = False

    # -- plugs -------------------------------------------------------------
    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        path = str(self.paths.link_socket)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        listener = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
        await listener.bind(path)
        listener.listen(16)
        task_status.started()
        async with trio.open_nursery() as nursery:
            while True:
                conn, _ = await listener.accept()
                nursery.start_soon(self.take, conn)

    async def take(self, conn) -> None:
        with conn:
            try:
                with trio.fail_after(HEADER_TIMEOUT):
                    data, fds = await recv_fds(conn)
            except (trio.TooSlowError, OSError, ValueError) as exc:
                self.log(f"link: bad hand-over: {exc}")
                return
            try:
                peer = str(json.loads(data.decode().splitlines()[0])["peer"])
                first = int(peer.split("-")[0])
                if len(fds) != 2:
                    raise ValueError(f"{len(fds)} file descriptors")
            except (ValueError, KeyError, IndexError) as exc:
                for fd in fds:
                    os.close(fd)
                self.log(f"link: bad hand-over: {exc}")
                return
            try:
                await self.plug(peer, first, fds, conn)
            finally:
                for fd in fds:
                    os.close(fd)

    async def plug(self, peer: str, first: int, fds: list[int], conn) -> None:
        plug = self.plugs.setdefault(peer, Plug(peer))
        if plug.cancel is not None:  # a new transport replaces the old one
            plug.cancel.cancel()
        scope = plug.cancel = trio.CancelScope()
        ifname = veth_name(first)
        error = await self.cable(ifname, plug.cut or self.cut_all)
        if error:
            plug.last_error = error
            self.log(f"link {peer}: {error}")
            return
        with open(self.paths.link_log, "ab") as log:
            try:
                process = await trio.lowlevel.open_process(
                    [VDE_PLUG, f"pcap://{ifname}"], stdin=fds[0], stdout=fds[1],
                    stderr=log, start_new_session=True)
            except OSError as exc:
                plug.last_error = f"cannot start {VDE_PLUG}: {exc.strerror}"
                self.log(f"link {peer}: {plug.last_error}")
                return
        plug.plugs += 1
        plug.pid, plug.state, plug.since = process.pid, "up", time.time()
        self.log(f"link {peer}: plugged into {BRIDGE} through {ifname} (pid {process.pid})")
        try:
            with scope:
                async with trio.open_nursery() as nursery:
                    async def closed() -> None:  # the hand-over's sender went away
                        while await conn.recv(4096):
                            pass
                        nursery.cancel_scope.cancel()
                    nursery.start_soon(closed)
                    await process.wait()
                    nursery.cancel_scope.cancel()
        finally:
            if process.returncode is None:
                with trio.CancelScope(shield=True):
                    process.kill()
                    await process.wait()
            if plug.cancel is scope:
                plug.state, plug.since, plug.pid = "down", time.time(), None
                plug.last_error = f"transport ended (plug status {process.returncode})"
            self.log(f"link {peer}: plug ended with status {process.returncode}")

    async def cable(self, ifname: str, cut: bool) -> str | None:
        """The veth pair between the switch and the plug (made once)."""
        if not os.path.exists(f"/sys/class/net/{ifname}"):
            steps = [["ip", "link", "add", ifname, "type", "veth", "peer", "name", ifname + "p"],
                     ["ip", "link", "set", ifname + "p", "master", BRIDGE],
                     [ETHTOOL, "-K", ifname, "tx", "off"],
                     [ETHTOOL, "-K", ifname + "p", "tx", "off"],
                     ["ip", "link", "set", ifname, "up"]]
        else:
            steps = []
        steps.append(["ip", "link", "set", ifname + "p", "down" if cut else "up"])
        for argv in steps:
            try:
                result = await trio.run_process(argv, check=False, capture_stdout=True,
                                                capture_stderr=True, stdin=subprocess.DEVNULL)
            except FileNotFoundError:
                return f"{argv[0]} is not installed (apt-get install {argv[0]})"
            if result.returncode != 0:
                return f"'{' '.join(argv)}' failed: {result.stderr.decode().strip()}"
        return None

    # -- cuts --------------------------------------------------------------
    async def set_cut(self, peers: list[str] | None, cut: bool) -> str | None:
        """Cut (or mend) the links to ``peers`` (None: every link)."""
        if peers is None:
            self.cut_all = cut
        targets = list(self.plugs) if peers is None else peers
        for peer in targets:
            plug = self.plugs.setdefault(peer, Plug(peer))
            plug.cut = cut
            ifname = veth_name(int(peer.split("-")[0]))
            if os.path.exists(f"/sys/class/net/{ifname}p"):
                result = await trio.run_process(
                    ["ip", "link", "set", ifname + "p", "down" if cut else "up"],
                    check=False, capture_stderr=True, stdin=subprocess.DEVNULL)
                if result.returncode != 0:
                    return result.stderr.decode().strip()
        return None

    def status(self, node_roots: dict | None = None) -> dict:
        answer = {"slice": self.spec.slice, "join": self.spec.join, "cut": self.cut_all,
                  "links": [p.as_dict() for p in self.plugs.values()]}
        if node_roots:  # the cluster as Ganeti sees it: the lists it gives every node
            from .ganeti import ssconf
            root = node_roots[self.spec.lead_node]
            answer["ganeti_nodes"] = {"all": ssconf.values(root, "node_list"),
                                      "offline": ssconf.values(root, "offline_nodes")}
        return answer

    # -- remote commands ---------------------------------------------------
    async def serve_command(self, stream, node: str) -> None:
        """One remote command on ``node`` (rexec.py's server side)."""
        async with stream:
            try:
                with trio.fail_after(HEADER_TIMEOUT):
                    line, rest = await read_line(stream)
                request = json.loads(line)
            except (trio.TooSlowError, ValueError, trio.BrokenResourceError,
                    trio.ClosedResourceError):
                return  # a port check (gnt-node add's), or garbage
            token = rexec.read_token(self.paths.link_token) or ""
            if not hmac.compare_digest(str(request.get("token", "")), token) or not token:
                await _send(stream, rexec.frame(rexec.REFUSED, b"Permission denied"))
                return
            if request.get("node") != node:
                await _send(stream, rexec.frame(
                    rexec.REFUSED, f"this is {node}, not {request.get('node')}".encode()))
                return
            script = request.get("script")
            if script is not None:
                script = localize(script, request.get("root"), self.paths, node)
            argv, env = node_command(self.paths, self.spec, node, script, None)
            await run_command(stream, argv, env, rest)


async def read_line(stream) -> tuple[bytes, bytes]:
    data = b""
    while b"\n" not in data:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise ValueError("closed before the request")
        data += chunk
        if len(data) > rexec.MAX_HEADER_LINE:
            raise ValueError("request too long")
    line, _, rest = data.partition(b"\n")
    return line, rest


async def _send(stream, data: bytes, lock: trio.Lock | None = None) -> None:
    try:
        if lock is None:
            await stream.send_all(data)
        else:
            async with lock:
                await stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def run_command(stream, argv: list[str], env: dict, rest: bytes) -> None:
    process = await trio.lowlevel.open_process(
        argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True)
    lock = trio.Lock()

    def signal_group(sig: int) -> None:
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    async def pump(source, kind: bytes) -> None:
        while True:
            data = await source.receive_some(65536)
            if not data:
                return
            await _send(stream, rexec.frame(kind, data), lock)

    async def from_client(cancel: trio.CancelScope) -> None:
        reader = rexec.FrameReader()
        pending = reader.feed(rest)
        while True:
            for kind, payload in pending:
                if kind == rexec.STDIN and process.stdin is not None:
                    try:
                        await process.stdin.send_all(payload)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        pass
                elif kind == rexec.STDIN_EOF and process.stdin is not None:
                    await process.stdin.aclose()
                elif kind == rexec.SIGNAL and payload.isdigit():
                    signal_group(int(payload))
            try:
                data = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:  # the caller is gone: so is its command
                signal_group(signal.SIGKILL)
                return
            pending = reader.feed(data)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(from_client, nursery.cancel_scope)
            async with trio.open_nursery() as outputs:
                outputs.start_soon(pump, process.stdout, rexec.STDOUT)
                outputs.start_soon(pump, process.stderr, rexec.STDERR)
            code = await process.wait()
            code = 128 - code if code < 0 else code
            await _send(stream, rexec.frame(rexec.EXIT, str(code).encode()), lock)
            nursery.cancel_scope.cancel()
    finally:
        if process.returncode is None:
            signal_group(signal.SIGKILL)
            with trio.CancelScope(shield=True):
                await process.wait()


async def recv_fds(conn, maxfds: int = 2) -> tuple[bytes, list[int]]:
    """One message and the file descriptors passed with it."""
    import array
    import socket
    fds = array.array("i")
    data, ancdata, flags, _ = await conn.recvmsg(4096, socket.CMSG_SPACE(maxfds * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - (len(payload) % fds.itemsize)])
    return data, list(fds)
