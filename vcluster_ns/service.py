"""The cluster service: the trio program that runs inside a cluster.

It joins the generic runner to the cluster: answers the control socket (the
CLI and the daemon-util shim talk to it), starts each node's daemons in
that node's namespaces, listens on every node's SSH port (``gnt-node add``
waits for it), runs ``ganeti-watcher`` on a schedule, injects network faults
on request (faults.py), and on shutdown stops every daemon before exiting,
which ends the cluster.

What a Ganeti daemon is, who is master and what RAPI needs is asked of the
``ganeti`` package; this module keeps trio and the control verbs.  Starting
a daemon is one call there (``daemons.describe``) and one to the runner.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import prctl
import trio

from . import control, lifecycle, nodes, portforward
from . import namespaces as ns
from .errors import ExitCode
from .faults import ACTIONS, NETEM_MISSING, NetworkFaults, is_netem_missing
from .ganeti import daemons, dirs, rapi, ssconf
from .ganeti.install import ENSURE_DIRS, WATCHER
from .layout import ClusterPaths
from .netns import PRIMARY_IFNAME
from .runner import RUNNING, STARTING, RestartPolicy, Supervisor, tail
from .spec import ClusterSpec

READY = {"ok": True, "exit": 0}


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} [service] {message}", flush=True)


class ClusterService:
    def __init__(self, paths: ClusterPaths, spec: ClusterSpec, supervisor: Supervisor):
        self.paths = paths
        self.spec = spec
        self.supervisor = supervisor
        self.node_roots = {n: paths.node_root(n) for n in spec.node_names}
        self.faults = NetworkFaults(spec)
        self.booted = False
        self.shutdown_requested = trio.Event()
        self.started = time.time()
        self.stopped_nodes: set[str] = set()
        # Set when the client's ``up`` is over: the watcher's schedule starts
        # then, not while nodes are still being added (see watcher()).
        self.settled = trio.Event()
        self.installations = daemons.installations_of(spec)
        self.link = None
        if spec.sliced:
            from .linkserve import LinkServer
            self.link = LinkServer(paths, spec, log)

    # -- daemon-util verbs -------------------------------------------------
    async def start(self, node: str, daemon: str, args: list[str] = (),
                    by: str = "supervisor") -> dict:
        described = daemons.describe(self.installations, self.spec, self.paths, node,
                                     daemon, args)
        if isinstance(described, daemons.NotStarted):
            return {**READY, "note": described.reason}
        self.stopped_nodes.discard(node)
        d = await self.supervisor.start(described, by)
        if d.state == RUNNING:
            return READY
        if d.state == daemons.NOT_MASTER:
            return {"ok": True, "exit": daemons.NOT_MASTER_EXIT}
        if d.state == STARTING:
            return {"ok": False, "error": f"{daemon} on {node} did not become ready "
                    f"within {self.supervisor.ready_timeout:.0f}s; see "
                    f"'vcluster-ns logs {node} {daemon}'"}
        return {"ok": False, "exit": 1,
                "error": f"{daemon} on {node} exited with status {d.last_exit}: "
                f"{tail(d.spec.log_path, 3)}"}

    async def start_list(self, node: str, names, by: str) -> dict:
        for daemon in names:
            answer = await self.start(node, daemon, by=by)
            if not answer["ok"]:
                return answer
        return READY

    async def stop_list(self, node: str, names) -> dict:
        for daemon in reversed(list(names)):
            await self.supervisor.stop(node, daemon)
        return READY

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
            return READY
        if op == "check":
            return {"ok": True, "exit": 0 if self.is_running(node, daemon) else 1}
        if op == "check-and-start":
            if self.is_running(node, daemon):
                return READY
            return await self.start(node, daemon, by=by)
        if op in daemons.VERB_DAEMONS:
            names = daemons.VERB_DAEMONS[op]
            if op.startswith("start"):
                return await self.start_list(node, names, by)
            return await self.stop_list(node, names)
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
            return await self.kill(node, daemon)
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

    async def kill(self, node: str, daemon: str) -> dict:
        if not self.is_running(node, daemon):
            why = " (the node is stopped)" if node in self.stopped_nodes else ""
            return {"ok": False, "error": f"{daemon} is not running on {node}{why}",
                    "hint": f"see 'vcluster-ns status'; 'vcluster-ns node start {node}' "
                            "starts a stopped node"}
        if await self.supervisor.kill(node, daemon) is None:
            return {"ok": False, "error": f"{daemon} is not running on {node}"}
        return {"ok": True}

    async def forget_runtime_addresses(self, node: str) -> None:
        """A node that loses power loses the master IP Ganeti added to it."""
        if not self.spec.isolated:
            return  # shared: the one master IP belongs to every node at once
        argv = ["ip", "addr", "flush", "dev", PRIMARY_IFNAME, "label", daemons.MASTER_IP_LABEL]
        await trio.run_process(nodes.nsenter(self.paths, node, True, argv), check=False,
                               stdin=subprocess.DEVNULL, capture_stdout=True,
                               capture_stderr=True)

    # -- network faults ----------------------------------------------------
    async def network_fault(self, msg: dict) -> dict:
        action = msg.get("action")
        if msg.get("peers") is not None or (action == "heal" and self.link is not None):
            if self.link is None:
                return {"ok": False, "code": int(ExitCode.USAGE),
                        "error": "this cluster has no slices", "hint": "name nodes instead"}
            peers = msg.get("peers")
            cut = action == "partition"
            error = await self.link.set_cut(None if not peers else peers, cut)
            if error:
                return {"ok": False, "error": error}
            log(f"net {'cut' if cut else 'mended'} the link to {peers or 'every slice'}")
            if action != "heal":
                return {"ok": True, "faults": self.faults.as_dict()}
        if not self.spec.isolated:
            return {"ok": False, "code": int(ExitCode.USAGE),
                    "error": "network faults need a network namespace per node",
                    "hint": "create the cluster with --network-mode isolated"}
        if action not in ACTIONS:
            return {"ok": False, "error": f"unknown network action {action!r}"}
        nodes_ = list(msg.get("nodes", []))
        for argv in self.faults.commands(action, nodes_, msg.get("value", "")):
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
                    for n in nodes_:
                        self.faults.netem.pop(n, None)
                    if is_netem_missing(stderr):
                        return {"ok": False, "code": int(ExitCode.ENVIRONMENT),
                                "error": NETEM_MISSING[0], "hint": NETEM_MISSING[1]}
                log(f"net {action}: {' '.join(argv)}: {stderr}")
                return {"ok": False, "error": f"'{' '.join(argv)}' failed: {stderr}"}
        log(f"net {action} {' '.join(nodes_)} {msg.get('value', '')}".rstrip())
        return {"ok": True, "faults": self.faults.as_dict()}

    # -- status ------------------------------------------------------------
    def master(self) -> str | None:
        return ssconf.current_master(self.node_roots)

    def status(self) -> dict:
        master = self.master()
        roles = ssconf.roles(self.node_roots, master, self.spec.lead_node)
        order = {name: i for i, name in enumerate(daemons.ALL_DAEMONS)}
        listed = sorted(self.supervisor.status(), key=lambda d: order.get(d["daemon"], 99))
        return {
            "rapi": rapi.status_entry(self.paths, self.spec, master),
            "cluster": self.spec.name,
            "ganeti_cluster": self.spec.cluster_fqdn,
            "cluster_ip": str(self.spec.cluster_ip),
            "network": self.spec.network,
            "network_mode": self.spec.network_mode,
            "secondary_network": self.spec.secondary_network,
            "master": master,
            "slice": self.link.status(self.node_roots) if self.link else None,
            "uptime": round(time.time() - self.started, 1),
            "nodes": [{"name": node, "address": str(ip), "role": roles.get(node),
                       "stopped": node in self.stopped_nodes,
                       "faults": self.faults.of_node(node),
                       "daemons": [d for d in listed if d["node"] == node]}
                      for node, ip in self.spec.node_ips.items()],
        }

    # -- boot --------------------------------------------------------------
    async def run_in_node(self, node: str, argv: list[str]) -> tuple[int, bytes]:
        """Run ``argv`` as ``node``; its output goes to the node's
        commands.log.  Returns its exit code and standard output."""
        log_path = self.paths.node_log_dir(node) / "commands.log"
        with open(log_path, "ab") as out:
            result = await trio.run_process(
                nodes.nsenter(self.paths, node, self.spec.isolated, argv),
                env=daemons.node_env(self.paths, node), check=False,
                stdin=subprocess.DEVNULL, capture_stdout=True, stderr=out)
            out.write(result.stdout)
        return result.returncode, result.stdout

    async def prepare_dirs(self, names: list[str]) -> None:
        """Ganeti's directories of the nodes that have none yet, a batch of
        nodes per Ganeti version in one process (ganeti/dirs.py); a node a
        batch does not report done gets ensure-dirs of its own
        (prepare_node)."""
        needed = {n: self.node_roots[n] for n in names if daemons.needs_setup(self.node_roots[n])}
        for batch in dirs.batches(needed) if len(needed) > 1 else ():
            _, output = await self.run_in_node(
                batch[0], dirs.batch_argv([needed[n] for n in batch]))
            done = dirs.done_roots(output.decode(errors="replace"))
            for node in batch:
                if str(needed[node]).rstrip("/") in done:
                    daemons.setup_done(needed[node])

    async def prepare_node(self, node: str) -> None:
        """Ganeti's directories (once) and the RAPI user of every node."""
        root = self.node_roots[node]
        if daemons.needs_setup(root):
            code, _ = await self.run_in_node(node, [ENSURE_DIRS])
            if code != 0:
                raise RuntimeError(f"ensure-dirs failed on {node} (status {code}); "
                                   f"see {self.paths.node_log_dir(node) / 'commands.log'}")
            daemons.setup_done(root)
        rapi.write_users(self.paths, node)

    async def boot_node(self, node: str, by: str = "supervisor") -> dict:
        self.stopped_nodes.discard(node)
        names = daemons.boot_daemons(self.node_roots[node], node)
        if names is None:
            return {"ok": True, "note": f"{node} has not joined the cluster"}
        return await self.start_list(node, names, by)

    async def boot_nodes(self, names: list[str], by: str = "supervisor") -> dict:
        """Boot several nodes concurrently, one task each."""
        answers: list[dict] = []

        async def one(node: str) -> None:
            answers.append(await self.boot_node(node, by))

        async with trio.open_nursery() as nursery:
            for node in names:
                nursery.start_soon(one, node)
        failed = [a for a in answers if not a["ok"]]
        return failed[0] if failed else {"ok": True}

    async def boot(self) -> None:
        """Prepare every node; start daemons on nodes that already joined."""
        limiter = trio.CapacityLimiter(max(2, os.cpu_count() or 2))
        failures: list[str] = []
        await self.prepare_dirs(self.spec.node_names)

        async def one(node: str) -> None:
            async with limiter:
                await self.prepare_node(node)
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

        if self.link is None:
            await trio.serve_listeners(close, listeners)
            return
        # Slices: port 22 also runs the commands of the other slices' ssh.
        async with trio.open_nursery() as nursery:
            for node, listener in zip(self.spec.node_names, listeners):
                handler = (lambda n: lambda stream: self.link.serve_command(stream, n))(node)
                nursery.start_soon(trio.serve_listeners, handler, [listener])

    def listen_in_node(self, node: str, port: int) -> trio.SocketListener:
        """A listener on 0.0.0.0:``port`` inside ``node``'s network namespace."""
        import socket
        with ns.network_namespace(f"/proc/{nodes.anchor_pid(self.paths, node)}/ns/net"):
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
                if node not in self.stopped_nodes and daemons.watches(self.node_roots[node]):
                    await self.run_in_node(node, [WATCHER])


async def amain(paths: ClusterPaths, spec: ClusterSpec, rapi_listener=None) -> int:
    async with trio.open_nursery() as nursery:
        supervisor = Supervisor(nursery, RestartPolicy(), log=log)
        service = ClusterService(paths, spec, supervisor)
        await nursery.start(control.serve, paths.control_socket, service.handle)
        if service.link is not None:
            await nursery.start(service.link.serve)
        nursery.start_soon(service.ssh_ports)
        nursery.start_soon(signal_watch, service)
        nursery.start_soon(service.sysrq_tripwire)
        if rapi_listener is not None:
            nursery.start_soon(portforward.forward, rapi_listener,
                               lambda: rapi.target(spec, service.master()))
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
            sync_tree(f"/proc/{nodes.anchor_pid(paths, node)}/root{FILE_STORAGE_DIR}",
                      str(paths.node_root(node) / "file-storage"))
        except (OSError, ValueError) as exc:
            log(f"saving {node}'s file storage failed: {exc}")


async def signal_watch(service: ClusterService) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for _ in signals:
            service.shutdown_requested.set()


def main(paths: ClusterPaths, spec: ClusterSpec, rapi_listener=None) -> int:
    prctl.set_proctitle(lifecycle.title("supervisor", spec.name, paths.dir))
    os.chdir("/")
    return trio.run(amain, paths, spec, rapi_listener)
