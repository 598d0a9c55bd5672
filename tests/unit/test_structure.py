"""The shape of the package, read from its imports: no cycles, no upward arrows.

A habit kept by a test, not a judgement of style: every import counts
(function-level ones too), as ../shared/tools/structure.py counts them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import vcluster_ns

PACKAGE = Path(vcluster_ns.__file__).parent
# The layers that know nothing of Ganeti: Ganeti's paths reach them as arguments.
CORE = {"namespaces", "netns", "mounts", "runner", "daemonspec", "layout", "spec", "nodes",
        "enter", "control", "pidfile", "reaper", "filestore", "portforward", "errors", "roots"}
# Above everything in vcluster_ns/ganeti/: the host-side facade and what drives it.
ABOVE_GANETI = {"cluster", "cli", "entry", "service", "boot", "launch", "preflight",
                "qa_run", "pytest_plugin", "request"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[:len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" for a in node.names] or [base]
            for target in targets:
                if target.startswith("vcluster_ns"):
                    found = resolve(target)
                    if found and found != name:
                        graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def short(name: str) -> str:
    return name.removeprefix("vcluster_ns.")


def test_the_import_graph_has_no_cycles():
    assert cycles(import_graph()) == []


def test_the_core_layers_know_nothing_of_ganeti():
    graph = import_graph()
    upward = {(short(m), short(t)) for m, targets in graph.items() if short(m) in CORE
              for t in targets if short(t).startswith("ganeti") or short(t) in ABOVE_GANETI}
    assert upward == set()


def test_ganeti_never_imports_the_facade_or_what_drives_it():
    graph = import_graph()
    upward = {(short(m), short(t)) for m, targets in graph.items()
              if short(m).startswith("ganeti") for t in targets if short(t) in ABOVE_GANETI}
    assert upward == set()


def test_a_cycle_would_be_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_shims_do_not_import_trio():
    """Ganeti runs a shim for every ssh, scp and daemon-util: importing trio
    would cost each about 80 ms."""
    probe = ("import sys, vcluster_ns.shims.ssh, vcluster_ns.shims.scp, "
             "vcluster_ns.shims.daemon_util, vcluster_ns.ganeti.daemons; "
             "print(sorted(m for m in ('trio', 'click', 'pyroute2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
