"""The cluster service: the trio program that runs inside a cluster.

It joins the generic runner to Ganeti: answers the control socket (the CLI
and the daemon-util shim talk to it), starts each node's daemons in that
node's namespaces, listens on every node's SSH port (``gnt-node add``
waits for it), runs ``ganeti-watcher`` on a schedule, injects network faults
on request (faults.py), and on shutdown stops every daemon before exiting,
which ends the cluster.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import prctl
import trio

from . import control, ganeti, portforward
from . import namespaces as ns
from .errors import ExitCode, VclusterError
from .netns import PRIMARY_IFNAME
from .faults import ACTIONS, NETEM_MISSING, NetworkFaults, is_netem_missing
from .layout import ClusterPaths
from .runner import (RUNNING, STARTING, DaemonSpec, ListenTable,
                     RestartPolicy, Supervisor, tail)
from .shims.common import BASE_PATH, Cluster
from .spec import ClusterSpec

NOT_MASTER = "not-master"


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} [service] {message}", flush=True)


class ClusterService:
    def __init__(self, paths: ClusterPaths, spec: ClusterSpec, supervisor: Supervisor):
        self.paths = paths
        self.spec = spec
        self.supervisor = supervisor
        self.cluster = Cluster(str(paths.dir))
        self.listen = ListenTable()
        self.node_listen: dict[str, ListenTable] = {}
        self.faults = NetworkFaults(spec)
        self.booted = False
        self.shutdown_requested = trio.Event()
        self.started = time.time()
        self.stopped_nodes: set[str] = set()
        # Set when the client's ``up`` is over: the watcher's schedule starts
        # then, not while nodes are still being added (see watcher()).
        self.settled = trio.Event()
        self.available = self._available_daemons(spec)

    @staticmethod
    def _available_daemons(spec: ClusterSpec) -> frozenset[str] | None:
        """The daemons the cluster's Ganeti build has (None: no Ganeti to ask,
        as with --no-init on a machine without it).  A build without
        monitoring has no mond, and Ganeti does not ask for it then."""
        from .ganeti import install
        try:
            default, extras = install.for_spec(spec)
        except VclusterError:
            return None
        return frozenset(d for i in (default, *extras) for d in ganeti.ALL_DAEMONS
                         if i.has_daemon(d))

    # -- environment of a node's processes ---------------------------------
    def env(self, node: str) -> dict[str, str]:
        return {
            "PATH": BASE_PATH,
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.paths.dir / "tmp"),
            **ganeti.node_env(self.paths.dir, node),
        }

    def listen_table(self, node: str) -> ListenTable:
        """The sockets ``node``'s daemons listen on (its own namespace's, if any)."""
        if not self.spec.isolated:
            return self.listen
        if node not in self.node_listen:
            anchor = self.cluster.node_anchor(node)
            self.node_listen[node] = ListenTable(proc_net=f"/proc/{anchor}/net")
        return self.node_listen[node]

    def daemon_spec(self, node: str, daemon: str, extra: list[str]) -> DaemonSpec:
        ready = ganeti.readiness(self.spec, self.paths.node_root(node), node, daemon)
        listen = self.listen_table(node)

        async def probe() -> bool:
            if ready.tcp:
                return listen.tcp(*ready.tcp)
            if ready.udp:
                return listen.udp(*ready.udp)
            if ready.unix:
                return listen.unix(ready.unix)
            return True

        return DaemonSpec(
            group=node,
            name=daemon,
            argv=self.cluster.nsenter(node, ganeti.daemon_argv(self.spec, node, daemon, extra)),
            env=self.env(node),
            log_path=self.paths.node_log_dir(node) / f"{daemon}.log",
            probe=probe,
            ok_exits={ganeti.NOT_MASTER_EXIT: NOT_MASTER},
            ok_messages={ganeti.LOST_VOTE: NOT_MASTER},
            pid_file=ganeti.pid_file(self.paths.node_root(node), daemon),
        )

    # -- daemon-util verbs -------------------------------------------------
    async def start(self, node: str, daemon: str, args: list[str] = (),
                    by: str = "supervisor") -> dict:
        if daemon in ganeti.SKIPPED:
            return {"ok": True, "exit": 0, "note": ganeti.SKIPPED[daemon]}
        if self.available is not None and daemon not in self.available:
            return {"ok": True, "exit": 0, "note": "not in this Ganeti build"}
        self.stopped_nodes.discard(node)
        d = await self.supervisor.start(self.daemon_spec(node, daemon, list(args)), by)
        if d.state == RUNNING:
            return {"ok": True, "exit": 0}
        if d.state == NOT_MASTER:
            return {"ok": True, "exit": ganeti.NOT_MASTER_EXIT}
        if d.state == STARTING:
            return {"ok": False, "error": f"{daemon} on {node} did not become ready "
                    f"within {self.supervisor.ready_timeout:.0f}s; see "
                    f"'vcluster-ns logs {node} {daemon}'"}
        return {"ok": False, "exit": 1,
                "error": f"{daemon} on {node} exited with status {d.last_exit}: "
                f"{tail(d.spec.log_path, 3)}"}

    async def start_list(self, node: str, daemons, by: str) -> dict:
        for daemon in daemons:
            answer = await self.start(node, daemon, by=by)
            if not answer["ok"]:
                return answer
        return {"ok": True, "exit": 0}

    async def stop_list(self, node: str, daemons) -> dict:
        for daemon in reversed(list(daemons)):
            await self.supervisor.stop(node, daemon)
        return {"ok": True, "exit": 0}

    def is_running(self, node: str, daemon: str) -> bool:
        d = self.supervisor.daemons.get((node, daemon))
        return d is not None and d.state == RUNNING

    # -- control socket ----------------------------------------------------
    async def handle(self, msg: dict) -> dict:
        op = msg["op"]
        node = msg.get("node")
        for name in [node] + list(msg.get("nodes", [])):
            if name is not None and name not in self.spec.node_names:
                return {"ok": False, "error": f"unknown node {name!r}"}
        daemon = msg.get("daemon")
        by = msg.get("by", "supervisor")
        if op == "ping":
            return {"ok": True, "booted": self.booted}
        if op == "settled":
            self.settled.set()
            return {"ok": True}
        if op == "status":
            return {"ok": True, **self.status()}
        if op == "start":
            return await self.start(node, daemon, msg.get("args", []), by)
        if op == "stop":
            await self.supervisor.stop(node, daemon)
            return {"ok": True, "exit": 0}
        if op == "check":
            return {"ok": True, "exit": 0 if self.is_running(node, daemon) else 1}
        if op == "check-and-start":
            if self.is_running(node, daemon):
                return {"ok": True, "exit": 0}
            return await self.start(node, daemon, by=by)
        if op == "start-all":
            return await self.start_list(node, ganeti.START_ORDER, by)
        if op == "stop-all":
            return await self.stop_list(node, ganeti.START_ORDER + ganeti.ON_DEMAND)
        if op == "start-master":
            return await self.start_list(node, ganeti.MASTER_DAEMONS, by)
        if op == "stop-master":
            return await self.stop_list(node, ganeti.MASTER_DAEMONS)
        if op == "node-start":
            return await self.boot_node(node, by)
        if op == "nodes-start":
            return await self.boot_nodes(msg["nodes"], by)
        if op == "node-stop":
            self.stopped_nodes.add(node)
            await self.supervisor.stop_group(node, kill=msg.get("kill", True))
            await self.forget_runtime_addresses(node)
            return {"ok": True}
        if op == "kill":
            if not self.is_running(node, daemon):
                why = " (the node is stopped)" if node in self.stopped_nodes else ""
                return {"ok": False, "error": f"{daemon} is not running on {node}{why}",
                        "hint": f"see 'vcluster-ns status'; 'vcluster-ns node start {node}' "
                                "starts a stopped node"}
            d = await self.supervisor.kill(node, daemon)
            if d is None:
                return {"ok": False, "error": f"{daemon} is not running on {node}"}
            return {"ok": True}
        if op == "refusal":
            log(f"REFUSED on {node or 'cluster'}: {msg.get('operation')!r} "
                "(power operations never reach the kernel)")
            return {"ok": True}
        if op == "net":
            return await self.network_fault(msg)
        if op == "shutdown":
            self.shutdown_requested.set()
            return {"ok": True, "stopping": True}
        return {"ok": False, "error": f"unknown operation {op!r}"}

    async def forget_runtime_addresses(self, node: str) -> None:
        """A node that loses power loses the master IP Ganeti added to it."""
        if not self.spec.isolated:
            return  # shared: the one master IP belongs to every node at once
        argv = ["ip", "addr", "flush", "dev", PRIMARY_IFNAME, "label", ganeti.MASTER_IP_LABEL]
        await trio.run_process(self.cluster.nsenter(node, argv), check=False,
                               stdin=subprocess.DEVNULL, capture_stdout=True,
                               capture_stderr=True)

    # -- network faults ----------------------------------------------------
    async def network_fault(self, msg: dict) -> dict:
        action = msg.get("action")
        if not self.spec.isolated:
            return {"ok": False, "code": int(ExitCode.USAGE),
                    "error": "network faults need a network namespace per node",
                    "hint": "create the cluster with --network-mode isolated"}
        if action not in ACTIONS:
            return {"ok": False, "error": f"unknown network action {action!r}"}
        nodes = list(msg.get("nodes", []))
        if action == "partition":
            commands = self.faults.partition(nodes)
        elif action == "heal":
            commands = self.faults.heal()
        elif action in ("down", "up"):
            commands = [c for n in nodes for c in self.faults.set_link(n, action == "up")]
        else:
            commands = [c for n in nodes
                        for c in self.faults.set_netem(n, action, msg.get("value", ""))]
        for argv in commands:
            try:
                result = await trio.run_process(argv, check=False, capture_stdout=True,
                                                capture_stderr=True, stdin=subprocess.DEVNULL)
            except FileNotFoundError:
                return {"ok": False, "code": int(ExitCode.ENVIRONMENT),
                        "error": f"{argv[0]} is not installed (searched {os.environ.get('PATH')})",
                        "hint": "install iproute2 (apt-get install iproute2)"}
            if result.returncode != 0:
                stderr = result.stderr.decode(errors="replace").strip()
                if action in ("delay", "loss"):
                    for n in nodes:
                        self.faults.netem.pop(n, None)
                    if is_netem_missing(stderr):
                        return {"ok": False, "code": int(ExitCode.ENVIRONMENT),
                                "error": NETEM_MISSING[0], "hint": NETEM_MISSING[1]}
                log(f"net {action}: {' '.join(argv)}: {stderr}")
                return {"ok": False, "error": f"'{' '.join(argv)}' failed: {stderr}"}
        log(f"net {action} {' '.join(nodes)} {msg.get('value', '')}".rstrip())
        return {"ok": True, "faults": self.faults.as_dict()}

    def status(self) -> dict:
        roles = self.roles()
        order = {name: i for i, name in enumerate(ganeti.ALL_DAEMONS)}
        daemons = sorted(self.supervisor.status(), key=lambda d: order.get(d["daemon"], 99))
        nodes = []
        for node, ip in self.spec.node_ips.items():
            nodes.append({
                "name": node,
                "address": str(ip),
                "role": roles.get(node),
                "stopped": node in self.stopped_nodes,
                "faults": self.faults.of_node(node),
                "daemons": [d for d in daemons if d["node"] == node],
            })
        rapi = None
        if self.spec.rapi_port is not None:
            master_root = self.paths.node_root(self.master() or self.spec.master_node)
            port = self.paths.rapi_port_file.read_text().strip()
            rapi = {"url": f"https://127.0.0.1:{port}", "user": ganeti.RAPI_USER,
                    "password_file": str(self.paths.rapi_password_file),
                    "ca": str(ganeti.rapi_certificate(master_root))}
        return {
            "rapi": rapi,
            "cluster": self.spec.name,
            "ganeti_cluster": self.spec.cluster_fqdn,
            "cluster_ip": str(self.spec.cluster_ip),
            "network": self.spec.network,
            "network_mode": self.spec.network_mode,
            "secondary_network": self.spec.secondary_network,
            "master": self.master(),
            "uptime": round(time.time() - self.started, 1),
            "nodes": nodes,
        }

    def master(self) -> str | None:
        votes: dict[str, int] = {}
        for node in self.spec.node_names:
            master = ganeti.master_of(self.paths.node_root(node))
            if master:
                votes[master] = votes.get(master, 0) + 1
        return max(votes, key=votes.get) if votes else None

    def roles(self) -> dict[str, str]:
        master = self.master()
        ssconf = self.paths.node_root(master or self.spec.master_node) / "var/lib/ganeti"

        def names(key: str) -> set[str]:
            try:
                return set((ssconf / f"ssconf_{key}").read_text().split())
            except OSError:
                return set()

        candidates, offline = names("master_candidates"), names("offline_nodes")
        drained = names("drained_nodes")
        members = names("node_list")
        roles = {}
        for node in self.spec.node_names:
            if node == master:
                roles[node] = "master"
            elif node in offline:
                roles[node] = "offline"
            elif node in drained:
                roles[node] = "drained"
            elif node in candidates:
                roles[node] = "candidate"
            elif node in members:
                roles[node] = "regular"
            else:
                roles[node] = "not-joined"
        return roles

    # -- boot --------------------------------------------------------------
    async def run_in_node(self, node: str, argv: list[str]) -> int:
        log_path = self.paths.node_log_dir(node) / "commands.log"
        with open(log_path, "ab") as out:
            result = await trio.run_process(
                self.cluster.nsenter(node, argv), env=self.env(node), check=False,
                stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        return result.returncode

    async def ensure_dirs(self, node: str) -> None:
        marker = self.paths.node_root(node) / "var/lib/ganeti/.vcluster-ns-dirs"
        if marker.exists():
            return
        code = await self.run_in_node(node, [ganeti.ENSURE_DIRS])
        if code != 0:
            raise RuntimeError(f"ensure-dirs failed on {node} (status {code}); "
                               f"see {self.paths.node_log_dir(node) / 'commands.log'}")
        marker.touch()

    def rapi_password(self) -> str:
        path = self.paths.rapi_password_file
        if not path.exists():  # clusters created before RAPI users existed
            import secrets
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(18) + "\n")
        return path.read_text().strip()

    def write_rapi_users(self, node: str) -> None:
        """Every node gets the RAPI user, so it works on whichever is master."""
        users = ganeti.rapi_users_file(self.paths.node_root(node))
        if users.parent.is_dir():
            users.write_text(ganeti.render_rapi_users(self.rapi_password()))
            users.chmod(0o640)

    def rapi_target(self) -> tuple[str, int]:
        master = self.master() or self.spec.master_node
        return str(self.spec.node_ip(master)), ganeti.RAPI_PORT

    async def boot_node(self, node: str, by: str = "supervisor") -> dict:
        self.stopped_nodes.discard(node)
        root = self.paths.node_root(node)
        if not ganeti.is_initialised(root):
            return {"ok": True, "note": f"{node} has not joined the cluster"}
        return await self.start_list(node, ganeti.daemons_for(root, node), by)

    async def boot_nodes(self, nodes: list[str], by: str = "supervisor") -> dict:
        """Boot several nodes concurrently, one task each."""
        answers: list[dict] = []

        async def one(node: str) -> None:
            answers.append(await self.boot_node(node, by))

        async with trio.open_nursery() as nursery:
            for node in nodes:
                nursery.start_soon(one, node)
        failed = [a for a in answers if not a["ok"]]
        return failed[0] if failed else {"ok": True}

    async def boot(self) -> None:
        """Prepare every node; start daemons on nodes that already joined."""
        limiter = trio.CapacityLimiter(max(2, os.cpu_count() or 2))
        failures: list[str] = []

        async def one(node: str) -> None:
            async with limiter:
                await self.ensure_dirs(node)
            self.write_rapi_users(node)
            answer = await self.boot_node(node)
            if not answer["ok"]:
                failures.append(answer["error"])

        async with trio.open_nursery() as nursery:
            for node in self.spec.node_names:
                nursery.start_soon(one, node)
        for failure in failures:
            log(f"boot: {failure}")

    async def ssh_ports(self) -> None:
        """Accept and close on port 22 of every node: Ganeti only checks it answers."""
        listeners = []
        for node, ip in self.spec.node_ips.items():
            if self.spec.isolated:
                listeners.append(self.listen_in_node(node, 22))
            else:
                listeners += await trio.open_tcp_listeners(22, host=str(ip), backlog=128)

        async def close(stream) -> None:
            await stream.aclose()

        await trio.serve_listeners(close, listeners)

    def listen_in_node(self, node: str, port: int) -> trio.SocketListener:
        """A listener on 0.0.0.0:``port`` inside ``node``'s network namespace."""
        import socket
        anchor = self.cluster.node_anchor(node)
        with ns.network_namespace(f"/proc/{anchor}/ns/net"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(128)  # many adds poll port 22 at once on a busy machine
        sock.setblocking(False)
        return trio.SocketListener(trio.socket.from_stdlib_socket(sock))

    async def sysrq_tripwire(self) -> None:
        """Report writes to the cluster's /proc/sysrq-trigger stand-in."""
        path = self.paths.sysrq_tripwire
        while True:
            try:
                if path.stat().st_size:
                    written = path.read_bytes()[:16]
                    path.write_bytes(b"")
                    log(f"REFUSED sysrq-trigger write {written!r} (a power operation "
                        "never reaches the kernel)")
            except OSError:
                pass
            await trio.sleep(1)

    async def watcher(self) -> None:
        """Run ganeti-watcher on every joined node, as cron would.

        The schedule starts when ``up`` is over.  During a bring-up the tool
        is the administrator: a watcher round there would start daemons up
        is about to start anyway, and its jobs (verify-disks on the master)
        would wait for and delay the NODE_ADD jobs, which hold the cluster
        lock; at 100 nodes a round is about a hundred Python processes.
        """
        if not self.spec.watcher_interval:
            return
        await self.settled.wait()
        while True:
            await trio.sleep(self.spec.watcher_interval)
            for node in self.spec.node_names:
                if node in self.stopped_nodes or not ganeti.is_initialised(
                        self.paths.node_root(node)):
                    continue
                await self.run_in_node(node, [ganeti.WATCHER])


async def amain(paths: ClusterPaths, spec: ClusterSpec, rapi_listener=None) -> int:
    async with trio.open_nursery() as nursery:
        supervisor = Supervisor(nursery, RestartPolicy(), log=log)
        service = ClusterService(paths, spec, supervisor)
        await nursery.start(control.serve, paths.control_socket, service.handle)
        nursery.start_soon(service.ssh_ports)
        nursery.start_soon(signal_watch, service)
        nursery.start_soon(service.sysrq_tripwire)
        if rapi_listener is not None:
            nursery.start_soon(portforward.forward, rapi_listener, service.rapi_target)
        log(f"control socket ready; booting {len(spec.node_names)} nodes")
        try:
            await service.boot()
        except Exception as exc:
            log(f"boot failed: {exc}")
        service.booted = True
        log("booted")
        nursery.start_soon(service.watcher)
        await service.shutdown_requested.wait()
        log("shutting down: stopping every daemon")
        with trio.move_on_after(60, shield=True):
            await supervisor.stop_all()
        save_file_storage(paths, spec)
        nursery.cancel_scope.cancel()
    log("all daemons stopped")
    return 0


def save_file_storage(paths: ClusterPaths, spec: ClusterSpec) -> None:
    """Copy the file storage of nodes with a disk size (a tmpfs in the
    node's mount namespace, reached through its anchor's /proc/PID/root)
    back into the cluster directory, once their daemons are stopped."""
    from .filestore import sync_tree
    from .layout import FILE_STORAGE_DIR
    for node in spec.node_names:
        if not spec.settings_of(node).get("disk"):
            continue
        try:
            anchor = int(paths.node_anchor_file(node).read_text())
            sync_tree(f"/proc/{anchor}/root{FILE_STORAGE_DIR}",
                      str(paths.node_root(node) / "file-storage"))
        except (OSError, ValueError) as exc:
            log(f"saving {node}'s file storage failed: {exc}")


async def signal_watch(service: ClusterService) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for _ in signals:
            service.shutdown_requested.set()


def main(paths: ClusterPaths, spec: ClusterSpec, rapi_listener=None) -> int:
    from .boot import process_title
    prctl.set_proctitle(process_title("supervisor", spec, paths))
    os.chdir("/")
    return trio.run(amain, paths, spec, rapi_listener)
