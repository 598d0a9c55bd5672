"""How long each QA config key takes: the duration table the shard planner balances by.

A key's time is the sum of the times of the tests it owns.  A test's
owner is the first of its QA config keys (what ``driver.py`` prints before
it, and the JUnit ``classname`` carries: ``ganeti-qa.instance-shutdown.rapi``
is owned by ``instance-shutdown``); a test with no key, or with only QA's
own setup keys (``create-cluster``, ``default-instance-tests``), is
*setup*, which every shard runs.

The table (``Timings``) is read from earlier runs: a JUnit file of
``vcluster-ns qa --junit``, or the table JSON that ``vcluster-ns qa`` keeps
under its root (``qa-timings.json``, averaged with each run's times:
``averaged``), falling back to the built-in one (``builtin_timings.py``,
measured on Debian's 3.0.2).
Format of the JSON (version 1)::

    {"format": "vcluster-ns qa timings 1",
     "ganeti-version": "3.0.2",        # of the run(s) measured; informative
     "setup": 41.2,                     # seconds of setup tests per run
     "keys": {"cluster-verify": 12.3, "instance-add-file": 35.0, ...}}

Pure data and functions, run on the host.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterable

from .catalogue import ALWAYS

FORMAT = "vcluster-ns qa timings 1"
TABLE_NAME = "qa-timings.json"
UNKNOWN_KEY_SECONDS = 10.0  # a key no run has measured: a short test


def owner(names: Iterable[str]) -> str | None:
    """The QA config key a test belongs to: its first, unless that is QA's
    own setup; None for setup (and for tests QA runs always, with no key)."""
    names = list(names)
    if not names or names[0] in ALWAYS:
        return None
    return names[0]


@dataclasses.dataclass(frozen=True)
class Timings:
    keys: dict[str, float]
    setup: float = 0.0
    ganeti_version: str | None = None

    def seconds(self, key: str) -> float:
        """The key's measured time; for a key never measured, the median
        of the others (or UNKNOWN_KEY_SECONDS)."""
        if key in self.keys:
            return self.keys[key]
        known = sorted(self.keys.values())
        return known[len(known) // 2] if known else UNKNOWN_KEY_SECONDS

    def updated(self, newer: "Timings") -> "Timings":
        """This table with ``newer``'s measurements taking precedence."""
        return Timings({**self.keys, **newer.keys},
                       newer.setup if newer.keys else self.setup,
                       newer.ganeti_version or self.ganeti_version)

    def averaged(self, newer: "Timings") -> "Timings":
        """This table and ``newer`` as one estimate: the mean of the two for
        a key both measured (so the newest run counts half), the one figure
        for a key only one measured.  Why not the last figure: some tests
        wait on chance, above all ``TestSecretOsParams``, which waits 0 to
        307 s for luxid's next queue scan (ganeti/ganeti#1259) by where in
        the scan's period it falls.  Planned by its mean, such a key costs
        the least on average; planned by the last run's figure, one unlucky
        run moves the whole plan."""
        keys = dict(self.keys)
        for key, seconds in newer.keys.items():
            keys[key] = (keys[key] + seconds) / 2 if key in keys else seconds
        if self.keys and newer.keys:
            setup = (self.setup + newer.setup) / 2
        else:  # a table that measured nothing has no setup figure either
            setup = newer.setup if newer.keys else self.setup
        return Timings(keys, setup, newer.ganeti_version or self.ganeti_version)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "ganeti-version": self.ganeti_version,
                           "setup": round(self.setup, 1),
                           "keys": {k: round(v, 1) for k, v in sorted(self.keys.items())}},
                          indent=1) + "\n"


def from_results(tests: Iterable[tuple[list[str], float | None]],
                 ganeti_version: str | None = None) -> Timings:
    """A table from one run's tests, as (config keys, seconds) pairs.  A
    test QA skipped itself is given as 0 seconds (its key then costs
    nothing, as in that run: ``cluster-oob`` on a virtual cluster); a time
    of None counts nothing."""
    keys: dict[str, float] = {}
    setup = 0.0
    for names, seconds in tests:
        if seconds is None:
            continue
        key = owner(names)
        if key is None:
            setup += seconds
        else:
            keys[key] = keys.get(key, 0.0) + seconds
    return Timings(keys, setup, ganeti_version)


def from_junit(text: str) -> Timings:
    """A table from a ``vcluster-ns qa --junit`` file (merged shard runs too)."""
    root = ET.fromstring(text)
    tests = []
    version = None
    for suite in root.iter("testsuite"):
        for prop in suite.iterfind("properties/property"):
            if prop.get("name") == "ganeti-version":
                version = prop.get("value")
        for case in suite.iterfind("testcase"):
            skipped = case.find("skipped") is not None
            if not skipped and case.get("time") is None:
                continue
            classname = case.get("classname", "")
            names = classname.split(".")[1:] if classname.startswith("ganeti-qa.") else []
            if names == ["qa"]:
                names = []  # report.py's classname for a test without a key
            tests.append((names, 0.0 if skipped else float(case.get("time"))))
    return from_results(tests, version)


def from_json(text: str) -> Timings:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT!r} table")
    return Timings({str(k): float(v) for k, v in data.get("keys", {}).items()},
                   float(data.get("setup", 0.0)), data.get("ganeti-version"))


def load(path: Path) -> Timings:
    """A JUnit file or a table JSON, told apart by their first character;
    ValueError (with the path) if it is neither."""
    text = path.read_text()
    try:
        if text.lstrip().startswith("<"):
            return from_junit(text)
        return from_json(text)
    except (ValueError, ET.ParseError) as exc:
        raise ValueError(f"{path}: not a QA JUnit file or timings table ({exc})") from None


def builtin() -> Timings:
    from .builtin_timings import GANETI_VERSION, KEYS, SETUP
    return Timings(dict(KEYS), SETUP, GANETI_VERSION)
