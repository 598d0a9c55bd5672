"""``vcluster-ns doctor``: check everything a cluster needs, and say how to fix it.

Each check reads the machine through a ``Machine`` object, so tests can
simulate a bad environment by giving other answers (no sysctl or host file
is changed).  A check returns ``ok``, ``warn`` (works, with a caveat) or
``fail`` (a cluster cannot run, or will break at that size) with a fix.

``up`` runs the fast checks (``FAST``) for the requested node count and
refuses to start on a failure.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from . import ganeti
from .errors import EnvironmentUnsupported, VclusterError

OK, WARN, FAIL = "ok", "warn", "fail"

# Measured on Debian 12 with Ganeti 3.0 as PSS (/proc/PID/smaps_rollup:
# shared pages counted once, divided among their users; RSS would count the
# daemons' shared libraries once per node).  See docs/performance.md.
MB_PER_NODE = 45          # noded 27.7 + mond 5.4 + confd 5.0, the node's anchor, slack
MB_FIXED = 300            # master daemons (wconfd, luxid, rapi), supervisor, launcher
# Measured: each confd holds one inotify instance, the master's luxid one and
# rapi two; other programs of the same user need some too.
INOTIFY_PER_NODE = 1
INOTIFY_FIXED = 16
# Per-process open files of the supervisor: a pidfd and log per daemon, an
# SSH-port listener per node.
FDS_PER_NODE = 8
# noded, confd, mond and the node's anchor, plus noded's forks per RPC.
PROCS_PER_NODE = 6
# Isolated mode: a network, mount and UTS namespace per node (measured);
# user, pid and IPC namespaces are one per cluster.
NAMESPACES_PER_NODE = {"net": 1, "mnt": 1, "uts": 1}
NAMESPACES_FIXED = 8
# The kernel's ARP table is one for all network namespaces (gc_thresh3 is
# kernel-wide): the master's namespace holds an entry per node it talks
# to, each node one for the master and a few peers; gnt-cluster verify
# has every node reach every other (N^2 entries in isolated mode, for the
# time of the test: measured 20 nodes, +290 entries).
NEIGHBOURS_PER_NODE = 3
NEIGHBOURS_SLACK = 64
# gnt-cluster verify sends node_verify to every node of a group at once,
# one job per group and the groups' jobs side by side; each node then
# reaches its group's others (NV_NODENETTEST), a noded fork per
# connection, against Ganeti's fixed 5-s RPC connect timeout
# (RPC_CONNECT_TIMEOUT).  Measured on 2 cores (docs/performance.md): clean
# at 100 nodes, 298 of 300 timing out at 300, still 49 errors when its
# groups of 100 were verified one at a time.  That is Ganeti 3.0.2's node
# daemon; master's serves requests in threads (its 14eb51bd8) and verified
# 300 nodes on these 2 cores cleanly, at once and by groups.
VERIFY_NODES_PER_CORE = 50
# The host's DAMON, when it monitors physical memory ("paddr": kdamond, or
# the damon_reclaim/lru_sort/stat modules), checks a sampled page's accessed
# bit through every mapping of it, and a cluster's daemons map the same
# pages (libpython, Ganeti's modules) hundreds of times.  Measured with perf
# during a 300-node up on 2 cores: kdamond 2 % of the CPU early in the adds,
# 9 to 11 % from about 190 nodes on (docs/performance.md).
DAMON_NODES = 100
DAMON_MODULES = ("damon_reclaim", "damon_lru_sort", "damon_stat")


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class Machine:
    """The answers the checks need; override any of them to simulate a machine."""

    def sysctl(self, name: str) -> str | None:
        try:
            return Path("/proc/sys", name.replace(".", "/")).read_text().strip()
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def package_version(self, package: str) -> str | None:
        try:
            out = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", package],
                                 capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        fields = out.stdout.split()
        if out.returncode == 0 and fields[:3] == ["install", "ok", "installed"]:
            return fields[3] if len(fields) > 3 else "?"
        return None

    def which(self, program: str) -> str | None:
        return shutil.which(program, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")

    def mem_available_mb(self) -> int:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
        return 0

    def rlimit(self, which: int) -> int:
        soft, _ = resource.getrlimit(which)
        return soft

    def hard_rlimit(self, which: int) -> int:
        _, hard = resource.getrlimit(which)
        return hard

    def cores(self) -> int:
        return len(os.sched_getaffinity(0))

    def neighbour_entries(self) -> int | None:
        """Entries in the kernel's ARP table now (all namespaces, all users)."""
        try:
            lines = Path("/proc/net/stat/arp_cache").read_text().split("\n")
            return int(lines[1].split()[0], 16)
        except (OSError, ValueError, IndexError):
            return None

    def damon_monitors(self) -> list[str]:
        """The address space of each running DAMON monitor: 'paddr'
        (physical memory), 'vaddr' or 'fvaddr' (processes)."""
        found = []
        for state in sorted(Path("/sys/kernel/mm/damon/admin/kdamonds").glob("*/state")):
            try:
                if state.read_text().strip() != "on":
                    continue
                found += [ops.read_text().strip()
                          for ops in sorted(state.parent.glob("contexts/*/operations"))]
            except OSError:
                continue
        for module in DAMON_MODULES:
            try:
                enabled = Path(f"/sys/module/{module}/parameters/enabled").read_text()
            except OSError:
                continue
            if enabled.strip() in ("Y", "1"):
                found.append("paddr")
        return found

    def userns_error(self) -> str | None:
        from .namespaces import probe_user_namespaces
        try:
            probe_user_namespaces()
        except VclusterError as exc:
            return exc.one_line()
        return None

    def link_kinds_error(self) -> str | None:
        return _in_throwaway_netns(_try_links)

    def netem_error(self) -> str | None:
        return netem_error()


def _try_links() -> str:
    from pyroute2 import IPRoute
    message = ""
    with IPRoute() as ipr:
        for kind, extra in (("bridge", {}), ("veth", {"peer": "probe1"})):
            try:
                ipr.link("add", ifname=f"probe-{kind}", kind=kind, **extra)
            except Exception as exc:  # noqa: BLE001 - reported as text
                message += f"{kind}: {exc}; "
    return message


def _try_netem() -> str:
    """What tc says when adding a netem qdisc (empty: it works); both
    programs are looked for where the cluster looks, not in the caller's PATH."""
    from .nodes import BASE_PATH
    ip, tc = (shutil.which(p, path=BASE_PATH) for p in ("ip", "tc"))
    if not ip or not tc:
        return NO_TC
    subprocess.run([ip, "link", "add", "probe-br", "type", "bridge"], check=False,
                   capture_output=True)
    out = subprocess.run([tc, "qdisc", "add", "dev", "probe-br", "root", "netem",
                          "delay", "1ms"], capture_output=True, text=True)
    return "" if out.returncode == 0 else (out.stderr.strip() or f"tc exit {out.returncode}")


def netem_error() -> str | None:
    """None if ``vcluster-ns net delay/loss`` can work here, else tc's reason."""
    return _in_throwaway_netns(_try_netem)


def _in_throwaway_netns(probe: Callable[[], str]) -> str | None:
    """Run ``probe`` in a child with its own user and network namespaces."""
    from .namespaces import CLONE_NEWNET, CLONE_NEWUSER, unshare, write_id_maps

    uid, gid = os.geteuid(), os.getegid()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        message = ""
        try:
            unshare(CLONE_NEWUSER)
            write_id_maps("self", uid, gid)
            unshare(CLONE_NEWNET)
            message = probe()
        except BaseException as exc:  # noqa: BLE001 - reported as text
            message = f"{exc}"
        finally:
            os.write(w, message.encode()[:4096])
            os._exit(0)
    os.close(w)
    answer = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    return answer or None


# -- the checks -------------------------------------------------------------

def check_userns(m: Machine, nodes: int) -> Check:
    clone = m.sysctl("kernel.unprivileged_userns_clone")
    if clone is not None and clone != "1":
        return Check("user namespaces", FAIL, "kernel.unprivileged_userns_clone = " + clone,
                     "sysctl -w kernel.unprivileged_userns_clone=1")
    apparmor = m.sysctl("kernel.apparmor_restrict_unprivileged_userns")
    if apparmor == "1":
        return Check("user namespaces", FAIL,
                     "AppArmor restricts unprivileged user namespaces "
                     "(kernel.apparmor_restrict_unprivileged_userns = 1)",
                     "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or give "
                     "vcluster-ns's python an AppArmor profile with 'userns,'")
    limit = m.sysctl("user.max_user_namespaces")
    if limit is not None and int(limit) == 0:
        return Check("user namespaces", FAIL, "user.max_user_namespaces = 0",
                     "sysctl -w user.max_user_namespaces=15000")
    error = m.userns_error()
    if error:
        return Check("user namespaces", FAIL, error,
                     "is this a container that forbids unshare(2)? run on the host or a VM")
    return Check("user namespaces", OK, "unprivileged user namespaces work")


def check_ganeti(m: Machine, nodes: int) -> Check:
    """The system's installation (a tree of one's own: ``doctor --ganeti PATH``)."""
    version = m.package_version("ganeti")
    missing = ganeti.missing_programs()
    if version is None or missing:
        return Check("ganeti", FAIL, "Ganeti is not installed" if version is None
                     else f"{missing[0]} is missing",
                     "apt-get install ganeti ganeti-os-noop, or give your own build "
                     "with --ganeti PATH")
    return Check("ganeti", OK, f"ganeti {version} (the system's; another: --ganeti PATH)")


def check_noop_os(m: Machine, nodes: int) -> Check:
    version = m.package_version("ganeti-os-noop")
    if version is None:
        return Check("ganeti-os-noop", WARN, "the 'noop' OS is missing (the shipped "
                     "'dummy' OS still works)", "apt-get install ganeti-os-noop")
    return Check("ganeti-os-noop", OK, f"ganeti-os-noop {version}")


def check_programs(m: Machine, nodes: int) -> Check:
    needed = ["nsenter", "bash", "sleep", "ip", "socat"]
    missing = [p for p in needed if not m.which(p)]
    if missing:
        return Check("programs", FAIL, "missing: " + ", ".join(missing),
                     "apt-get install util-linux iproute2 socat")
    optional = [p for p in ("fping", "iptables-save", "curl") if not m.which(p)]
    if optional:
        return Check("programs", WARN, "missing (Ganeti's QA uses them): " +
                     ", ".join(optional), "apt-get install fping iptables curl")
    return Check("programs", OK, "nsenter, bash, ip, socat, fping, iptables, curl")


def check_links(m: Machine, nodes: int) -> Check:
    error = m.link_kinds_error()
    if error:
        return Check("network devices", FAIL, f"cannot create links: {error}",
                     "the kernel needs bridge and veth support (CONFIG_BRIDGE, CONFIG_VETH)")
    return Check("network devices", OK, "bridge and veth links work")


NO_TC = "tc or ip is not installed"


def check_netem(m: Machine, nodes: int) -> Check:
    error = m.netem_error()
    if error == NO_TC:
        return Check("netem", WARN, f"{NO_TC}: 'vcluster-ns net' does not work",
                     "install iproute2 (apt-get install iproute2)")
    if error:
        return Check("netem", WARN, f"no netem qdisc ({error}): 'vcluster-ns net delay' "
                     "and 'net loss' exit 4; partition, down and up work",
                     "load sch_netem (modprobe sch_netem) or use a kernel with "
                     "CONFIG_NET_SCH_NETEM")
    return Check("netem", OK, "netem works: 'vcluster-ns net delay/loss' available")


def check_sysrq(m: Machine, nodes: int) -> Check:
    if m.exists("/proc/sysrq-trigger"):
        return Check("sysrq", OK, "/proc/sysrq-trigger exists: inside the cluster it is "
                     "covered by a tripwire that records Ganeti's powercycle attempts")
    return Check("sysrq", WARN, "/proc/sysrq-trigger is absent (CONFIG_MAGIC_SYSRQ off): "
                 "gnt-cluster verify fails with a node setup error (ENODESETUP) on every "
                 "node",
                 "a kernel with CONFIG_MAGIC_SYSRQ, or 'gnt-cluster verify "
                 "--ignore-errors=ENODESETUP' (powercycle is refused anyway; 'vcluster-ns "
                 "qa' does this and says so)")


def check_memory(m: Machine, nodes: int) -> Check:
    need = MB_FIXED + MB_PER_NODE * nodes
    have = m.mem_available_mb()
    detail = (f"{nodes} nodes need about {need} MB idle ({MB_PER_NODE} MB PSS per node "
              f"+ {MB_FIXED}), {have} MB available")
    if have < need:
        return Check("memory", FAIL, detail, "use fewer --nodes or free memory")
    if have < need * 1.5:
        return Check("memory", WARN, detail, "little headroom for instances and jobs")
    return Check("memory", OK, detail)


def check_inotify(m: Machine, nodes: int) -> Check:
    value = m.sysctl("fs.inotify.max_user_instances")
    if value is None:
        return Check("inotify", WARN, "fs.inotify.max_user_instances unreadable")
    need = INOTIFY_PER_NODE * nodes + INOTIFY_FIXED
    detail = f"fs.inotify.max_user_instances = {value}, {nodes} nodes need about {need}"
    if int(value) < need:
        return Check("inotify", FAIL, detail,
                     f"sysctl -w fs.inotify.max_user_instances={max(need * 2, 512)}")
    return Check("inotify", OK, detail)


def check_limits(m: Machine, nodes: int) -> Check:
    """Open files: ``up`` raises the soft limit to the hard one for the
    cluster (launch.raise_open_files), so the hard one counts.  Processes
    (RLIMIT_NPROC counts every task of the user, other clusters too)."""
    files = m.hard_rlimit(resource.RLIMIT_NOFILE)
    procs = m.rlimit(resource.RLIMIT_NPROC)
    need_files, need_procs = FDS_PER_NODE * nodes + 256, PROCS_PER_NODE * nodes + 64
    infinite = resource.RLIM_INFINITY
    problems, fixes = [], []
    if files != infinite and files < need_files:
        problems.append(f"open files: hard limit {files} < {need_files}")
        fixes.append(f"a hard 'nofile' of {need_files * 2} or more in "
                     "/etc/security/limits.conf (ulimit -Hn), then log in again")
    if procs != infinite and procs < need_procs:
        problems.append(f"processes {procs} < {need_procs}")
        fixes.append(f"ulimit -u {need_procs * 2} (or 'nproc' in /etc/security/limits.conf)")
    shown = f"{nodes} nodes need {need_files} open files and {need_procs} processes"
    if problems:
        return Check("limits", FAIL, f"{shown}: " + "; ".join(problems), "; ".join(fixes))
    return Check("limits", OK, f"{shown}: open files up to {files} (up raises the soft "
                 f"limit to it), processes {'unlimited' if procs == infinite else procs}")


def check_namespaces(m: Machine, nodes: int) -> Check:
    """user.max_*_namespaces: per user, counted in every namespace above."""
    problems, fixes = [], []
    for kind, per_node in NAMESPACES_PER_NODE.items():
        value = m.sysctl(f"user.max_{kind}_namespaces")
        need = per_node * nodes + NAMESPACES_FIXED
        if value is not None and int(value) < need:
            problems.append(f"user.max_{kind}_namespaces = {value} < {need}")
            fixes.append(f"sysctl -w user.max_{kind}_namespaces={need * 2}")
    if problems:
        return Check("namespaces", FAIL, f"{nodes} nodes: " + "; ".join(problems),
                     "; ".join(fixes))
    return Check("namespaces", OK, f"{nodes} nodes need about "
                 f"{nodes + NAMESPACES_FIXED} network, mount and UTS namespaces: allowed")


def check_neighbours(m: Machine, nodes: int) -> Check:
    """The ARP table (kernel-wide, shared with every namespace): past
    gc_thresh3 the kernel drops entries and Ganeti's RPCs time out."""
    value = m.sysctl("net.ipv4.neigh.default.gc_thresh3")
    if value is None:
        return Check("neighbour table", WARN, "net.ipv4.neigh.default.gc_thresh3 unreadable")
    now = m.neighbour_entries() or 0
    need = NEIGHBOURS_PER_NODE * nodes + NEIGHBOURS_SLACK + now
    detail = (f"net.ipv4.neigh.default.gc_thresh3 = {value} (kernel-wide, {now} in use), "
              f"{nodes} nodes need about {need}")
    if int(value) < need:
        return Check("neighbour table", FAIL, detail,
                     f"sysctl -w net.ipv4.neigh.default.gc_thresh3={need * 2} "
                     f"(and gc_thresh2={need})")
    verify = nodes * nodes + now
    if int(value) < verify:
        return Check("neighbour table", WARN, f"{detail}; gnt-cluster verify's node-to-node "
                     f"test needs about {verify} at once in isolated mode",
                     f"sysctl -w net.ipv4.neigh.default.gc_thresh3={verify} (and "
                     f"gc_thresh2={verify // 2}), or --network-mode shared (no ARP)")
    return Check("neighbour table", OK, detail)


def check_verify_fanout(m: Machine, nodes: int) -> Check:
    """Not a limit of ours: how far Ganeti's verify goes on this many cores."""
    cores = m.cores()
    most = VERIFY_NODES_PER_CORE * cores
    detail = (f"gnt-cluster verify reaches all {nodes} nodes at once; measured clean up to "
              f"about {VERIFY_NODES_PER_CORE} nodes per core with Ganeti 3.0.2, {most} on "
              f"these {cores}")
    if nodes <= most:
        return Check("verify fan-out", OK, detail)
    return Check("verify fan-out", WARN, f"{detail}: beyond, nodes answer verify with "
                 "'SSL connection timeout' (ENODERPC; Ganeti's RPC connect timeout is a "
                 "fixed 5 s)",
                 f"run the cluster on {-(-nodes // VERIFY_NODES_PER_CORE)} cores or more; "
                 f"verifying one node group at a time ('gnt-cluster verify -g GROUP', groups "
                 f"of at most {most} from the cluster file's [groups]) reduces the errors "
                 f"(300 nodes on 2 cores: 774 at once, 49 by groups of 100); a Ganeti whose "
                 f"node daemon serves requests in threads, not a fork each (master since "
                 f"February 2026), verified 300 nodes on 2 cores cleanly")


def check_damon(m: Machine, nodes: int) -> Check:
    """Not a limit: the host's memory monitor, whose CPU grows with the cluster."""
    monitors = m.damon_monitors()
    if "paddr" not in monitors:
        return Check("DAMON", OK, "no DAMON monitor of physical memory runs on this host"
                     + (f" ({', '.join(monitors)} only)" if monitors else ""))
    detail = ("the host's DAMON monitors physical memory (kdamond): its CPU grows with "
              "the mappings of each page, which a cluster's daemons multiply")
    if nodes < DAMON_NODES:
        return Check("DAMON", OK, f"{detail}; little at {nodes} nodes")
    return Check("DAMON", WARN, f"{detail}: at 300 nodes on 2 cores it took 9 to 11 % of "
                 "the CPU, so bring-ups and benchmarks of this size vary with it",
                 "nothing to change for a cluster (vcluster-ns leaves the host alone); "
                 "for a benchmark, the host's administrator may pause DAMON ('echo off > "
                 "/sys/kernel/mm/damon/admin/kdamonds/N/state' as root)")


ALL: list[Callable[[Machine, int], Check]] = [
    check_userns, check_ganeti, check_noop_os, check_programs, check_links,
    check_netem, check_sysrq, check_memory, check_inotify, check_limits,
    check_namespaces, check_neighbours, check_verify_fanout, check_damon,
]
# What `up` checks before creating anything: cheap, and fatal when failing.
FAST = [check_memory, check_inotify, check_limits, check_namespaces, check_neighbours]


def run_checks(nodes: int, machine: Machine | None = None,
               checks=ALL, ganeti_tree: str | None = None) -> list[Check]:
    """``ganeti_tree``: check that installation tree instead of the system's Ganeti."""
    machine = machine or Machine()
    results = []
    for check in checks:
        if check is check_ganeti and ganeti_tree is not None:
            from .ganeti import treecheck
            results += treecheck.check_tree(ganeti_tree, Check)
        else:
            results.append(check(machine, nodes))
    return results


def require(nodes: int, machine: Machine | None = None) -> None:
    """Raise on the first failing fast check (used by ``up``)."""
    for check in run_checks(nodes, machine, FAST):
        if check.status == FAIL:
            raise EnvironmentUnsupported(f"{check.name}: {check.detail}", check.fix)
