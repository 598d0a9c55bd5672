"""qa_shards.ShardedRun with stand-in children (no clusters): side by side,
a failing shard stops no other, Ctrl-C reaches every child once."""

import _thread
import sys
import threading
import time

import pytest

from vcluster_ns.ganeti.qa.catalogue import Selection
from vcluster_ns.ganeti.qa.shards import Shard
from vcluster_ns.qa_shards import ShardedRun

REPORT = ('{"results": [{"func": "Test%(key)s", "description": "", "status": "passed", '
          '"names": ["%(key)s"], "seconds": 1.0, "message": "", "output": [], "attempt": 1, '
          '"shard": null}], "skipped": {}, "workarounds": {}, "attempts": 1, "seconds": 1.0, '
          '"workaround_uses": 0, "clusters": ["qa-%(key)s"], "ganeti_version": "3.0.2", '
          '"ganeti_tree": null, "qa_dir": "/qa", "shards": 0, "kept": [], "bundles": []}')


class StandIn(ShardedRun):
    """Each shard's child is a small Python script, chosen per shard."""

    def __init__(self, tmp_path, scripts):
        super().__init__(tmp_path, [], echo=self.lines.append, export_dir=tmp_path)
        self.scripts = scripts
        self.started = 0

    lines: list

    def command(self, selection, report):
        self.started += 1
        return [sys.executable, "-c", self.scripts[self.started - 1], str(report)]


BASE = Selection({"default": False, "a": True, "b": True}, {})
PLAN = [Shard(1, ("a",), (), 1), Shard(2, ("b",), (), 1)]


def test_a_failing_shard_stops_no_other(tmp_path):
    StandIn.lines = []
    good = ("import sys, time; time.sleep(1); open(sys.argv[1], 'w').write(%r); "
            "print('PASSED  Testa')" % (REPORT % {"key": "a"}))
    crash = "import sys; print('boom'); sys.exit(3)"
    run = StandIn(tmp_path, [good, crash])
    report = run.run(PLAN, BASE)
    assert [(t.func, t.status, t.shard) for t in report.results] == [
        ("Testa", "passed", 1), ("vcluster-ns", "error", 2)]
    assert "ended (exit 3) without a report" in report.results[1].message
    assert "[shard 1] PASSED  Testa" in run.lines and "[shard 2] boom" in run.lines
    assert "[shard 2] ended, exit 3" in run.lines
    assert report.clusters == ["qa-a"] and report.ganeti_version == "3.0.2"
    assert run.work.exists()  # a shard failed: its logs are kept


def test_ctrl_c_reaches_every_child_once(tmp_path):
    StandIn.lines = []
    waiter = ("import signal, sys, time\n"
              "def stop(*_):\n"
              "    open(sys.argv[1] + '.interrupted', 'a').write('x'); sys.exit(130)\n"
              "signal.signal(signal.SIGINT, stop)\n"
              "print('waiting', flush=True)\n"
              "time.sleep(60)\n")
    run = StandIn(tmp_path, [waiter, waiter])
    def ctrl_c_once_both_wait():
        # Ctrl-C at the terminal: the parent alone gets it (children lead
        # sessions); sent once both children have their handler.
        deadline = time.monotonic() + 60
        while sum("waiting" in line for line in run.lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        _thread.interrupt_main()

    threading.Thread(target=ctrl_c_once_both_wait, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run.run(PLAN, BASE)
    assert time.monotonic() - start < 55  # the children stopped, not slept out
    for n in (1, 2):
        marks = (run.work / f"shard-{n}.report.json.interrupted").read_text()
        assert marks == "x", n  # one SIGINT each
    assert any(line.startswith("interrupted: stopping 2 shard(s)") for line in run.lines)
