"""Slices: one Ganeti cluster run by several machines (docs/slices.md).

Each machine runs a *slice* of node1..nodeN (``up --slice 4-6``).  The
slice holding node1 is the master's slice: it runs ``gnt-cluster init``
and is the hub of the link.  Every other slice joins it
(``--join [user@]host[:port]``): its nodes are added by ``gnt-node add``
on the master, like any node.

What crosses between machines is one L2 link: ``ssh`` to the master's
machine running ``vcluster-ns link-plug`` there.  This module is the host
side of that, used by ``up`` and by the launcher:

* ``ssh_argv``: the ssh command line reaching the master's slice;
* ``hello``: asks the master's slice what it is (nodes, network, Ganeti
  version, other slices) before anything is created, and ``check_peer``
  refuses what cannot join it;
* ``hand_over``: a transport's stream given to the supervisor inside, which
  plugs it into the switch (linkserve.py); the joining side's transport is
  run by the link keeper (linkkeeper.py).

Pure but for ssh; no trio here (the launcher imports it).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

from .errors import ClusterNotUp, InvalidInput, OperationFailed
from .spec import ClusterSpec, parse_join, parse_slice

DEFAULT_JOIN_COMMAND = "vcluster-ns"
# ssh options of every transport: fail instead of asking, notice a dead peer.
SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
HELLO_TIMEOUT = 30.0


def peer_label(first: int, last: int) -> str:
    return f"{first}-{last}"


def veth_name(first: int) -> str:
    """The link's veth end in the cluster's root namespace, named after
    the slice on the far side of it (15 bytes at most)."""
    return f"vl{first}"


def remote_words(spec: ClusterSpec) -> list[str]:
    """The vcluster-ns command on the master's machine: ``--join-command``,
    with this cluster's name unless it names one itself."""
    words = shlex.split(spec.join_command or DEFAULT_JOIN_COMMAND)
    if any(w in ("--cluster", "-c") or w.startswith("--cluster=") for w in words):
        return words
    return [*words, "--cluster", spec.name]


def ssh_argv(spec: ClusterSpec, *subcommand: str) -> list[str]:
    """ssh to the master's machine running ``vcluster-ns SUBCOMMAND`` there."""
    user, host, port = parse_join(spec.join)
    argv = ["ssh", *SSH_OPTIONS]
    if port:
        argv += ["-p", str(port)]
    if user:
        argv += ["-l", user]
    remote = shlex.join([*remote_words(spec), *subcommand])
    return [*argv, host, remote]


# -- what the master's slice answers (link-hello) ---------------------------

def hello_answer(spec: ClusterSpec, up: bool, registry: dict, token: str,
                 installed_version: str | None) -> dict:
    """``vcluster-ns link-hello`` on the master's machine: what a joining
    slice must agree with."""
    return {"ok": True, "up": up, "cluster": spec.name, "nodes": spec.nodes,
            "network": spec.network, "domain": spec.domain,
            "network_mode": spec.network_mode,
            "secondary_network": spec.secondary_network,
            "slice": spec.slice or peer_label(1, spec.nodes), "instances": spec.instances,
            "slices": sorted(registry), "token": token,
            "ganeti_version": spec.ganeti_version or installed_version}


def hello(spec: ClusterSpec) -> dict:
    """Ask the master's slice (through ssh) what it is; one-line errors."""
    argv = ssh_argv(spec, "link-hello")
    try:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=HELLO_TIMEOUT)
    except FileNotFoundError:
        raise OperationFailed("ssh is not installed",
                              "install openssh-client (apt-get install openssh-client)") from None
    except subprocess.TimeoutExpired:
        raise OperationFailed(f"--join {spec.join} did not answer within "
                              f"{HELLO_TIMEOUT:.0f}s", "check the address, port and "
                              "that 'ssh' reaches it without a password") from None
    lines = result.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        err = (result.stderr.strip().splitlines() or [f"status {result.returncode}"])[-1]
        if result.returncode == 255:
            raise OperationFailed(f"cannot reach --join {spec.join}: {err}",
                                  "check the address and port, and that "
                                  f"'{shlex.join(argv[:-1])} true' works without a password")
        raise OperationFailed(f"--join {spec.join}: '{' '.join(remote_words(spec))} "
                              f"link-hello' failed: {err}",
                              "is vcluster-ns installed there? give its path with "
                              "--join-command")
    if not answer.get("ok"):
        raise ClusterNotUp(f"--join {spec.join}: {answer.get('error')}",
                           answer.get("hint") or "start the master's slice first")
    return answer


def check_peer(spec: ClusterSpec, answer: dict, version: str | None,
               extra_versions: list[str]) -> None:
    """Refuse a slice that cannot join the master's slice ``answer`` describes."""
    if not answer.get("up"):
        raise ClusterNotUp(f"cluster {answer.get('cluster')!r} at {spec.join} is not up",
                           "start the master's slice first")
    for key, option in (("nodes", "--nodes"), ("network", "--network"),
                        ("domain", "--domain"), ("network_mode", "--network-mode"),
                        ("secondary_network", "--secondary-network"),
                        ("instances", "--instances")):
        if answer.get(key) != getattr(spec, key):
            raise InvalidInput(
                f"this slice has {option} {getattr(spec, key)}, the master's slice at "
                f"{spec.join} has {answer.get(key)}",
                f"give the same {option} on every slice")
    first, last = spec.slice_range
    for other in [answer["slice"], *answer.get("slices", [])]:
        if other == spec.slice:
            continue  # this slice again (a restart)
        o_first, o_last = parse_slice(other, spec.nodes)
        if first <= o_last and o_first <= last:
            raise InvalidInput(f"slice {spec.slice} overlaps slice {other} of the cluster "
                               f"at {spec.join}", "give each machine its own node range")
    theirs = answer.get("ganeti_version")
    if theirs and version and theirs != version and theirs not in extra_versions:
        raise InvalidInput(f"this slice runs Ganeti {version}, the master's slice {theirs}",
                           f"install {theirs} here too with --ganeti-extra, or run the "
                           "same Ganeti on both machines")


# -- registry of joined slices, on the master's machine ---------------------

def read_registry(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def register(path: Path, label: str, who: str) -> None:
    data = read_registry(path)
    data[label] = {"by": who, "at": round(time.time())}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


# -- handing a stream to the supervisor inside (both sides) ----------------

def hand_over(link_socket: Path, peer: str, fd_in: int, fd_out: int,
              wait: float = 0.0) -> socket.socket:
    """Connect to the supervisor's link socket and give it the stream
    (``fd_in`` to read frames from, ``fd_out`` to write them to) for the
    link to ``peer``; the supervisor closes the returned socket when the
    plug ends.  ``wait``: seconds to wait for the socket to appear."""
    deadline = time.monotonic() + wait
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while True:
        try:
            conn.connect(str(link_socket))
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() >= deadline:
                conn.close()
                raise
            time.sleep(0.5)
    message = json.dumps({"peer": peer}).encode() + b"\n"
    socket.send_fds(conn, [message], [fd_in, fd_out])
    return conn


def write_state(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state) + "\n")
    os.replace(tmp, path)


def read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def partition_peers(spec: ClusterSpec, nodes: list[str], registry: dict) -> list[str] | None:
    """The links ``net partition NODES`` cuts: None when every node named
    is local (an ordinary partition, faults.py).  A joining slice has one
    link: naming all of its own nodes, or all the others, cuts it.  The
    master's slice cuts the links of the joined slices that hold the nodes."""
    local = [n for n in nodes if spec.is_local(n)]
    if len(local) == len(nodes):
        if spec.joins and set(local) == set(spec.node_names):
            return ["1"]
        return None
    whole = "name every node of the slices to cut off, and no node of this one"
    if local:
        raise InvalidInput("a partition across machines cuts whole slices", whole)
    indexes = {spec.node_index(n) for n in nodes}
    if spec.joins:
        others = {spec.node_index(n) for n in spec.all_node_names if not spec.is_local(n)}
        if indexes != others:
            raise InvalidInput("this slice has one link, to every other node", whole)
        return ["1"]
    peers, covered = [], set()
    for label in registry:
        first, last = parse_slice(label, spec.nodes)
        span = set(range(first, last + 1))
        if span & indexes:
            peers.append(label)
            covered |= span
    if covered != indexes:
        raise InvalidInput("the nodes named are not whole joined slices "
                           f"(joined: {', '.join(sorted(registry)) or 'none'})", whole)
    return peers


LINK_TIMEOUT = 180.0


def wait_link(spec: ClusterSpec, paths, run, progress, command) -> None:
    """Until a command reaches the master's slice over the link (``run``:
    NodeCommands.run); the keeper's state says what is wrong meanwhile."""
    progress(f"waiting for the link to {spec.join}")
    deadline = time.monotonic() + LINK_TIMEOUT
    while True:
        state = read_state(paths.link_state) or {}
        if state.get("state") == "up" and run(spec.master_node, "true",
                                              timeout=30).returncode == 0:
            return
        if time.monotonic() > deadline:
            raise OperationFailed(
                f"the link to {spec.join} did not come up within {LINK_TIMEOUT:.0f}s "
                f"({state.get('last_error') or state.get('state') or 'no transport yet'})",
                f"see {paths.link_log} and '{command('status')}'")
        time.sleep(1)


def describe_links(info: dict) -> list[str]:
    """``status`` lines of a sliced cluster (``info``: status's dict)."""
    sliced = info.get("slice")
    if not isinstance(sliced, dict):
        return []
    since = lambda t: f"{max(0, time.time() - t):.0f}s" if t else "-"  # noqa: E731
    role = f"joins {sliced['join']}" if sliced.get("join") else "the master's slice"
    lines = [f"slice {sliced['slice']} of this machine ({role})"]
    keeper = info.get("link_keeper")
    if sliced.get("join"):
        if keeper is None:
            lines.append("  link: no transport yet")
        else:
            error = f"; {keeper['last_error']}" if keeper.get("last_error") else ""
            lines.append(f"  transport: {keeper['state']} for {since(keeper.get('since'))}, "
                         f"{keeper.get('restarts', 0)} restarts{error}")
    links = sliced.get("links") or []
    if not links:
        lines.append("  link: none plugged (the other slices' nodes are unreachable)")
    for link in links:
        name = "master's slice" if link["peer"] == "1" else f"slice {link['peer']}"
        error = f" ({link['last_error']})" if link["state"] != "up" and link.get(
            "last_error") else ""
        lines.append(f"  link to {name}: {link['state']} for {since(link.get('since'))}, "
                     f"plugged {link['plugs']} times{error}")
    listed = sliced.get("ganeti_nodes")
    if listed:
        lines.append(f"  Ganeti lists {len(listed['all'])} nodes; offline: "
                     f"{', '.join(listed['offline']) or 'none'}")
    return lines


def net_request(spec: ClusterSpec, names: list[str], action: str, value: str | None,
                registry_file: Path) -> dict:
    """The supervisor's ``net`` request: on a sliced cluster a partition of
    whole slices cuts links; other faults act on this machine's nodes only."""
    from .faults import request
    if spec.sliced and action == "partition":
        peers = partition_peers(spec, names, read_registry(registry_file))
        if peers is not None:
            return {"op": "net", "action": action, "peers": peers}
    for name in names:
        if not spec.is_local(name):
            raise InvalidInput(f"{name} runs on another machine (slice {spec.slice} is "
                               "this one)", "run this command there, or partition "
                               "whole slices")
    return request(action, names, value)


def remote_target(paths, spec: ClusterSpec, pid1: int, node: str):
    """Where a command for ``node`` of another machine runs: through ssh
    from this slice's first node, over the link, as Ganeti reaches it
    (rexec.py)."""
    import dataclasses
    from . import enter
    gateway = spec.node_names[0]
    where = enter.target(pid1, gateway, paths.node_anchor_file(gateway), spec.isolated)
    return dataclasses.replace(where, via=("ssh", "-q", node))
