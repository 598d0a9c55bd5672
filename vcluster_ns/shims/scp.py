"""``scp`` inside a cluster: copy between virtual nodes' views of the disk.

Nodes share one filesystem except each node's private mount namespace, so a
copy is a ``cp`` run inside the *receiving* side's namespace, reading the
sending side through ``/proc/<pid>/root`` of a process in its namespace.
Copying a file onto itself succeeds (Ganeti distributes files to every node,
the local one included).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from .common import Cluster, error
from .ssh import split_destination

FLAGS = set("346ABCOpqRrTv")
WITH_ARGUMENT = set("cDFiJloPSX")


def parse(argv: list[str]) -> tuple[set, list[str]]:
    flags, operands = set(), []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            operands += argv[i + 1:]
            break
        if arg.startswith("-") and len(arg) > 1 and not operands:
            j = 1
            while j < len(arg):
                letter = arg[j]
                if letter in WITH_ARGUMENT:
                    if not arg[j + 1:]:
                        i += 1
                    break
                if letter not in FLAGS:
                    raise ValueError(f"unknown option -- {letter}")
                flags.add(letter)
                j += 1
        else:
            operands.append(arg)
        i += 1
    return flags, operands


def split_operand(operand: str) -> tuple[str | None, str]:
    """(host or None, path); a colon before any slash marks a remote path."""
    head, sep, rest = operand.partition(":")
    if sep and "/" not in head and head:
        path = rest or "."
        if not path.startswith("/"):
            path = "/root/" + path  # relative to the remote home, as with ssh
        return split_destination(head), path
    return None, operand


def main(argv: list[str], cluster_dir: str) -> int:
    try:
        flags, operands = parse(argv[1:])
    except ValueError as exc:
        return error("scp", str(exc), 1)
    if len(operands) < 2:
        return error("scp", "usage: scp [options] source ... target", 1)
    cluster = Cluster(cluster_dir)
    resolved = []
    for operand in operands:
        host, path = split_operand(operand)
        node = None
        if host is not None:
            node = cluster.node_for_host(host, os.environ.get("GANETI_HOSTNAME"))
            if node is None:
                return error("scp", f"ssh: Could not resolve hostname {host}: "
                             "Name or service not known", 255)
        resolved.append((node, path))
    cp = ["cp"] + (["--preserve=mode,timestamps"] if "p" in flags else []) \
        + (["-r"] if "r" in flags else [])
    *sources, (target_node, target) = resolved
    here = f"/proc/{os.getpid()}/root"
    status = 0
    for source_node, source in sources:
        remote = [n for n in (source_node, target_node) if n and not cluster.spec.is_local(n)]
        if remote:
            status = status or _copy_to_slice(cluster, source_node, source, target_node,
                                              target, flags)
            continue
        if source_node is None and target_node is None:
            command, node = cp + [source, target], None
        elif source_node is None:
            command, node = cp + [here + _abs(source), target], target_node
        elif target_node is None:
            command, node = cp + [source, here + _abs(target)], source_node
        else:  # node to node: through a local temporary copy
            with tempfile.TemporaryDirectory() as tmp:
                local = os.path.join(tmp, os.path.basename(source))
                code = _copy(cluster, source_node, cp + [source, here + local])
                if code == 0:
                    code = _copy(cluster, target_node, cp + [here + local, target])
            status = status or code
            continue
        status = status or _copy(cluster, node, command)
    return status


def _copy_to_slice(cluster: Cluster, source_node: str | None, source: str,
                   target_node: str, target: str, flags: set) -> int:
    """A file sent to a node of another machine (docs/slices.md): its bytes
    go as the stdin of ``cat`` there, over the link, as Ganeti's
    ``gnt-cluster copyfile`` and ``renew-crypto`` send files.  Only this
    direction, one file at a time: Ganeti needs no other."""
    import shlex
    from .ssh import remote
    if source_node is not None or "r" in flags or os.path.isdir(source):
        return error("scp", f"{source}: only files from this node reach a node of another "
                     "slice", 1)
    quoted = shlex.quote(target)
    script = f"cat > {quoted}"
    try:
        fd = os.open(source, os.O_RDONLY)
    except OSError as exc:
        return error("scp", f"{source}: {exc.strerror}", 1)
    try:
        if "p" in flags:
            script += f" && chmod {os.fstat(fd).st_mode & 0o7777:o} {quoted}"
        return remote(cluster, target_node, script, stdin_fd=fd)
    finally:
        os.close(fd)


def _abs(path: str) -> str:
    return os.path.abspath(path)


def _copy(cluster: Cluster, node: str | None, command: list[str]) -> int:
    argv = cluster.nsenter(node, command) if node else command
    result = subprocess.run(argv, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0 and "are the same file" in result.stderr:
        return 0
    sys.stderr.write(result.stderr)
    return result.returncode
