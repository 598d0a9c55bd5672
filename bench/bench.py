#!/usr/bin/env python3
"""vcluster-ns benchmark: prints tables of bring-up, memory, latency and scale.

    .venv/bin/python bench/bench.py                      # sizes 3,10; 100 instances
    .venv/bin/python bench/bench.py --sizes 3,10,30 --instances 1000
    .venv/bin/python bench/bench.py --qa 1,2 --qa-args=--rapi   # only Ganeti's QA (table 10)
    .venv/bin/python bench/bench.py --qa-shards 1,2 --qa-alone 4,8 --qa-args=--rapi  # 10c-e

Run it as an unprivileged user on an otherwise idle machine.  Every figure
comes from this one run; short measurements are repeated and their median
(and p95) reported.  Clusters live in a temporary root, destroyed at the end.

Measured:
  1. `up` wall and CPU time per size, split into phases;
  2. the baseline: the same bring-up the way Ganeti documents it for
     vcluster-setup (gnt-cluster init, then one gnt-node add at a time, each
     node's daemons started after its add), in the same kind of namespaces;
     ratio ours/baseline;
     With three sizes or more, how `up` grows: F + a*N + b*N^2 fitted for
     ours and the baseline (1c), the cost of the N-th node's add;
  3. idle memory (RSS) of the cluster: Ganeti's daemons vs our own processes,
     and (two sizes or more) fixed cost and cost per node (3b);
  4. `vcluster-ns run node1 true` vs `true`, and `run node1 gnt-node list` vs
     the same command timed inside the cluster (as typed in `shell`);
  5. diskless fake-hypervisor instances added with Ganeti's bulk job
     submission (SubmitManyJobs, 10 opcodes per job): instances per second,
     and `gnt-instance list` at that size;
  6. `down`, and `up` again (restart), for the largest size;
  7. the cost of a network namespace per node: `up --no-init` of the same
     size in isolated and shared mode (namespaces, cables and mounts only),
     wall time and memory (MemAvailable and kernel slab drop), per node.
  9. (only this, with --seed M) `up` of a cluster file with M seeded
     diskless instances (started), spread over --seed-nodes nodes of 8 GiB
     and 8 CPUs each: wall time, the seeding phase, instances per second.
 10. (only this, with --qa P,...) Ganeti's whole QA, `vcluster-ns qa
     --keep-going` (plus --qa-args), P runs side by side for each P: each
     run's wall time, attempts and JUnit counts; the median wall per P, and
     QA runs per hour (P / median wall) against P = 1.
     With --qa-shards N,... (instead of or with --qa): the whole QA as
     `qa --shards N` for each N (10c); with --qa-alone N,...: each shard of
     the N-shard plan run alone, one after the other (`qa --shards N
     --shard K`), its wall time being the whole QA's on a machine with N
     cores (10d; --qa-alone-which longest: only the shard the plan
     estimates longest); and the per-key duration table of the first run
     (10e). Every row has the load averages (1/5/15 min) at its start.

With ``--modes isolated,shared`` tables 1 and 3 have a row per mode.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vcluster_ns import doctor, ganeti  # noqa: E402
from vcluster_ns.cluster import VirtualCluster  # noqa: E402
from vcluster_ns.spec import ClusterSpec  # noqa: E402

CLI = [sys.executable, "-m", "vcluster_ns.entry"]
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- measuring helpers -------------------------------------------------------

def cluster_pids(vc: VirtualCluster) -> list[int]:
    """Host pids of every process of the cluster (its pid namespace + launcher)."""
    pid1 = vc.pid1()
    target = os.readlink(f"/proc/{pid1}/ns/pid")
    title_end = f" {vc.name} {vc.paths.dir}"
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            if os.readlink(entry / "ns" / "pid") == target or cmd.endswith(title_end):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime of the processes and of their reaped children."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])
    return total / CLK


def cpu_by_kind(vc: VirtualCluster) -> dict[str, float]:
    """CPU seconds per kind of process, including children they reaped.

    A profile at process level: noded's forked request handlers and
    luxid's job processes count towards their parent once reaped."""
    kinds: dict[str, float] = {}
    for pid in cluster_pids(vc):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if cmd.startswith("vcluster-ns "):
            kind = cmd.split()[1]
        else:
            words = [w for w in cmd.split() if "ganeti-" in w or w.startswith("/usr/sbin")]
            kind = os.path.basename(words[0]) if words else cmd.split()[0] if cmd else "?"
        kinds[kind] = kinds.get(kind, 0.0) + sum(int(f) for f in fields[11:15]) / CLK
    return kinds


def own_cpu() -> float:
    usage = os.times()
    return usage.user + usage.system + usage.children_user + usage.children_system


def rss_by_kind(vc: VirtualCluster) -> dict[str, float]:
    """RSS in MB: Ganeti daemons vs our own processes (launcher, init, supervisor, anchors)."""
    kinds = {"ganeti": 0.0, "ours": 0.0}
    for pid in cluster_pids(vc):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
        kind = "ours" if cmd.startswith("vcluster-ns ") else "ganeti"
        kinds[kind] += rss_pages * PAGE / 2**20
    return kinds


def pss_by_kind(vc: VirtualCluster) -> dict[str, float]:
    """PSS in MB (/proc/PID/smaps_rollup): pages shared by several
    processes are divided among them, so the sum is what the cluster
    really costs (RSS counts the daemons' shared libraries once per node)."""
    kinds = {"ganeti": 0.0, "ours": 0.0}
    for pid in cluster_pids(vc):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        pss = next((int(line.split()[1]) for line in rollup.splitlines()
                    if line.startswith("Pss:")), 0)
        kind = "ours" if cmd.startswith("vcluster-ns ") else "ganeti"
        kinds[kind] += pss / 1024
    return kinds


def load() -> str:
    """The machine's load averages (1, 5, 15 min): the machine is shared."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_fields() -> list[int]:
    """The machine's CPU ticks so far by kind (/proc/stat's "cpu" line: user,
    nice, system, idle, iowait, irq, softirq, steal, ...)."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def cpu_ticks() -> tuple[int, int]:
    """(all, steal) CPU ticks of the machine so far."""
    fields = cpu_fields()
    return sum(fields), fields[7]


def steal_since(before: tuple[int, int]) -> str:
    """The share of the CPU the hypervisor gave to others since ``before``:
    a virtual machine's wall times stretch with it (41 % was seen here),
    its processes' CPU seconds much less."""
    total, steal = cpu_ticks()
    return f"{100 * (steal - before[1]) / max(1, total - before[0]):.0f} %"


def timed(argv: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def median_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def note(message: str) -> None:
    """A figure as soon as it is measured (stderr): a run that dies late keeps them."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(title: str, headers: list[str], rows: list[list]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(f"\n## {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    sys.stdout.flush()


def polyfit(xs: list[float], ys: list[float], degree: int) -> list[float]:
    """Least-squares coefficients c0..c_degree of y = sum(c_k x^k)."""
    n = degree + 1
    a = [[sum(x ** (i + j) for x in xs) for j in range(n)] + [sum(y * x ** i for x, y in zip(xs, ys))]
         for i in range(n)]
    for col in range(n):  # Gauss-Jordan on the normal equations
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for row in range(n):
            if row != col:
                factor = a[row][col] / a[col][col]
                a[row] = [v - factor * p for v, p in zip(a[row], a[col])]
    return [a[i][n] / a[i][i] for i in range(n)]


def growth_rows(label: str, sizes_walls: dict[int, float]) -> list[list]:
    """up(N) = F + a*N + b*N^2: a fixed cost, and a node add whose cost grows
    with the nodes already there (the N-th add costs about a + 2bN)."""
    sizes = sorted(sizes_walls)
    if len(sizes) < 3:
        return []
    fixed, a, b = polyfit(sizes, [sizes_walls[n] for n in sizes], 2)
    return [[label, f"{fixed:.1f}", f"{a:.3f}", f"{b:.4f}",
             *(f"{a + 2 * b * n:.2f}" for n in (10, 30, 100))]]


# -- the measurements --------------------------------------------------------

def bring_up(root: Path, name: str, nodes: int, network: str,
             mode: str = "isolated", ganeti_tree: str | None = None,
             join: str = "linear") -> tuple[VirtualCluster, dict]:
    vc = VirtualCluster(name, root, progress=note)
    cpu0 = own_cpu()
    start = time.perf_counter()
    vc.up(ClusterSpec(name=name, nodes=nodes, network=network, instances=0,
                      network_mode=mode, ganeti=ganeti_tree), join=join)
    wall = time.perf_counter() - start
    own = own_cpu() - cpu0
    cpu = own + cpu_seconds(cluster_pids(vc))
    profile = {"gnt-* clients (run)": own, **cpu_by_kind(vc)}
    return vc, {"wall": wall, "cpu": cpu, "profile": profile, **vc.timings}


def baseline(root: Path, name: str, nodes: int, network: str) -> float:
    """vcluster-setup's documented way, one step and one node at a time."""
    vc = VirtualCluster(name, root)
    spec = ClusterSpec(name=name, nodes=nodes, network=network, instances=0)
    start = time.perf_counter()
    vc.up(spec, init=False)
    vc.run(spec.master_node, *ganeti.init_argv(spec), check=True)
    for node in spec.node_names[1:]:
        vc.run(spec.master_node, *ganeti.node_add_argv(spec, node), check=True)
    for node in spec.node_names[1:]:  # what its watcher-all would then do
        vc.run(node, ganeti.DAEMON_UTIL, "start-all", check=True)
    wall = time.perf_counter() - start
    vc.destroy()
    return wall


def snapshot_round_trip(vc: VirtualCluster, fresh: float) -> list[str]:
    """down, snapshot, then a new cluster from it, up: the fast way back."""
    vc.down()
    start = time.perf_counter()
    vc.snapshot("bench")
    taken = time.perf_counter() - start
    copy = VirtualCluster(f"{vc.name}r", vc.root)
    start = time.perf_counter()
    copy.from_snapshot("bench")
    restored = time.perf_counter() - start
    listed = copy.run(copy.master, *ganeti.node_list_argv(), check=True).stdout.split()
    assert len(listed) == len(copy.nodes), listed
    copy.destroy()
    from vcluster_ns import snapshot
    snapshot.delete(vc.root, "bench")
    vc.up()
    return [f"{taken:.1f}", f"{restored:.1f}", f"{fresh:.1f}"]


def meminfo_mb() -> dict[str, float]:
    values = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, value = line.split(":", 1)
        values[key] = int(value.split()[0]) / 1024
    return values


def isolation_cost(root: Path, nodes: int, network: str, repeat: int = 3) -> list[list]:
    """`up --no-init` in both modes, alternating, median of ``repeat`` each:
    what the per-node network namespaces cost.  Memory is system-wide, so
    the machine must be otherwise idle."""
    samples: dict[str, list[tuple[float, float, float, float]]] = {"shared": [], "isolated": []}
    for i in range(repeat):
        for mode in ("shared", "isolated"):
            vc = VirtualCluster(f"iso{i}{mode[0]}", root)
            spec = ClusterSpec(name=vc.name, nodes=nodes, network=network, instances=0,
                               network_mode=mode)
            time.sleep(3)
            before = meminfo_mb()
            start = time.perf_counter()
            vc.up(spec, init=False)
            wall = time.perf_counter() - start
            time.sleep(3)
            after = meminfo_mb()
            rss = rss_by_kind(vc)["ours"]
            vc.destroy()
            samples[mode].append((wall, before["MemAvailable"] - after["MemAvailable"],
                                  after["Slab"] - before["Slab"], rss))
    medians = {m: [statistics.median(column) for column in zip(*rows)]
               for m, rows in samples.items()}
    rows = [[m, nodes, f"{v[0]:.2f}", f"{v[1]:.0f}", f"{v[2]:.1f}", f"{v[3]:.0f}"]
            for m, v in medians.items()]
    diff = [(medians["isolated"][i] - medians["shared"][i]) / nodes for i in range(4)]
    rows.append(["isolated - shared, per node", "", f"{diff[0] * 1000:.1f} ms",
                 f"{diff[1]:.2f}", f"{diff[2]:.2f}", f"{diff[3]:.2f}"])
    return rows


def run_latency(vc: VirtualCluster, repeat: int) -> list[list]:
    base = CLI + ["--root", str(vc.root), "--cluster", vc.name]
    true_direct = [timed(["true"]) for _ in range(repeat)]
    true_run = [timed(base + ["run", "node1", "true"]) for _ in range(repeat)]
    list_run = [timed(base + ["run", "node1", "gnt-node", "list"]) for _ in range(repeat)]
    inside = []
    for _ in range(repeat):
        out = vc.run("node1", "bash", "-c",
                     "s=$(date +%s%N); gnt-node list >/dev/null; e=$(date +%s%N); "
                     "echo $((e - s))", check=True)
        inside.append(int(out.stdout) / 1e9)
    rows = []
    for label, samples in (("true, direct", true_direct), ("vcluster-ns run node1 true", true_run),
                           ("gnt-node list, typed inside (shell)", inside),
                           ("vcluster-ns run node1 gnt-node list", list_run)):
        med, p95 = median_p95(samples)
        rows.append([label, f"{med * 1000:.0f}", f"{p95 * 1000:.0f}"])
    overhead = statistics.median(true_run) - statistics.median(true_direct)
    rows.append(["run overhead (median difference)", f"{overhead * 1000:.0f}", ""])
    return rows


def add_instances(vc: VirtualCluster, count: int, per_job: int = 10) -> tuple[float, float, int]:
    """Add diskless instances with Ganeti's bulk submission, wait for all; then list.

    One luxi SubmitManyJobs call (what RAPI's and the CLI's job executors
    use) sends jobs of ``per_job`` OpInstanceCreate opcodes each: a job
    process's start-up is paid once per job, and the jobs run side by side.
    Each instance names its primary node, round-robin: an add that asks the
    iallocator instead locks every node, and Ganeti would run them one at a
    time."""
    from vcluster_ns.ganeti import seed  # the same bulk submission as 'up' seeding
    master = vc.master
    start = time.perf_counter()
    names = [f"bench{i}" for i in range(1, count + 1)]
    vc.run(master, *seed.seed_argv(names, {"template": "diskless", "memory": 32,
                                           "start": False, "per_job": per_job}), check=True)
    elapsed = time.perf_counter() - start
    listing_start = time.perf_counter()
    listed = vc.run(master, "gnt-instance", "list", "--no-headers", "-o", "name", check=True)
    list_time = time.perf_counter() - listing_start
    made = sum(1 for line in listed.stdout.split() if line.startswith("bench"))
    report_failed_jobs(vc, master)
    return made / elapsed, list_time, made


def report_failed_jobs(vc: VirtualCluster, master: str, limit: int = 3) -> None:
    """Why instance adds failed: the first error of a few failed jobs."""
    jobs = vc.run(master, "gnt-job", "list", "--no-headers", "-o", "id,status",
                  check=True).stdout.split("\n")
    failed = [line.split()[0] for line in jobs if line.split()[1:] == ["error"]]
    if not failed:
        return
    print(f"\n{len(failed)} job(s) failed; first errors:", file=sys.stderr)
    for job in failed[:limit]:
        info = vc.run(master, "gnt-job", "info", job, check=False).stdout
        errors = [l.strip() for l in info.splitlines() if "rror" in l][:2]
        print(f"  job {job}: {' | '.join(errors)}", file=sys.stderr)


def seed_run(root: Path, nodes: int, count: int, network: str) -> list:
    """Table 9: up with ``count`` seeded instances (the cluster file's
    [instances]: one SubmitManyJobs call, 10 opcodes per job, started)."""
    names = [f"node{i}" for i in range(1, nodes + 1)]
    spec = ClusterSpec(name="seed", nodes=nodes, network=network, instances=count,
                       node_settings={n: {"memory": 8192, "cpus": 8} for n in names},
                       seed={"count": count, "template": "diskless", "memory": 64})
    vc = VirtualCluster("seed", root)
    start = time.perf_counter()
    vc.up(spec)
    wall = time.perf_counter() - start
    seeding = vc.timings.get("seeded instances", 0.0)
    listed = vc.run(vc.master, "gnt-instance", "list", "--no-headers", "-o", "status",
                    check=True).stdout.split()
    running = listed.count("running")
    note(f"up with {count} seeded instances on {nodes} nodes: wall {wall:.1f} s, "
         f"seeding {seeding:.1f} s, {running} running")
    vc.destroy()
    return [nodes, count, running, f"{wall:.1f}", f"{seeding:.1f}",
            f"{running / seeding:.2f}" if seeding else "-"]


def growth_run(root: Path, ways: list[str], sizes: dict[str, list[int]],
           trees: list[tuple[str, str | None]], network: str) -> list[list]:
    """Table 11: up at each size, each join way and Ganeti installation:
    wall, CPU seconds (every process of the cluster and the clients),
    idle PSS, and the load averages of the (shared) machine before and
    after.  Rows as they come (note) and in the table; raw figures in
    ``growth_figures`` for the fit and the plot."""
    rows = []
    # The installations take turns at each size, so that a shared machine's
    # changing load falls on each of them alike.
    runs = [(label, tree, way, n) for way in ways for n in sizes[way] for label, tree in trees]
    for label, tree, way, n in runs:
        before, ticks = load(), cpu_ticks()
        vc, f = bring_up(root, f"g{n}{way[0]}{len(rows)}", n, network,
                         ganeti_tree=tree, join=way)
        after, steal = load(), steal_since(ticks)
        settle()  # the new nodes' daemons start: memory and verify after
        pss = pss_by_kind(vc)
        total = pss["ganeti"] + pss["ours"]
        version = vc.spec().ganeti_version
        verified = verify(vc)
        empty_job = median_p95([timed_run(vc, "gnt-debug", "delay", "0.01")
                                for _ in range(3)])[0]
        row = [label, version, way, n, f"{f['wall']:.1f}", f"{f['cpu']:.1f}",
               f"{f.get('node adds', 0):.1f}", f"{total:.0f}", f"{total / n:.1f}",
               f"{pss['ganeti'] / n:.1f}", f"{empty_job:.2f}", verified, before, after,
               steal]
        note(" | ".join(map(str, row)))
        growth_figures.append({"installation": label, "version": version, "way": way,
                               "nodes": n, "wall": f["wall"], "cpu": f["cpu"],
                               "pss_total": total, "empty_job": empty_job,
                               "verify": verified, "phases": {
                                   k: round(v, 1) for k, v in f.items()
                                   if isinstance(v, float) and k not in ("wall", "cpu")},
                               "load": [before, after], "steal": steal})
        rows.append(row)
        vc.destroy()
    return rows


growth_figures: list[dict] = []


def busy_fraction(seconds: float = 5.0) -> float:
    """How busy the machine's CPUs were over the next ``seconds``."""
    def sample():
        fields = cpu_fields()
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def settle(below: float = 0.6, at_most: float = 180.0) -> None:
    """Wait until the machine is less than ``below`` busy (a big cluster's
    idle daemons keep it partly busy), or ``at_most`` seconds."""
    deadline = time.monotonic() + at_most
    while busy_fraction() >= below and time.monotonic() < deadline:
        pass


def timed_run(vc: VirtualCluster, *argv: str) -> float:
    """Wall seconds of ``argv`` on the master, as typed there (an empty
    job, ``gnt-debug delay 0.01``, shows what every job costs at this
    size: its process loads the whole configuration)."""
    start = time.perf_counter()
    vc.run(vc.master, *argv, check=True)
    return time.perf_counter() - start


def verify_once(vc: VirtualCluster, *group: str) -> tuple[bool, list[str], float]:
    """``gnt-cluster verify`` (``group``: ``-g NAME``, that node group
    only): whether it was clean, its errors, the kernel's missing
    /proc/sysrq-trigger aside (Ganeti's ENODESETUP, the same for every node
    on this kernel), and its wall time."""
    start = time.perf_counter()
    result = vc.run(vc.master, "gnt-cluster", "verify", "--error-codes",
                    "--ignore-errors=ENODESETUP", *(("-g", group[0]) if group else ()),
                    timeout=3600)
    wall = time.perf_counter() - start
    errors = [line for line in result.stdout.splitlines()
              if "ERROR" in line and "ENODESETUP" not in line]
    clean = result.returncode == 0 and not errors
    if not clean:
        note(f"verify of {vc.name}{' -g ' + group[0] if group else ''}: "
             + " / ".join(errors[:3] or result.stderr.splitlines()[-1:]))
    return clean, errors, wall


def verdict(clean: bool, errors: list[str], wall: float) -> str:
    return f"clean, {wall:.0f} s" if clean else f"{len(errors)} error(s), {wall:.0f} s"


def verify(vc: VirtualCluster) -> str:
    """The new cluster's verify, "clean" or how many errors, and its wall
    time.  Past what doctor says these cores carry
    (doctor.check_verify_fanout), also one group of that size at a time."""
    text = verdict(*verify_once(vc))
    nodes = vc.run(vc.master, "gnt-node", "list", "--no-headers", "-o", "name",
                   check=True).stdout.split()
    size = doctor.VERIFY_NODES_PER_CORE * doctor.Machine().cores()
    if len(nodes) <= size:
        return text
    return f"{text}; {verify_by_groups(vc, nodes, size)}"


def ssconf_settled(vc: VirtualCluster, nodes: list[str], timeout: float = 900.0) -> str:
    """Wait until every node's ssconf files say what the master's do: the
    regrouping's pushes (wconfd sends them after the jobs end) have
    reached everyone, so that verify checks a cluster at rest.  Read from
    the nodes' directories on this machine."""
    from vcluster_ns.ganeti import ssconf

    roots = {node: vc.paths.node_root(node) for node in {*nodes, vc.master}}
    start = time.monotonic()
    while True:
        behind = ssconf.behind(roots, vc.master)
        waited = time.monotonic() - start
        if not behind:
            return f"everywhere after {waited:.0f} s"
        if waited > timeout:
            return f"{len(behind)} nodes still behind after {waited:.0f} s"
        time.sleep(2)


def verify_by_groups(vc: VirtualCluster, nodes: list[str], size: int) -> str:
    """Nodes moved into groups of ``size`` (the first stay in ``default``),
    then ``gnt-cluster verify -g`` for each group, one after another."""
    groups = {"default": nodes[:size]}
    for start in range(size, len(nodes), size):
        name = f"verify{start // size + 1}"
        vc.run(vc.master, "gnt-group", "add", name, check=True)
        vc.run(vc.master, "gnt-group", "assign-nodes", "--force", name,
               *nodes[start:start + size], check=True, timeout=3600)
        groups[name] = nodes[start:start + size]
    settled = ssconf_settled(vc, nodes)
    results = [verify_once(vc, name) for name in groups]
    head = f"by {len(groups)} groups of {size} (ssconf {settled}): "
    if all(clean for clean, _, _ in results):
        return head + f"clean, {sum(wall for _, _, wall in results):.0f} s"
    return head + " / ".join(verdict(*result) for result in results)


def versions(root: Path, trees: list[tuple[str, str | None]], sizes: list[int],
             network: str) -> list[list]:
    """Table 8: the same bring-up on each Ganeti installation, back to back."""
    rows = []
    for n in sizes:
        for label, tree in trees:
            vc, figures = bring_up(root, f"v{n}{len(rows)}", n, network, ganeti_tree=tree)
            version = vc.spec().ganeti_version
            time.sleep(5)  # let the daemons settle before reading their memory
            rss = rss_by_kind(vc)
            note(f"{label} ({version}) {n} nodes: wall {figures['wall']:.1f} s, "
                 f"CPU {figures['cpu']:.1f} s, Ganeti RSS {rss['ganeti']:.0f} MB")
            rows.append([label, version, n, f"{figures['wall']:.1f}", f"{figures['cpu']:.1f}",
                         f"{figures.get('node adds', 0):.1f}", f"{rss['ganeti']:.0f}",
                         f"{rss['ganeti'] / n:.1f}"])
            vc.destroy()
    return rows


def qa_runs(root: Path, parallel: int, nodes: int, extra: list[str]) -> list[dict]:
    """Table 10: ``parallel`` whole QA runs (``vcluster-ns qa --keep-going``)
    started together; each run's wall time and its JUnit counts."""
    import xml.etree.ElementTree as ET

    runs = []
    for i in range(parallel):
        work = root / f"qa-p{parallel}-{i}"
        work.mkdir()
        argv = [sys.executable, "-m", "vcluster_ns.entry", "--root", str(root / "clusters"),
                "qa", "--nodes", str(nodes), "--keep-going", "--junit",
                str(work / "qa.xml"), *extra]
        log = open(work / "qa.out", "w")
        runs.append({"work": work, "log": log, "start": time.perf_counter(),
                     "proc": subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, cwd=str(work))})
    for number, run in enumerate(runs, 1):
        run["code"] = run["proc"].wait()
        if run["code"] != 0:  # marks the run for keep_failed_qa_logs
            (run["work"] / "failed").write_text(f"{run['code']}\n")
        run["wall"] = time.perf_counter() - run["start"]
        run["log"].close()
        keep_report(run["work"] / "qa.xml", run["work"].name)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "attempts": "?",
                  "off": 0, "ganeti": "?"}
        try:
            suite = ET.parse(run["work"] / "qa.xml").getroot().find("testsuite")
            for key in ("tests", "failures", "errors", "skipped"):
                counts[key] = int(suite.get(key, 0))
            props = {p.get("name"): p.get("value") for p in suite.find("properties")}
            counts["attempts"] = props.get("attempts", "?")
            counts["ganeti"] = f"{props.get('ganeti-version', '?')} " \
                f"({props.get('ganeti-tree', '?')})"  # which Ganeti this run measured
            counts["off"] = sum(1 for name in props if name.startswith("skip:"))
        except (OSError, ET.ParseError, AttributeError):
            pass  # no JUnit: the run failed before QA; its exit code says so
        run.update(counts)
        note(f"QA {parallel} side by side, run {number}: exit {run['code']}, "
             f"wall {run['wall'] / 60:.1f} min, {counts}")
    return runs


def qa_table(root: Path, parallels: list[int], nodes: int, extra: list[str]) -> None:
    rows, medians = [], {}
    for parallel in parallels:
        runs = qa_runs(root, parallel, nodes, extra)
        medians[parallel] = statistics.median(r["wall"] for r in runs)
        for i, r in enumerate(runs, 1):
            passed = r["tests"] - r["failures"] - r["errors"] - r["skipped"]
            rows.append([parallel, i, r["code"], f"{r['wall'] / 60:.1f}", r["attempts"],
                         passed, r["failures"], r["errors"], r["skipped"], r["off"]])
    table(f"10. Ganeti's QA, whole (`qa --keep-going {' '.join(extra)}`, {nodes} nodes), "
          "P runs side by side",
          ["P", "run", "exit", "wall (min)", "attempts", "passed", "failed", "errors",
           "skipped by QA", "keys off"], rows)
    base = medians[min(medians)] / min(medians)
    table("10b. QA throughput", ["P", "median wall (min)", "QA runs per hour",
                                 "vs P=1"],
          [[p, f"{m / 60:.1f}", f"{3600 * p / m:.2f}", f"{(p / m) / (1 / base):.2f}"]
           for p, m in sorted(medians.items())])


def loadavg() -> str:
    return load().replace(" ", "/")


def keep_failed_qa_logs(root: Path) -> None:
    """Copy what a failed QA run left (its output and log bundles, each
    shard's log and report, the kept clusters' logs) out of the temporary root before it goes, to
    ./vcb-kept-*: without them a failure cannot be explained afterwards."""
    failed = [path.parent for path in root.glob("qa-*/qa.out")
              if (path.parent / "failed").exists()]
    if not failed:
        return
    kept = Path(tempfile.mkdtemp(prefix="vcb-kept-", dir="."))
    for work in failed:
        shutil.copytree(work, kept / work.name, dirs_exist_ok=True)
    for logs in (root / "clusters").glob("*/logs"):
        shutil.copytree(logs, kept / "clusters" / logs.parent.name, dirs_exist_ok=True)
    for shards in (root / "clusters").glob("qa-shards-*"):  # each shard's log and report
        shutil.copytree(shards, kept / shards.name, dirs_exist_ok=True)
    note(f"kept the failed QA runs' logs in {kept.resolve()}")


def keep_report(junit: Path, label: str) -> None:
    """Every QA run's JUnit outlives the temporary root, as ./vcb-qa-LABEL.xml:
    its test list is what a count that differs between runs is read from."""
    if junit.exists():
        kept = Path(f"vcb-qa-{label}.xml")
        shutil.copyfile(junit, kept)
        note(f"kept {label}'s JUnit report as {kept.resolve()}")


def qa_once(root: Path, label: str, nodes: int, extra: list[str]) -> dict:
    """One ``vcluster-ns qa --keep-going`` (plus ``extra``): wall, exit, counts."""
    import xml.etree.ElementTree as ET

    work = root / label
    work.mkdir()
    argv = [sys.executable, "-m", "vcluster_ns.entry", "--root", str(root / "clusters"),
            "qa", "--nodes", str(nodes), "--keep-going", "--junit", str(work / "qa.xml"),
            *extra]
    run = {"load": loadavg(), "work": work}
    ticks, start = cpu_ticks(), time.perf_counter()
    with open(work / "qa.out", "w") as log:
        run["code"] = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(work)).returncode
    run["wall"], run["steal"] = time.perf_counter() - start, steal_since(ticks)
    if run["code"] != 0:  # marks the run for keep_failed_qa_logs
        (work / "failed").write_text(f"{run['code']}\n")
    keep_report(work / "qa.xml", label)
    run.update(passed=0, failures=0, errors=0, attempts="?")
    try:
        suite = ET.parse(work / "qa.xml").getroot().find("testsuite")
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        run["failures"], run["errors"] = int(suite.get("failures")), int(suite.get("errors"))
        run["passed"] = int(suite.get("tests")) - run["failures"] - run["errors"] - \
            int(suite.get("skipped"))
        run["attempts"] = props.get("attempts", "?")
        run["ganeti"] = props.get("ganeti-version", "?")
    except (OSError, ET.ParseError, AttributeError, TypeError):
        pass  # no JUnit: the run failed before QA; its exit code says so
    note(f"QA {label}: exit {run['code']}, wall {run['wall'] / 60:.1f} min, "
         f"passed {run['passed']}, failed {run['failures']}, errors {run['errors']}, "
         f"load at start {run['load']}, at end {loadavg()}, steal {run['steal']}")
    return run


def qa_plan(root: Path, count: int, nodes: int, extra: list[str]) -> list[tuple[int, float]]:
    """(shard, estimated seconds) of ``qa --list --shards count``."""
    argv = [sys.executable, "-m", "vcluster_ns.entry", "--root", str(root / "clusters"),
            "qa", "--nodes", str(nodes), "--list", "--shards", str(count), *extra]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return [(int(m[1]), float(m[2]) * 60) for m in
            re.finditer(r"^shard (\d+): estimated ([\d.]+) min", out, re.M)]


def qa_shards_table(root: Path, whole: list[int], alone: list[int], which: str, nodes: int,
                    extra: list[str]) -> None:
    rows, first = [], None
    for count in whole:
        run = qa_once(root, f"qa-shards-{count}", nodes, [*extra, "--shards", str(count)])
        first = first or run
        rows.append([count, run["load"], run["steal"], run["code"], f"{run['wall'] / 60:.1f}",
                     run["attempts"], run["passed"], run["failures"], run["errors"]])
    if rows:
        table(f"10c. Ganeti's QA, whole, in N shards side by side (`qa --keep-going "
              f"--shards N {' '.join(extra)}`, {nodes} nodes each, {os.cpu_count()} cores)",
              ["N", "load at start", "steal", "exit", "wall (min)", "attempts", "passed",
               "failed", "errors"], rows)
    rows = []
    for count in alone:
        plan = qa_plan(root, count, nodes, extra)
        if which == "longest":
            plan = [max(plan, key=lambda p: (p[1], -p[0]))]
        for shard, estimate in plan:
            run = qa_once(root, f"qa-{count}-shard-{shard}", nodes,
                          [*extra, "--shards", str(count), "--shard", str(shard)])
            first = first or run
            rows.append([count, shard, run["load"], run["steal"], f"{estimate / 60:.1f}",
                         run["code"],
                         f"{run['wall'] / 60:.1f}", run["passed"], run["failures"],
                         run["errors"]])
    if rows:
        table(f"10d. one shard of N, run alone (`qa --keep-going --shards N --shard K "
              f"{' '.join(extra)}`, {nodes} nodes)",
              ["N", "shard", "load at start", "steal", "estimate (min)", "exit",
               "wall (min)", "passed", "failed", "errors"], rows)
    if first is not None:
        from vcluster_ns.ganeti.qa import timings
        try:
            measured = timings.load(first["work"] / "qa.xml")
        except (OSError, ValueError):
            return
        table(f"10e. QA's time per config key ({first['work'].name}; setup "
              f"{measured.setup:.0f}s per run)", ["QA config key", "seconds"],
              [[k, f"{v:.1f}"] for k, v in sorted(measured.keys.items(),
                                                   key=lambda kv: (-kv[1], kv[0]))])


def parse_trees(text: str) -> list[tuple[str, str | None]]:
    """'debian=,mine=/home/me/gnt' -> [('debian', None), ('mine', '/home/me/gnt')]"""
    trees = []
    for item in text.split(","):
        label, _, path = item.partition("=")
        trees.append((label, os.path.abspath(path) if path else None))
    return trees


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="3,10", help="node counts, comma-separated")
    parser.add_argument("--baseline-sizes", default=None,
                        help="node counts for the baseline (default: the same)")
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20, help="samples of short timings")
    parser.add_argument("--network", default="198.18.0.0/16")
    parser.add_argument("--modes", default="isolated",
                        help="network modes for tables 1 and 3 (isolated,shared)")
    parser.add_argument("--shared-sizes", default=None,
                        help="node counts for the shared-mode rows (default: --sizes)")
    parser.add_argument("--isolation-size", type=int, default=100,
                        help="node count for table 7 (0: skip)")
    parser.add_argument("--seed", type=int, default=0, metavar="M",
                        help="measure only table 9: up with M seeded instances")
    parser.add_argument("--seed-nodes", type=int, default=10)
    parser.add_argument("--ganeti-trees", default=None, metavar="LABEL=PATH,...",
                        help="only table 8: bring-up and idle memory at --sizes on each "
                             "Ganeti installation (an empty PATH: the system's)")
    parser.add_argument("--growth", default=None, metavar="WAY=N,N;WAY=N,...",
                        help="only table 11 (and 11b, the fit): up of each join way at its "
                             "sizes, e.g. 'linear=10,30,100,300;sequential=10,30', on each "
                             "--ganeti-trees installation (default: the system's)")
    parser.add_argument("--growth-json", default=None, metavar="FILE",
                        help="with --growth: also write the figures as JSON (bench/plot.py "
                             "draws them)")
    parser.add_argument("--qa", default=None, metavar="P,...",
                        help="only table 10: Ganeti's whole QA, P runs side by side "
                             "for each P (e.g. 1,2)")
    parser.add_argument("--qa-shards", default="", metavar="N,...",
                        help="only tables 10c-e: the whole QA as 'qa --shards N' for each N")
    parser.add_argument("--qa-alone", default="", metavar="N,...",
                        help="only tables 10d-e: each shard of N run alone, for each N")
    parser.add_argument("--qa-alone-which", choices=("all", "longest"), default="all")
    parser.add_argument("--qa-nodes", type=int, default=3)
    parser.add_argument("--qa-args", default="",
                        help="more options for 'vcluster-ns qa', as one word: --qa-args=--rapi")
    args = parser.parse_args()
    if os.geteuid() == 0:
        print("bench: run as an unprivileged user (the product is rootless)", file=sys.stderr)
    if args.qa or args.qa_shards or args.qa_alone:
        root = Path(tempfile.mkdtemp(prefix="vcb-"))
        print(f"# vcluster-ns benchmark, {time.strftime('%Y-%m-%d %H:%M')}, "
              f"{os.cpu_count()} cores, {os.uname().release}, load {loadavg()}")
        try:
            if args.qa:
                qa_table(root, [int(p) for p in args.qa.split(",")], args.qa_nodes,
                         args.qa_args.split())
            if args.qa_shards or args.qa_alone:
                qa_shards_table(root, [int(n) for n in args.qa_shards.split(",") if n],
                                [int(n) for n in args.qa_alone.split(",") if n],
                                args.qa_alone_which, args.qa_nodes, args.qa_args.split())
        finally:
            keep_failed_qa_logs(root)
            # A failed QA run keeps its clusters (down); remove them with the root.
            for cluster in sorted(p for p in (root / "clusters").glob("qa-*") if p.is_dir()):
                subprocess.run([sys.executable, "-m", "vcluster_ns.entry", "--root",
                                str(root / "clusters"), "--cluster", cluster.name,
                                "destroy", "--yes"], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)
        return 0
    if args.growth:
        root = Path(tempfile.mkdtemp(prefix="vcb-"))
        print(f"# vcluster-ns benchmark, {time.strftime('%Y-%m-%d %H:%M')}, "
              f"{os.cpu_count()} cores, {os.uname().release}, load {load()}")
        sizes = {}
        for item in args.growth.split(";"):
            way, _, numbers = item.partition("=")
            sizes[way] = [int(n) for n in numbers.split(",") if n]
        trees = parse_trees(args.ganeti_trees) if args.ganeti_trees else [("debian", None)]
        try:
            rows = growth_run(root, list(sizes), sizes, trees, args.network)
        finally:
            for path in root.iterdir():
                vc = VirtualCluster(path.name, root)
                if vc.exists():
                    vc.destroy()
            shutil.rmtree(root, ignore_errors=True)
            if args.growth_json:
                Path(args.growth_json).write_text(json.dumps(growth_figures, indent=1) + "\n")
        table("11. up by join way: wall and CPU seconds, idle PSS; load averages "
              "(1/5/15 min) of the shared machine before and after, and the CPU "
              "the hypervisor gave others (steal) during up",
              ["installation", "version", "join", "nodes", "wall (s)", "CPU (s)",
               "node adds (s)", "PSS total (MB)", "PSS per node (MB)",
               "Ganeti PSS per node (MB)", "empty job (s)", "verify", "load before",
               "load after", "steal during up"], rows)
        for measure, what in (("wall", "wall"), ("cpu", "CPU seconds")):
            fits = []
            for (label, _), way in [(t, w) for t in trees for w in sizes]:
                points = {g["nodes"]: g[measure] for g in growth_figures
                          if g["installation"] == label and g["way"] == way}
                fits += growth_rows(f"{label} {way}", points)
            if fits:
                table(f"11{'b' if measure == 'wall' else 'c'}. {what} = F + a*N + b*N^2 "
                      "(least squares) per way; the N-th node's add costs about a + 2bN",
                      ["way", "F (s)", "a (s/node)", "b (s/node^2)", "add at 10",
                       "add at 30", "add at 100"], fits)
        return 0
    if args.seed:
        root = Path(tempfile.mkdtemp(prefix="vcb-"))
        print(f"# vcluster-ns benchmark, {time.strftime('%Y-%m-%d %H:%M')}, "
              f"{os.cpu_count()} cores, {os.uname().release}")
        try:
            row = seed_run(root, args.seed_nodes, args.seed, args.network)
            table(f"9. up with {args.seed} seeded diskless instances (cluster file "
                  "[instances], one bulk submission, 10 opcodes per job, started)",
                  ["nodes", "instances", "running", "up wall (s)", "seeding (s)",
                   "instances/s"], [row])
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    base_text = args.sizes if args.baseline_sizes is None else args.baseline_sizes
    base_sizes = [int(s) for s in base_text.split(",") if s]
    root = Path(tempfile.mkdtemp(prefix="vcb-"))
    print(f"# vcluster-ns benchmark, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} cores, {os.uname().release}")
    try:
        if args.ganeti_trees:
            table("8. Ganeti versions: up (isolated) and idle memory of Ganeti's daemons",
                  ["installation", "version", "nodes", "wall (s)", "CPU (s)", "node adds (s)",
                   "Ganeti RSS (MB)", "per node (MB)"],
                  versions(root, parse_trees(args.ganeti_trees), sizes, args.network))
            return 0
        modes = args.modes.split(",")
        shared_sizes = [int(x) for x in (args.shared_sizes or args.sizes).split(",")]
        runs = [(m, n) for m in modes for n in (sizes if m == "isolated" else shared_sizes)]
        results, clusters = {}, {}
        for mode, n in runs:
            vc, figures = bring_up(root, f"b{n}{mode[0]}", n, args.network, mode)
            results[mode, n] = figures
            note(f"up {mode} {n} nodes: wall {figures['wall']:.1f} s, CPU {figures['cpu']:.1f} s, "
                 + ", ".join(f"{k} {v:.1f}" for k, v in vc.timings.items()))
            time.sleep(5)  # let the daemons settle before reading their memory
            figures["rss"] = rss_by_kind(vc)
            if (mode, n) != (modes[0], max(sizes)):
                vc.destroy()
            else:
                clusters[n] = vc
        base = {}
        for n in base_sizes:
            base[n] = baseline(root, f"base{n}", n, args.network)
            note(f"baseline {n} nodes: wall {base[n]:.1f} s")
        phases = ["namespaces+daemons", "gnt-cluster init", "node adds", "new nodes' daemons"]
        rows = []
        for mode, n in runs:
            f = results[mode, n]
            ratio = f"{f['wall'] / base[n]:.2f}" if n in base else "-"
            rows.append([mode, n, f"{f['wall']:.1f}", f"{f['cpu']:.1f}",
                         *(f"{f.get(p, 0):.1f}" for p in phases),
                         f"{base[n]:.1f}" if n in base else "-", ratio])
        table("1-2. up: wall and CPU seconds, phases; baseline = vcluster-setup's way "
              "(isolated mode)",
              ["mode", "nodes", "wall", "CPU", *phases, "baseline wall", "ours/baseline"], rows)
        growth = growth_rows("ours", {n: results["isolated", n]["wall"] for m, n in runs
                                      if m == "isolated"}) + growth_rows("baseline", base)
        if growth:
            table("1c. how up grows with N nodes: wall = F + a*N + b*N^2 (least squares); "
                  "the N-th node's add costs about a + 2bN seconds",
                  ["way", "F (s)", "a (s/node)", "b (s/node^2)", "add at 10", "add at 30",
                   "add at 100"], growth)
        largest_run = (modes[0], max(sizes))
        profile = results[largest_run]["profile"]
        total_cpu = sum(profile.values())
        table(f"1b. where the CPU of `up` went, {largest_run[1]} nodes ({largest_run[0]}): "
              "seconds, each process with the children it reaped",
              ["process", "CPU s", "share"],
              [[k, f"{v:.1f}", f"{100 * v / total_cpu:.0f}%"]
               for k, v in sorted(profile.items(), key=lambda kv: -kv[1]) if v >= 0.05])
        rows = []
        for mode, n in runs:
            rss = results[mode, n]["rss"]
            total = rss["ganeti"] + rss["ours"]
            rows.append([mode, n, f"{total:.0f}", f"{total / n:.1f}", f"{rss['ganeti']:.0f}",
                         f"{rss['ours']:.0f}", f"{rss['ours'] / n:.1f}"])
        table("3. idle memory (RSS, MB)", ["mode", "nodes", "total", "per node",
                                           "Ganeti daemons", "ours", "ours per node"], rows)
        iso = [n for m, n in runs if m == "isolated"]
        if len(iso) >= 2:
            fits = [(kind, polyfit(iso, [results["isolated", n]["rss"][kind] for n in iso], 1))
                    for kind in ("ganeti", "ours")]
            table("3b. memory = fixed + per node * N (least squares, isolated)",
                  ["processes", "fixed (MB)", "per node (MB)"],
                  [[kind, f"{c0:.1f}", f"{c1:.2f}"] for kind, (c0, c1) in fits])
        largest = clusters[max(sizes)]
        table(f"4. command latency (ms, {args.repeat} runs)", ["what", "median", "p95"],
              run_latency(largest, args.repeat))
        if args.instances:
            rate, list_time, made = add_instances(largest, args.instances)
            note(f"{made} instances at {rate:.2f}/s; gnt-instance list {list_time:.2f} s")
            table(f"5. {args.instances} diskless instances on {max(sizes)} nodes "
                  "(one bulk submission, 10 opcodes per job, primary nodes round-robin)",
                  ["instances made", "instances/s", "gnt-instance list (s)"],
                  [[made, f"{rate:.2f}", f"{list_time:.2f}"]])
        start = time.perf_counter()
        largest.down()
        down = time.perf_counter() - start
        start = time.perf_counter()
        largest.up()
        again = time.perf_counter() - start
        table(f"6. restart of the {max(sizes)}-node cluster", ["down (s)", "up again (s)"],
              [[f"{down:.1f}", f"{again:.1f}"]])
        table(f"6b. snapshot of the {max(sizes)}-node cluster, restored as a new cluster",
              ["snapshot (s)", "restore + up (s)", "fresh up (s)"],
              [snapshot_round_trip(largest, results[modes[0], max(sizes)]["wall"])])
        largest.destroy()
        if args.isolation_size:
            table(f"7. cost of a network namespace per node (up --no-init, "
                  f"{args.isolation_size} nodes)",
                  ["mode", "nodes", "wall (s)", "MemAvailable drop (MB)", "slab growth (MB)",
                   "our RSS (MB)"],
                  isolation_cost(root, args.isolation_size, args.network))
    finally:
        for path in root.iterdir():
            if path.name.startswith("."):  # .snapshots
                continue
            vc = VirtualCluster(path.name, root)
            if vc.exists():
                vc.destroy()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
