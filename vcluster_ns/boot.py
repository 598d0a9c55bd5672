"""The supervisor process: create the namespaces, then hand over to the service.

``python -m vcluster_ns.boot <cluster dir>`` is started detached by ``up``.
Three processes, each with one job::

    launcher (host pid and mount namespaces, inside the new user namespace)
      │   creates user+net+pid+uts+ipc namespaces, writes supervisor.pid,
      │   waits, and removes supervisor.pid and control.sock when the cluster ends
      └── init: pid 1 of the cluster
            │   its own mount namespace, network, mounts, one mount namespace
            │   per node (each held by an anchor process); then only
            │   reaps orphans (daemons that double-fork end up here) and
            │   forwards SIGTERM.  When it dies the kernel kills every process
            │   of the cluster: nothing can leak, whoever kills what.
            └── service: the trio supervisor (service.py)

pid 1 reaps with ``waitpid(-1)``; that cannot steal an exit status from trio,
because the daemons trio waits for are the *service's* children, not pid 1's.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import traceback
from pathlib import Path

import prctl

from . import lifecycle, mounts, namespaces as ns, netns, reaper
from .ganeti import install as ganeti_install
from .layout import ClusterPaths
from .errors import VclusterError
from .pidfile import PidFile
from .portforward import open_host_listener
from .shims import SHIM_TARGETS
from .spec import ClusterSpec

SLEEP = "/bin/sleep"
# Where prctl is installed: reaper.py runs without site-packages on its path.
SITE_DIR = os.path.dirname(prctl.__file__)

# The launcher stays in the host's mount namespace so that it still sees the
# host's /proc (to record and later check pid 1's host pid); pid 1 creates the
# cluster's mount namespace for itself.
LAUNCHER_NAMESPACES = ns.CLONE_NEWNET | ns.CLONE_NEWPID | ns.CLONE_NEWUTS | ns.CLONE_NEWIPC


def log(message: str) -> None:
    print(f"[boot {os.getpid()}] {message}", flush=True)


def start_node_anchor(paths: ClusterPaths, node: str, plan: netns.NetworkPlan,
                      ipr=None, binds: list[tuple[str, str]] = (),
                      disk_mib: int | None = None) -> int:
    """Give ``node`` its own namespaces, held by a tiny anchor process.

    The child unshares its mount namespace (and, in isolated mode, its
    network and UTS namespaces), waits while pid 1 cables it to the
    switches, configures its side, applies the node's mounts and then
    becomes ``sleep infinity``: the namespaces live as long as it does, and
    it dies with pid 1 like everything else.  Everyone inside the cluster
    enters the node through ``/proc/<anchor>/ns/*`` (its pid is recorded in
    ``ns/<node>.pid``).  Pinning namespaces with bind mounts of those files
    would need no process, but the kernel refuses it whenever the node's
    namespace id is not larger than the cluster's, and ids are handed out in
    per-CPU batches, so it fails at random on multi-core machines.
    """
    node_net = plan.nodes.get(node)
    flags = ns.CLONE_NEWNS | (ns.CLONE_NEWNET | ns.CLONE_NEWUTS if node_net else 0)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(go_w)
        try:
            ns.unshare(flags)
            if node_net:
                ns.sethostname(node)
                os.write(ready_w, b"ns")
                if os.read(go_r, 2) != b"go":
                    os._exit(1)
                netns.configure_node(node_net)
            mounts.apply_ops(mounts.plan_node_mounts(paths, node, own_network=bool(node_net),
                                                     binds=binds, disk_mib=disk_mib))
            os.set_inheritable(ready_w, False)
            os.write(ready_w, b"ok")
            os.execv(SLEEP, [lifecycle.node_title(node), "infinity"])
        except Exception as exc:  # noqa: BLE001 - reported to pid 1, then _exit
            os.write(ready_w, f"{node}: {getattr(exc, 'strerror', None) or exc}".encode())
        os._exit(1)
    os.close(ready_w)
    os.close(go_r)
    try:
        if node_net:
            answer = os.read(ready_r, 4096).decode()
            if answer != "ns":
                raise OSError(0, answer or f"{node}: namespace setup died")
            netns.connect_node(node_net, child, ipr)
            os.write(go_w, b"go")
        answer = os.read(ready_r, 4096).decode()
    finally:
        os.close(ready_r)
        os.close(go_w)
    if answer != "ok":
        raise OSError(0, answer or f"{node}: namespace setup died")
    paths.node_anchor_file(node).write_text(f"{child}\n")
    return child


def setup_inside(paths: ClusterPaths, spec: ClusterSpec) -> None:
    ns.unshare(ns.CLONE_NEWNS)
    ns.sethostname(f"vcluster-{spec.name}")
    plan = netns.plan_network(spec)
    netns.apply_plan(plan)
    mounts.apply_ops(mounts.plan_cluster_mounts(
        paths, SHIM_TARGETS, usr_layers=ganeti_install.usr_layers(spec),
        hidden=ganeti_install.STATE_DIRS))
    from pyroute2 import IPRoute
    with IPRoute() as ipr:  # one netlink socket for every node's cables
        for node in spec.node_names:
            binds = ganeti_install.node_binds(paths.node_root(node))
            start_node_anchor(paths, node, plan, ipr,
                              binds=[*binds, *write_node_proc_files(paths, spec, node)],
                              disk_mib=spec.settings_of(node).get("disk"))


def write_node_proc_files(paths: ClusterPaths, spec: ClusterSpec,
                          node: str) -> list[tuple[str, str]]:
    """Render the node's own /proc/meminfo and /proc/cpuinfo (when it has a
    memory size or CPU count); returns the (file, /proc path) pairs to bind."""
    from .ganeti.resources import node_proc_files
    binds = []
    for target, content in node_proc_files(spec.settings_of(node)).items():
        path = mounts.node_proc_file(paths, node, target)
        path.parent.mkdir(exist_ok=True)
        path.write_text(content)
        binds.append((str(path), target))
    return binds


def run_init(paths: ClusterPaths, spec: ClusterSpec, ready_w: int,
             rapi_listener: socket.socket | None) -> None:
    """pid 1 of the cluster: set up, start the service, reap until it ends."""
    prctl.set_proctitle(lifecycle.title("init", spec.name, paths.dir))
    try:
        setup_inside(paths, spec)
    except Exception as exc:  # reported to the launcher, which tells `up`
        os.write(ready_w, f"error: {exc}".encode())
        os._exit(1)
    service = os.fork()
    if service == 0:
        os.close(ready_w)
        prctl.set_pdeathsig(signal.SIGKILL)
        from . import service as service_module
        code = 1
        try:
            code = service_module.main(paths, spec, rapi_listener)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.write(ready_w, b"ok")
    os.close(ready_w)
    if rapi_listener is not None:
        rapi_listener.close()  # the service has it
    become_small(reaper.command(SITE_DIR, "init", lifecycle.title("init", spec.name, paths.dir),
                                str(service)))
    os._exit(reaper.reap(service))  # only if the exec failed


def become_small(argv: list[str]) -> None:
    """exec the small waiting program (reaper.py); returns only on failure."""
    sys.stdout.flush()
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        log(f"cannot exec {argv[2]}: {exc.strerror}; waiting in this process")


def main(argv: list[str]) -> int:
    paths = ClusterPaths(Path(argv[1]))
    spec = ClusterSpec.load(paths.spec_file)
    prctl.set_proctitle(lifecycle.title("launcher", spec.name, paths.dir))
    # A joining slice's link to the master's slice: its transport (ssh)
    # must run in the host's network namespace, as the user, so the keeper
    # is forked before the namespaces are made; it dies with this process.
    from .linkkeeper import start_keeper
    start_keeper(spec, paths)
    rapi_listener = None
    if spec.rapi_port is not None:
        # Bound here, while still in the host's network namespace: it stays
        # on the host's loopback, and the service inside accepts on it.
        try:
            rapi_listener = open_host_listener(spec.rapi_port)
        except VclusterError as exc:
            log(f"error: {exc.one_line()}")
            return 2
        paths.rapi_port_file.write_text(f"{rapi_listener.getsockname()[1]}\n")
    try:
        ns.become_namespace_root(LAUNCHER_NAMESPACES)
    except Exception as exc:
        log(f"error: {exc.one_line() if isinstance(exc, VclusterError) else exc}")
        return 4
    ready_r, ready_w = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(ready_r)
        run_init(paths, spec, ready_w, rapi_listener)
    os.close(ready_w)
    if rapi_listener is not None:
        rapi_listener.close()
    answer = os.read(ready_r, 65536).decode()
    os.close(ready_r)
    if answer == "ok":
        PidFile(paths.pid_file).write(init)
        log(f"cluster {spec.name} is pid {init}")
        become_small(reaper.command(SITE_DIR, "launcher", lifecycle.title("launcher", spec.name, paths.dir),
                                    str(init), str(paths.pid_file),
                                    str(paths.control_socket), spec.name))
    else:
        log(answer or "error: the cluster's init died during setup")
    return reaper.wait_for_init(init, str(paths.pid_file), str(paths.control_socket),
                                spec.name)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
