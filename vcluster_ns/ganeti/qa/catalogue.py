"""Which QA tests exist, which a virtual cluster leaves off, and why.

A QA test is a key of the QA config's ``"tests"``.  The keys are read from
QA's own sources (``known_tests``), never listed here, so each Ganeti
version's QA brings its own.  The keys vcluster-ns switches off, each
with its reason and the Ganeti versions where it holds, are ``skips.SKIPS``;
``select`` applies those that hold for the version under test.  ``ALWAYS``
is QA's own setup, which stays on.

``select`` makes one run's ``Selection`` from that and ``--only``/``--skip``;
``switch_off`` picks the key ``--keep-going`` turns off after a failure.
Pure data and functions, run on the host.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from typing import TYPE_CHECKING

from ...errors import InvalidInput
from .skips import SKIPS, Skip

if TYPE_CHECKING:
    from .output import TestResult

# QA's own setup, which --only keeps: QA builds the cluster it tests, and
# runs the instance tests (instance-add-*) only within this block.
ALWAYS = ("create-cluster", "default-instance-tests")


def known_tests(*qa_sources: str) -> set[str]:
    """The QA config keys QA's code looks up: the strings given to
    ``RunTestIf``, ``TestEnabled`` and ``Either``, and the first element of
    its ``(test, function)`` and ``(test, disk template, ...)`` tables."""
    names: set[str] = set()
    for source in qa_sources:
        names |= _known_in(source)
    return names


def _known_in(qa_source: str) -> set[str]:
    names: set[str] = set()

    def strings(node) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
        elif isinstance(node, (ast.List, ast.Tuple)):
            for elt in node.elts:
                strings(elt)
        elif isinstance(node, ast.Call) and called_name(node) == "Either" and node.args:
            strings(node.args[0])

    for node in ast.walk(ast.parse(qa_source)):
        if isinstance(node, ast.Call) and node.args and \
                called_name(node) in ("RunTestIf", "TestEnabled", "Either"):
            strings(node.args[0])
        elif isinstance(node, ast.Tuple) and len(node.elts) >= 2 and _is_table_entry(node):
            strings(node.elts[0])
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in ("test_name", "testname", "testnames")
                for t in node.targets):
            strings(node.value)  # test_name = "..."; qa_config.TestEnabled(test_name)
    return {n for n in names if re.fullmatch(r"[a-z][a-z0-9-]*", n)}


def _is_table_entry(node: ast.Tuple) -> bool:
    second = node.elts[1]
    if isinstance(second, ast.Lambda):
        return True
    return isinstance(second, ast.Attribute) and second.attr.startswith(("Test", "DT_"))


def called_name(call: ast.Call) -> str | None:
    """The name a call in QA's code calls (a plain or a dotted name)."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


@dataclasses.dataclass(frozen=True)
class Selection:
    """What one QA run runs: the config's "tests" and the reasons for what is off."""

    tests: dict[str, bool]
    skipped: dict[str, str]  # test -> why it is off

    def with_skipped(self, test: str, reason: str) -> "Selection":
        return Selection({**self.tests, test: False}, {**self.skipped, test: reason})


def select(known: set[str], only: list[str] = (), skip: list[str] = (),
           version: str | None = None, builtin: dict[str, Skip] = SKIPS) -> Selection:
    """The tests of a run: all QA knows (or ``only``), minus the built-in
    skips that hold for ``version`` (the Ganeti under test; None: unknown,
    every skip) and ``skip``.  Unknown names are an error listing the
    nearest."""
    for name in [*only, *skip]:
        if name not in known:
            near = sorted(k for k in known if name.split("-")[0] in k)[:6]
            hint = f"QA's tests include {', '.join(near)}" if near else \
                "see 'vcluster-ns qa --list' for QA's test names"
            raise InvalidInput(f"QA has no test named {name!r}", hint)
    for name in skip:
        if name in ALWAYS:
            raise InvalidInput(f"--skip {name}: QA's own setup cannot be switched off",
                               "vcluster-ns qa gives QA an empty cluster to set up")
    skipped: dict[str, str] = {}
    tests: dict[str, bool] = {}
    if only:
        tests["default"] = False
        for name in sorted(set(only) | set(ALWAYS)):
            tests[name] = True
    else:
        tests["default"] = True
        for name in sorted(known):
            tests[name] = True
    for name, entry in builtin.items():
        if name in known and (not only or name in only) and entry.holds_for(version):
            tests[name] = False
            skipped[name] = entry.describe() + (
                " (built-in skip, kept despite --only)" if name in only else "")
    for name in skip:
        tests[name] = False
        skipped[name] = "--skip"
    return Selection(tests, skipped)


def switch_off(test: TestResult, selection: Selection) -> str | None:
    """The QA config key that turns ``test`` off, for ``--keep-going``: the
    first of its names still on, never QA's own setup (``ALWAYS``: without
    create-cluster QA would take the empty cluster for a made one).  None
    if nothing can (QA runs it always)."""
    for name in test.names:
        if name not in ALWAYS and \
                selection.tests.get(name, selection.tests.get("default", True)):
            return name
    return None
