#!/usr/bin/env python3
"""Slices, measured (docs/slices.md; figures in docs/performance.md, "Slices").

Run as the first of two users that reach each other through ssh on
localhost, as the slices tests do: as root, ``scripts/slice-peers
vcluster-test vcluster-test2 DIR`` prints the two variables this reads;
then, as vcluster-test, from a checkout both users can read::

    VCLUSTER_NS_TEST_PEER=... VCLUSTER_NS_TEST_PEER_JOIN=... \\
        .venv/bin/python bench/slices.py --nodes 30

In one run:

1. ``up`` of 2 x N nodes (this user's slice 1-N, then the peer's N+1..2N
   joining it) against ``up`` of 2N nodes on one machine;
2. Ganeti RPC latency from node1 (``call_version``, Ganeti's own RPC client:
   TLS, pycurl, noded) to a node of its slice and to one across the link;
3. TCP throughput (socat, 200 MB) from node1 to a node of its slice and to
   one across the link: what the link (vde_plug over ssh) carries.

Medians from one run; the load average is printed with the tables.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vcluster_ns.ganeti import install  # noqa: E402
from vcluster_ns.spec import parse_join  # noqa: E402

RPC_SNIPPET = """
import sys, time
from ganeti.rpc import node as rpc
rpc.Init()
runner = rpc.BootstrapRunner()
for name in sys.argv[1:]:
    runner.call_version([name])
    samples = []
    for _ in range(int(REPEAT)):
        started = time.perf_counter()
        result = runner.call_version([name])[name]
        samples.append((time.perf_counter() - started) * 1000)
        assert not result.fail_msg, result.fail_msg
    samples.sort()
    print(name, samples[len(samples) // 2], samples[int(len(samples) * 0.9)])
"""
BYTES = 200_000_000


def vcluster(root: str, name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "vcluster_ns.entry", "--root", root, "--cluster", name, *args]


def over_ssh(target: str, argv: list[str]) -> list[str]:
    user, host, port = parse_join(target)
    return ["ssh", "-o", "BatchMode=yes", "-p", str(port), "-l", user, host, shlex.join(argv)]


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{result.stdout}{result.stderr}")
    return result


def timed(argv: list[str]) -> float:
    started = time.monotonic()
    run(argv)
    return time.monotonic() - started


def table(title: str, headers: list[str], rows: list[list]) -> None:
    print(f"\n{title}  (load average {os.getloadavg()[0]:.1f})")
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def rpc_latency(a: list[str], near: str, far: str, repeat: int) -> dict[str, tuple]:
    python = str(install.resolve(None).share_dir)
    code = RPC_SNIPPET.replace("REPEAT", str(repeat))
    out = run(a + ["run", "node1", "env", f"PYTHONPATH={python}", "python3", "-c", code,
                   near, far]).stdout
    return {w[0]: (float(w[1]), float(w[2])) for w in map(str.split, out.splitlines())}


def throughput(a: list[str], listener, node: str, address: str) -> float:
    """``listener(*words)``: the vcluster-ns command line of the receiving side."""
    # fork: the readiness probe's connection must not use up the listener.
    server = subprocess.Popen(listener("run", node, "timeout", "120", "socat", "-u",
                                       "TCP-LISTEN:5001,reuseaddr,fork", "OPEN:/dev/null"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        script = (f"set -o pipefail; for i in $(seq 100); do (exec 3<>/dev/tcp/{address}/5001)"
                  " 2>/dev/null && break; sleep 0.2; done; s=$(date +%s%N); "
                  f"head -c {BYTES} /dev/zero | socat -u - TCP:{address}:5001 || exit 1; "
                  "e=$(date +%s%N); echo $(( (e-s)/1000 ))")
        micros = int(run(a + ["run", "node1", "bash", "-c", script]).stdout.split()[-1])
    finally:
        server.terminate()
        server.wait(timeout=130)
    return BYTES * 8 / micros  # Mbit/s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=30, help="nodes per slice")
    parser.add_argument("--repeat", type=int, default=30, help="RPC samples")
    parser.add_argument("--skip-single", action="store_true",
                        help="leave out the one-machine up of 2N nodes")
    args = parser.parse_args()
    peer, join = os.environ.get("VCLUSTER_NS_TEST_PEER"), os.environ.get(
        "VCLUSTER_NS_TEST_PEER_JOIN")
    if not (peer and join):
        raise SystemExit("set VCLUSTER_NS_TEST_PEER and VCLUSTER_NS_TEST_PEER_JOIN "
                         "(scripts/slice-peers prints them)")
    n = args.nodes
    common = ["--nodes", str(2 * n), "--network", "198.18.0.0/16", "--instances", "4",
              "--watcher-interval", "0"]
    root_a = tempfile.mkdtemp(prefix="bench-slice-a.")
    root_b = run(over_ssh(peer, ["mktemp", "-d", "/tmp/bench-slice-b.XXXXXX"])).stdout.strip()
    a = vcluster(root_a, "sl")

    def b(*words: str) -> list[str]:  # the peer's vcluster-ns, one quoted ssh command
        return over_ssh(peer, vcluster(root_b, "sl", *words))
    rows = []
    try:
        up_a = timed(a + ["up", *common, "--slice", f"1-{n}"])
        up_b = timed(b("up", *common, "--slice", f"{n + 1}-{2 * n}", "--join", join,
                       "--join-command", shlex.join(vcluster(root_a, "sl")[:-2])))
        rows.append([f"2 x {n} (slices, two users)", f"{up_a:.1f}", f"{up_b:.1f}",
                     f"{up_a + up_b:.1f}"])
        print(f"up: master's slice {up_a:.1f}s, joining slice {up_b:.1f}s", flush=True)
        far = f"node{n + 1}"
        latency = rpc_latency(a, "node2", far, args.repeat)
        table(f"RPC latency from node1 (Ganeti call_version, {args.repeat} calls)",
              ["to", "where", "median ms", "p90 ms"],
              [["node2", "same slice", f"{latency['node2'][0]:.1f}", f"{latency['node2'][1]:.1f}"],
               [far, "across the link", f"{latency[far][0]:.1f}", f"{latency[far][1]:.1f}"]])
        near_ip = "198.18.0.11"
        far_ip = f"198.18.0.{10 + n}" if 10 + n < 256 else None
        within = throughput(a, lambda *w: a + list(w), "node2", near_ip)
        across = throughput(a, b, far, far_ip) if far_ip else float("nan")
        table(f"TCP throughput from node1, {BYTES // 1_000_000} MB (socat)",
              ["to", "where", "Mbit/s"],
              [["node2", "same slice (switch)", f"{within:.0f}"],
               [far, "across the link (vde_plug + ssh)", f"{across:.0f}"]])
    finally:
        subprocess.run(b("down"), capture_output=True)
        subprocess.run(a + ["down"], capture_output=True)
        subprocess.run(over_ssh(peer, ["rm", "-rf", root_b]), capture_output=True)
    if not args.skip_single:
        single = vcluster(root_a, "one")
        try:
            wall = timed(single + ["up", *common])
            rows.append([f"{2 * n} (one machine)", "-", "-", f"{wall:.1f}"])
        finally:
            subprocess.run(single + ["down"], capture_output=True)
    table(f"up of 2 x {n} nodes against {2 * n} on one machine (seconds)",
          ["cluster", "master's slice", "joining slice", "total"], rows)
    subprocess.run(["rm", "-rf", root_a])
    return 0


if __name__ == "__main__":
    sys.exit(main())
