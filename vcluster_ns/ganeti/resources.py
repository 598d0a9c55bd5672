"""What each node tells Ganeti about its memory, CPUs and disk (pure functions).

Ganeti's fake hypervisor (``hv_base.GetLinuxNodeInfo``) reads the node's
``/proc/meminfo`` and ``/proc/cpuinfo``:

* ``memory_total`` is ``MemTotal``; ``memory_free`` the sum of ``MemFree``,
  ``Buffers`` and ``Cached``, less the memory of the instances the fake
  hypervisor runs on that node; ``memory_dom0`` (``mnode``) is ``Active``;
* ``cpu_total`` counts the ``processor : N`` lines (``cpu_nodes`` and
  ``cpu_sockets`` are always 1 in Ganeti 3.0).

So a node whose own mount namespace shows rendered copies of those two files
(bound over ``/proc/meminfo`` and ``/proc/cpuinfo``, as LXCFS does for
containers) has its own memory and CPU count for noded, ``gnt-node list``,
the iallocator (``hail``) and the other htools.  The rendering keeps only
the lines Ganeti reads, plus a few that ``free``-like tools expect.

Disk: Ganeti reports ``statvfs`` of the file storage directory; a node with
a disk size gets a tmpfs of that size there (``mounts.SizedTmpfs``,
``filestore.py``).
"""

from __future__ import annotations

import re

MEMINFO = "/proc/meminfo"
CPUINFO = "/proc/cpuinfo"

# Sizes: a number with an optional binary unit; no unit means MiB (Ganeti's
# own unit for memory and disks).
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtKMGT]?)(?:i?[bB])?\s*$")
_UNIT_MIB = {"k": 1 / 1024, "m": 1, "": 1, "g": 1024, "t": 1024 * 1024}


def parse_size_mib(value) -> int:
    """``16G`` -> 16384, ``512M`` -> 512, ``1.5T`` -> 1572864, 2048 -> 2048 (MiB).

    Raises ValueError (with the reason) for anything else, and for sizes
    that are not positive or not a whole number of MiB."""
    if isinstance(value, bool):
        raise ValueError("a size, not true/false")
    if isinstance(value, int):
        mib = value
    elif isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a size such as 512M, 16G or 1.5T")
        number, unit = match.groups()
        exact = float(number) * _UNIT_MIB[unit.lower()]
        mib = int(exact)
        if mib != exact:
            raise ValueError(f"{value!r} is not a whole number of MiB")
    else:
        raise ValueError(f"{value!r} is not a size such as 512M, 16G or 1.5T")
    if mib <= 0:
        raise ValueError(f"{value!r} is not a positive size")
    return mib


def format_mib(mib: int) -> str:
    """The shortest exact spelling: 16384 -> '16G', 1536 -> '1536M'."""
    for unit, factor in (("T", 1024 * 1024), ("G", 1024)):
        if mib % factor == 0:
            return f"{mib // factor}{unit}"
    return f"{mib}M"


def render_meminfo(total_mib: int, reserved_mib: int = 0) -> str:
    """A ``/proc/meminfo`` of ``total_mib``, ``reserved_mib`` of it used by
    the node itself (Ganeti's ``mnode``), the rest free for instances."""
    if not 0 <= reserved_mib < total_mib:
        raise ValueError(f"reserved memory {reserved_mib} MiB must be below {total_mib} MiB")
    total, reserved = total_mib * 1024, reserved_mib * 1024
    free = total - reserved
    rows = [("MemTotal", total), ("MemFree", free), ("MemAvailable", free),
            ("Buffers", 0), ("Cached", 0), ("SwapCached", 0),
            ("Active", reserved), ("Inactive", 0),
            ("SwapTotal", 0), ("SwapFree", 0)]
    return "".join(f"{key + ':':<16}{value:>8} kB\n" for key, value in rows)


def render_cpuinfo(cpus: int) -> str:
    """A ``/proc/cpuinfo`` with ``cpus`` processors (one socket)."""
    if cpus < 1:
        raise ValueError("at least 1 CPU")
    blocks = []
    for n in range(cpus):
        blocks.append(
            f"processor\t: {n}\nvendor_id\t: vcluster-ns\nmodel name\t: virtual CPU\n"
            f"physical id\t: 0\nsiblings\t: {cpus}\ncore id\t\t: {n}\ncpu cores\t: {cpus}\n")
    return "\n".join(blocks) + "\n"


def node_proc_files(settings: dict) -> dict[str, str]:
    """``{/proc path: content}`` for a node's settings (``memory``, ``cpus``,
    ``memory_reserved`` in MiB); a figure not set keeps the host's file."""
    files = {}
    if settings.get("memory"):
        files[MEMINFO] = render_meminfo(settings["memory"], settings.get("memory_reserved", 0))
    if settings.get("cpus"):
        files[CPUINFO] = render_cpuinfo(settings["cpus"])
    return files


def read_meminfo_mib(text: str) -> dict[str, int]:
    """What ``GetLinuxNodeInfo`` makes of a meminfo text (for tests and status)."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if rest.strip():
            values[key.strip()] = int(rest.split()[0]) // 1024
    return {"memory_total": values.get("MemTotal", 0),
            "memory_free": sum(values.get(k, 0) for k in ("MemFree", "Buffers", "Cached")),
            "memory_dom0": values.get("Active", 0)}


def count_cpus(text: str) -> int:
    return len(re.findall(r"(?m)^processor\s*:\s*[0-9]+\s*$", text))
