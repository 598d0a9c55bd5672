"""Splitting one QA selection into shards, each run whole on its own cluster.

QA is one program that runs its tests in a fixed order on one cluster; what
it runs is chosen by the config's ``"tests"`` keys.  A shard is therefore a
QA run with some of the selected keys on: the keys it *owns* (it reports
their tests), the keys those need (``needs``, below: on, but their tests
are reported by their own shard), and QA's own setup (``ALWAYS``), which
every shard runs.  Every selected key is owned by exactly one shard.

**Needs**, read from QA's own code (``requirements``), so each Ganeti
version's QA brings its own:

* a key QA checks inside its instance block (``RunInstanceTests`` and the
  functions it calls: ``instance-shutdown``, ``instance-rename``, ...)
  needs every selected ``instance-add-*`` key: it runs once per instance
  those make, so its shard adds those instances too;
* a test gated on several keys at once (``RunTestIf(["instance-shutdown",
  "instance-modify"], ...)``, ``qa_rapi.Enabled`` being the key ``rapi``)
  belongs to its first key, which needs the others;
* a key checked inside ``if qa_config.TestEnabled(K):`` (or after ``if not
  TestEnabled(K): return``) needs K.  ``qa_config.Either`` is an "or" and
  needs nothing.

**The rule** (``plan``): longest processing time first.  Keys are taken
from the longest to the shortest (by the ``timings.Timings`` table; ties by
name), and each goes to the shard whose estimated time, counting what it
then needs, grows to the smallest total (ties: the lowest shard number).
Deterministic: the same selection, table and N give the same plan.

Run on the host; pure functions.
"""

from __future__ import annotations

import ast
import dataclasses
import json

from .catalogue import ALWAYS, Selection, called_name
from .timings import Timings, owner

INSTANCE_BLOCK = "RunInstanceTests"


@dataclasses.dataclass(frozen=True)
class Shard:
    number: int                 # 1-based
    owned: tuple[str, ...]      # the keys whose tests this shard reports
    needed: tuple[str, ...]     # also on, for what the owned keys need
    seconds: float              # estimate: setup + every key on (no bring-up)

    def selection(self, base: Selection) -> Selection:
        """The QA config "tests" of this shard: only its keys and QA's setup
        on; the base selection's reasons for what is off are kept."""
        tests = {name: False for name in base.tests}
        tests["default"] = False
        for name in (*ALWAYS, *self.owned, *self.needed):
            tests[name] = True
        return Selection(tests, dict(base.skipped))


def selection_to_json(selection: Selection) -> str:
    """A shard's selection, as its child run reads it (``selection_from_json``)."""
    return json.dumps({"tests": selection.tests, "skipped": selection.skipped})


def selection_from_json(text: str) -> Selection:
    data = json.loads(text)
    return Selection({str(k): bool(v) for k, v in data["tests"].items()},
                     {str(k): str(v) for k, v in data["skipped"].items()})


def selected_keys(selection: Selection) -> list[str]:
    """The keys a selection runs, less QA's own setup (in every shard)."""
    return sorted(k for k, on in selection.tests.items()
                  if on and k != "default" and k not in ALWAYS)


def plan(keys: list[str], count: int, timings: Timings,
         needs: dict[str, frozenset[str]]) -> list[Shard]:
    """At most ``count`` shards owning ``keys`` between them, each once.
    Shards left empty (more shards than keys) are dropped."""
    if count < 1:
        raise ValueError("at least one shard")
    wanted = set(keys)
    order = sorted(wanted, key=lambda k: (-timings.seconds(k), k))
    owned: list[list[str]] = [[] for _ in range(count)]
    on: list[set[str]] = [set() for _ in range(count)]

    def cost(keys_on: set[str]) -> float:
        return timings.setup + sum(timings.seconds(k) for k in keys_on)

    for key in order:
        with_needs = closure(key, needs, wanted)
        best = min(range(count), key=lambda i: (cost(on[i] | with_needs), i))
        owned[best].append(key)
        on[best] |= with_needs
    shards = []
    for i in range(count):
        if owned[i]:
            mine = sorted(owned[i])
            shards.append(Shard(len(shards) + 1, tuple(mine),
                                tuple(sorted(on[i] - set(mine))), cost(on[i])))
    return shards


def closure(key: str, needs: dict[str, frozenset[str]], wanted: set[str]) -> set[str]:
    """``key`` and everything it needs, transitively, among ``wanted``."""
    seen = {key}
    todo = [key]
    while todo:
        for other in needs.get(todo.pop(), ()):
            if other in wanted and other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def owners(shards: list[Shard]) -> dict[str, int]:
    """Key -> the number of the shard that owns it."""
    return {key: shard.number for shard in shards for key in shard.owned}


def reported_here(names: list[str], failed: bool, shard: int,
                  owner_of: dict[str, int]) -> bool:
    """Whether a test a shard ran goes into the merged report: a failure
    always (it happened there); otherwise by the shard owning the first of
    its keys that some shard owns (a test of ``Either([...])`` carries keys
    that may be off: ``instance-reinstall`` for the shutdown before a
    rename); setup, and keys no shard owns (QA's skips of keys off
    everywhere), by shard 1."""
    if failed:
        return True
    if owner(names) is None:
        return shard == 1
    key = next((n for n in names if n in owner_of), None)
    if key is None:
        return shard == 1
    return owner_of[key] == shard


# -- QA's code: which key needs which -------------------------------------

def requirements(script: str, instance_module: str = "") -> dict[str, frozenset[str]]:
    """Key -> the keys that must be on with it, read from ``ganeti-qa.py``
    (``script``) and ``qa_instance.py`` (``instance_module``, for the
    ``instance-add-*`` keys of its ``available_instance_tests``)."""
    tree = ast.parse(script)
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    needs: dict[str, set[str]] = {}

    def need(key: str, others) -> None:
        others = {o for o in others if o != key}
        if others:
            needs.setdefault(key, set()).update(others)

    for function in functions.values():
        _walk(function.body, [], need)

    adders = _instance_adders(instance_module) if instance_module else set()
    for name in _reachable(INSTANCE_BLOCK, functions):
        for key in _keys_in(functions[name]):
            if key not in adders:
                need(key, adders)
    return {k: frozenset(v) for k, v in needs.items()}


def _walk(statements, gates: list[str], need) -> None:
    """Statements in order; ``gates`` are the keys enclosing them."""
    gates = list(gates)
    for stmt in statements:
        if isinstance(stmt, ast.If):
            keys, negated = _condition(stmt.test)
            if keys and negated and _returns(stmt.body):
                _walk(stmt.body, gates, need)
                gates = gates + keys  # "if not TestEnabled(K): return": K from here on
                _walk(stmt.orelse, gates, need)
                continue
            _expression(stmt.test, gates, need)
            _walk(stmt.body, gates + (keys if not negated else []), need)
            _walk(stmt.orelse, gates, need)
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.AST) \
                    and not isinstance(stmt, ast.FunctionDef):
                _walk(inner, gates, need)
        if isinstance(stmt, ast.ExceptHandler):
            continue
        for node in _own_expressions(stmt):
            _expression(node, gates, need)


def _own_expressions(stmt):
    """A statement's expressions, not those of the statements it holds."""
    for field, value in ast.iter_fields(stmt):
        if field in ("body", "orelse", "finalbody", "handlers"):
            continue
        if isinstance(value, ast.AST):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, ast.AST))


def _expression(node, gates: list[str], need) -> None:
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and called_name(call) in ("RunTestIf", "TestEnabled") \
                and call.args:
            keys, all_of = _names(call.args[0])
            if not keys:
                continue
            if all_of:
                need(keys[0], keys[1:] + gates)
                for key in keys[1:]:
                    need(key, gates)
            else:
                for key in keys:
                    need(key, gates)


def _condition(test) -> tuple[list[str], bool]:
    """The keys an ``if`` tests (when all must be on), and whether negated."""
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    inner = test.operand if negated else test
    if isinstance(inner, ast.Call):
        if called_name(inner) == "TestEnabled" and inner.args:
            keys, all_of = _names(inner.args[0])
            return (keys if all_of else []), negated
        if _is_rapi_enabled(inner.func):
            return ["rapi"], negated
    return [], negated


def _returns(body) -> bool:
    return any(isinstance(s, ast.Return) for s in body)


def _names(node) -> tuple[list[str], bool]:
    """The keys of a RunTestIf/TestEnabled argument, and whether all of
    them must be on (a list) or any (``Either``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value], True
    if isinstance(node, (ast.List, ast.Tuple)):
        keys = []
        for elt in node.elts:
            if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                keys.append(elt.value)
            elif _is_rapi_enabled(elt):
                keys.append("rapi")
        return keys, True
    if _is_rapi_enabled(node):
        return ["rapi"], True
    if isinstance(node, ast.Call) and called_name(node) == "Either" and node.args:
        keys, _ = _names(node.args[0])
        return keys, False
    return [], True


def _is_rapi_enabled(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "Enabled" and \
        isinstance(node.value, ast.Name) and node.value.id == "qa_rapi"


def _reachable(start: str, functions: dict) -> set[str]:
    """``start`` and the functions of the script it calls (directly or as
    ``RunTestBlock(F)``), transitively."""
    seen = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Name) and node.id in functions:
                todo.append(node.id)
    return seen


def _keys_in(function) -> set[str]:
    keys: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and node.args and \
                called_name(node) in ("RunTestIf", "TestEnabled", "Either"):
            keys.update(_names(node.args[0])[0])
    return keys


def _instance_adders(source: str) -> set[str]:
    """The first element of each entry of ``available_instance_tests``."""
    adders: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "available_instance_tests"
                for t in node.targets) and isinstance(node.value, (ast.List, ast.Tuple)):
            for entry in node.value.elts:
                if isinstance(entry, (ast.Tuple, ast.List)) and entry.elts and \
                        isinstance(entry.elts[0], ast.Constant):
                    adders.add(entry.elts[0].value)
    return adders
