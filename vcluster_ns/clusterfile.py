"""The cluster file: ``vcluster-ns up -f cluster.toml`` (format in docs/topology.md).

``load(path)`` reads and checks a file and returns the ``ClusterSpec``
keyword arguments it sets; every mistake is an ``InvalidInput`` naming the
file and the key path (``cluster.toml: nodes.node2.memory: ...``), raised
before anything is created.  ``dump(spec)`` writes the effective file of a
cluster: every node's settings resolved, so that loading it gives the same
cluster again.

Per-node settings resolve as ``[defaults]``, then the node's group table
``[groups.NAME]``, then the node's own table ``[nodes.NAME]``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .errors import InvalidInput
from .ganeti.resources import format_mib, parse_size_mib
from .ganeti.seed import PLACEMENTS, SEED_TEMPLATES
from .spec import DEFAULT_GROUP, DEFAULT_INSTANCES, DEFAULT_NODES, NETWORK_MODES, ClusterSpec

# Top-level keys and the ClusterSpec field each one sets.
TOP_LEVEL = {"node_count": "nodes", "network": "network", "mode": "network_mode",
             "domain": "domain", "secondary_network": "secondary_network",
             "watcher_interval": "watcher_interval", "rapi_port": "rapi_port",
             "instance_names": "instances", "ganeti": "ganeti", "ganeti_extra": "ganeti_extra",
             "slice": "slice", "join": "join", "join_command": "join_command"}
TABLES = ("defaults", "groups", "nodes", "instances", "cluster")
SIZE_KEYS = ("memory", "memory_reserved", "disk")
# key: (type, what a wrong value should be)
SETTING_TYPES = {"memory": ("size", "a size such as 4G"),
                 "memory_reserved": ("size", "a size such as 256M"),
                 "disk": ("size", "a size such as 100G"),
                 "cpus": (int, "a whole number of CPUs"),
                 "drained": (bool, "true or false"), "offline": (bool, "true or false"),
                 "master_capable": (bool, "true or false")}
SEED_TYPES = {"count": (int, "a whole number"), "template": (str, "diskless or file"),
              "memory": ("size", "a size such as 128M"), "disk": ("size", "a size such as 1G"),
              "vcpus": (int, "a whole number"), "placement": (str, "spread or hail")}
CLUSTER_TYPES = {"enabled_disk_templates": (list, "a list of disk templates"),
                 "candidate_pool_size": (int, "a whole number"),
                 "ipolicy": (dict, "a table")}
IPOLICY_TYPES = {"bounds_specs": (str, "a string as gnt-cluster init --ipolicy-bounds-specs"),
                 "std_specs": (str, "a string as gnt-cluster init --ipolicy-std-specs"),
                 "vcpu_ratio": (float, "a number"), "spindle_ratio": (float, "a number"),
                 "disk_templates": (list, "a list of disk templates")}
TOP_TYPES = {"node_count": (int, "a whole number"), "network": (str, "a prefix such as 192.0.2.0/24"),
             "mode": (str, "isolated or shared"), "domain": (str, "a DNS domain"),
             "secondary_network": (str, "a prefix"), "watcher_interval": (int, "seconds"),
             "rapi_port": (int, "a port"), "instance_names": (int, "a whole number"),
             "ganeti": (str, "an absolute path"),
             "ganeti_extra": (list, "a list of absolute paths"),
             "slice": (str, "a node range such as \"4-6\""),
             "join": (str, "[user@]host[:port] of the master's slice"),
             "join_command": (str, "the vcluster-ns command there")}


class _Reader:
    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, what: str, hint: str | None = None) -> None:
        raise InvalidInput(f"{self.where}: {key}: {what}",
                           hint or "see docs/topology.md for the cluster file's keys")

    def table(self, value, key: str) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, not {type(value).__name__}")
        return value

    def check(self, table: dict, types: dict, path: str) -> dict:
        """Check a table's keys and types; sizes become MiB."""
        out = {}
        for key, value in table.items():
            where = f"{path}.{key}" if path else key
            if key not in types:
                self.fail(where, "unknown key", f"use one of: {', '.join(types)}")
            kind, wanted = types[key]
            if kind == "size":
                try:
                    out[key] = parse_size_mib(value)
                except ValueError as exc:
                    self.fail(where, str(exc), f"give {wanted}")
                continue
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                self.fail(where, f"{value!r} is not {wanted}")
            if kind is int and value < (0 if key in ("watcher_interval", "rapi_port",
                                                       "count") else 1):
                self.fail(where, f"{value!r} is not {wanted} above zero")
            if kind is list and not all(isinstance(v, str) for v in value):
                self.fail(where, f"{value!r} is not {wanted}")
            out[key] = value
        return out


def load(path: str | Path, overrides: dict | None = None) -> dict:
    """The ClusterSpec fields a cluster file sets (name excepted), with
    ``overrides`` (spec fields from the command line) applied first: a node
    count or domain given there decides which nodes the settings go to."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read cluster file {path}: "
                           f"{getattr(exc, 'strerror', None) or exc}",
                           "give a readable TOML file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path.name}: not valid TOML: {exc}",
                           "see docs/examples/ for cluster files") from None
    return parse(data, path.name, overrides)


def parse(data: dict, where: str = "cluster file", overrides: dict | None = None) -> dict:
    r = _Reader(where)
    fields: dict = {}
    top = {k: v for k, v in data.items() if k not in TABLES}
    for key, value in r.check(top, TOP_TYPES, "").items():
        fields[TOP_LEVEL[key]] = value
    fields.update(overrides or {})
    if fields.get("network_mode", NETWORK_MODES[0]) not in NETWORK_MODES:
        r.fail("mode", f"{fields['network_mode']!r} is not a network mode",
               "use 'isolated' or 'shared'")
    defaults = r.check(r.table(data.get("defaults", {}), "defaults"), SETTING_TYPES, "defaults")
    group_types = {**SETTING_TYPES, "nodes": (list, "a list of node names")}
    groups = {}
    for name, table in r.table(data.get("groups", {}), "groups").items():
        groups[name] = r.check(r.table(table, f"groups.{name}"), group_types, f"groups.{name}")
        _label(r, f"groups.{name}", name)
        if name == DEFAULT_GROUP:
            r.fail(f"groups.{name}", "Ganeti's default group always exists",
                   "name your groups otherwise")
    node_types = {**SETTING_TYPES, "group": (str, "a group name")}
    node_tables = {}
    for name, table in r.table(data.get("nodes", {}), "nodes").items():
        node_tables[name] = r.check(r.table(table, f"nodes.{name}"), node_types, f"nodes.{name}")
    # Which node is in which group: the node's own 'group', or a group's list.
    member_of: dict[str, str] = {}
    for group, table in groups.items():
        for node in table.pop("nodes", []):
            if node in member_of:
                r.fail(f"groups.{group}.nodes", f"node {node!r} is in group "
                       f"{member_of[node]!r} already", "put each node in one group")
            member_of[node] = group
    for node, table in node_tables.items():
        group = table.get("group")
        if group is None:
            continue
        if group != DEFAULT_GROUP and group not in groups:
            r.fail(f"nodes.{node}.group", f"group {group!r} does not exist",
                   f"declare it as [groups.{group}]")
        if member_of.get(node, group) != group:
            r.fail(f"nodes.{node}.group", f"node {node} is listed in group "
                   f"{member_of[node]!r}", "name its group in one place")
        member_of[node] = group
    count = fields.get("nodes")
    indices: dict[str, int] = {}
    for node in sorted(set(node_tables) | set(member_of)):
        key = f"nodes.{node}" if node in node_tables else f"groups.{member_of[node]}.nodes"
        index = _node_index(node)
        if index is None:
            r.fail(key, f"{node!r} is not a node name", "nodes are named node1, node2, ...")
        same = [other for other, i in indices.items() if i == index]
        if same:
            r.fail(key, f"{node!r} names the same node as {same[0]!r}", "name each node once")
        indices[node] = index
    if count is None:
        count = max(indices.values()) if indices else DEFAULT_NODES
        fields["nodes"] = count
    beyond = sorted((index, node) for node, index in indices.items() if index > count)
    if beyond:
        index, node = beyond[0]
        key = f"nodes.{node}" if node in node_tables else f"groups.{member_of[node]}.nodes"
        r.fail(key, f"{node} is beyond the {count} nodes of this cluster",
               _beyond_hint(count, beyond[-1][0], top.get("node_count"),
                            "nodes" in (overrides or {})))
    domain = fields.get("domain", "")
    group_at = {indices[node]: group for node, group in member_of.items()}
    table_at = {indices[node]: table for node, table in node_tables.items()}
    settings = {}
    for index in range(1, count + 1):
        short = f"node{index}"
        group = group_at.get(index, DEFAULT_GROUP)
        merged = {**defaults, **groups.get(group, {}), **table_at.get(index, {})}
        merged.pop("group", None)
        if group != DEFAULT_GROUP:
            merged["group"] = group
        if "memory_reserved" in merged and "memory" not in merged:
            r.fail(f"nodes.{short}.memory_reserved", "needs the node's memory",
                   "give memory too (without it the node reports the host's)")
        if merged.get("memory_reserved", 0) >= merged.get("memory", 1 << 62):
            r.fail(f"nodes.{short}.memory_reserved", "must be below the node's memory")
        if index == 1:
            for key in ("offline", "master_capable"):
                bad = merged.get(key) is (key == "offline")
                if bad:
                    r.fail(f"nodes.{short}.{key}", "the first node becomes the master: it "
                           "cannot start offline or not master-capable",
                           "set it on another node")
        if merged:
            settings[f"{short}.{domain}" if domain else short] = merged
    fields["node_settings"] = settings
    fields["groups"] = tuple(groups)
    seed = r.check(r.table(data.get("instances", {}), "instances"), SEED_TYPES, "instances")
    if seed:
        if seed.get("template", "diskless") not in SEED_TEMPLATES:
            r.fail("instances.template", f"{seed['template']!r} is not one of "
                   f"{', '.join(SEED_TEMPLATES)}")
        if seed.get("placement", "spread") not in PLACEMENTS:
            r.fail("instances.placement", f"{seed['placement']!r} is not one of "
                   f"{', '.join(PLACEMENTS)}")
        if seed.get("template") == "file" and "disk" not in seed:
            r.fail("instances.disk", "file instances need a disk size", "add disk = \"1G\"")
        fields["seed"] = seed
        names = fields.setdefault("instances", max(DEFAULT_INSTANCES, seed.get("count", 0)))
        if seed.get("count", 0) > names:
            r.fail("instances.count", f"{seed['count']} instances need as many names",
                   f"raise instance_names to at least {seed['count']}")
    cluster = r.check(r.table(data.get("cluster", {}), "cluster"), CLUSTER_TYPES, "cluster")
    if "ipolicy" in cluster:
        cluster["ipolicy"] = r.check(cluster["ipolicy"], IPOLICY_TYPES, "cluster.ipolicy")
    fields["init_params"] = cluster
    return fields


def _beyond_hint(count: int, needed: int, file_count: int | None, from_option: bool) -> str:
    """What to do about nodes beyond ``count``: raise the count where it came from."""
    if not from_option:
        return f"raise node_count to at least {needed}"
    said = f" = {file_count}" if file_count is not None else ""
    hint = f"--nodes {count} overrides the file's node_count{said}: give --nodes {needed} or more"
    if file_count is None or file_count >= needed:
        hint += ", or leave --nodes out"
    return hint


def _label(r: _Reader, key: str, name: str) -> None:
    from .spec import check_label
    try:
        check_label("name", name)
    except InvalidInput as exc:
        r.fail(key, exc.message, exc.hint)


def _node_index(name: str) -> int | None:
    short = name.split(".")[0]
    if short.startswith("node") and short[4:].isdigit() and int(short[4:]) > 0 \
            and str(int(short[4:])) == short[4:]:
        return int(short[4:])
    return None


def spec_from_file(path: str | Path, name: str, overrides: dict) -> ClusterSpec:
    """The spec of a cluster file, command-line ``overrides`` applied."""
    return make_spec(path, name, load(path, overrides))


def make_spec(path: str | Path, name: str, fields: dict) -> ClusterSpec:
    """The spec of ``load``'s fields; an inconsistent result is reported
    with the file's name."""
    try:
        return ClusterSpec(name=name, **fields)
    except InvalidInput as exc:
        raise InvalidInput(f"{Path(path).name}: {exc.message}", exc.hint) from None


# -- the effective file ---------------------------------------------------------

def dump(spec: ClusterSpec) -> str:
    """A cluster file that describes ``spec`` (every node's settings spelled out)."""
    lines = [f"# effective cluster file of vcluster-ns cluster {spec.name!r}",
             f"node_count = {spec.nodes}", f"network = {_toml(spec.network)}",
             f"mode = {_toml(spec.network_mode)}"]
    if spec.domain:
        lines.append(f"domain = {_toml(spec.domain)}")
    if spec.secondary_network:
        lines.append(f"secondary_network = {_toml(spec.secondary_network)}")
    lines.append(f"watcher_interval = {spec.watcher_interval}")
    if spec.rapi_port is not None:
        lines.append(f"rapi_port = {spec.rapi_port}")
    lines.append(f"instance_names = {spec.instances}")
    if spec.ganeti:
        lines.append(f"ganeti = {_toml(spec.ganeti)}")
    if spec.ganeti_extra:
        lines.append(f"ganeti_extra = {_toml(spec.ganeti_extra)}")
    for key in ("slice", "join", "join_command"):
        if getattr(spec, key) is not None:
            lines.append(f"{key} = {_toml(getattr(spec, key))}")
    if spec.init_params:
        params = {k: v for k, v in spec.init_params.items() if k != "ipolicy"}
        lines += ["", "[cluster]", *_pairs(params)]
        if spec.init_params.get("ipolicy"):
            lines += ["", "[cluster.ipolicy]", *_pairs(spec.init_params["ipolicy"])]
    for group in spec.groups:
        lines += ["", f"[groups.{group}]"]
    for node in spec.all_node_names:
        settings = spec.settings_of(node)
        if settings:
            lines += ["", f"[nodes.{node.split('.')[0]}]", *_pairs(settings)]
    if spec.seed:
        lines += ["", "[instances]", *_pairs(spec.seed)]
    return "\n".join(lines) + "\n"


def _pairs(table: dict) -> list[str]:
    return [f"{k} = {_toml(format_mib(v)) if k in SIZE_KEYS else _toml(v)}"
            for k, v in table.items()]


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
