"""runner.Supervisor with fake daemons: restart, backoff, ok exits, stop, readiness."""

import os
import signal
import sys
import threading
import time
from contextlib import asynccontextmanager, contextmanager

import trio

from vcluster_ns.runner import DaemonSpec, RestartPolicy, Supervisor

FAST = RestartPolicy(initial=0.01, factor=2.0, cap=0.05, max_restarts=3, window=60.0,
                     jitter=0.0)


@contextmanager
def real_time_limit(seconds: float):
    """Fail the test if the block runs longer than ``seconds`` of wall time.

    Works under the autojump clock too: trio's own deadlines there are virtual.
    """
    token = trio.lowlevel.current_trio_token()
    finished = threading.Event()
    scope = trio.CancelScope()

    def watchdog():
        if not finished.wait(seconds):
            try:
                trio.from_thread.run_sync(scope.cancel, trio_token=token)
            except trio.RunFinishedError:
                pass

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        with scope:
            yield
    finally:
        finished.set()
    assert not scope.cancelled_caught, f"still waiting after {seconds}s of real time"


@asynccontextmanager
async def supervisor(**kwargs):
    async with trio.open_nursery() as nursery:
        sup = Supervisor(nursery, **kwargs)
        try:
            yield sup
        finally:
            with trio.CancelScope(shield=True):
                await sup.stop_all(kill=True)
            nursery.cancel_scope.cancel()


def fake(tmp_path, name, code, group="node1", **kwargs):
    return DaemonSpec(group=group, name=name, argv=[sys.executable, "-c", code],
                      env=dict(os.environ), log_path=tmp_path / "logs" / f"{name}.log",
                      **kwargs)


def file_probe(path):
    async def probe():
        return path.exists()
    return probe


async def test_crashing_daemon_backs_off_then_fails(tmp_path, autojump_clock):
    policy = RestartPolicy(initial=10.0, factor=2.0, cap=25.0, max_restarts=3,
                           window=600.0, jitter=0.1)
    code = "import sys; print('boom: cannot bind', flush=True); sys.exit(3)"
    with real_time_limit(20):
        async with supervisor(policy=policy) as sup:
            t0 = trio.current_time()
            daemon = await sup.start(fake(tmp_path, "crasher", code), wait=False)
            states = []
            while not daemon.done.is_set():
                states.append(daemon.state)
                await daemon.changed.wait()
            elapsed = trio.current_time() - t0
    assert daemon.state == "failed"
    assert daemon.last_exit == 3
    assert daemon.restarts == 3
    assert len(daemon.crash_times) == 4
    assert "boom: cannot bind" in daemon.failure
    assert "backoff" in states
    # delays 10, 20, then 40 capped to 25, each +-10%: the backoff really waited.
    assert 55 * 0.9 <= elapsed <= 55 * 1.1
    assert (tmp_path / "logs" / "crasher.log").read_text().count("boom") == 4
    status = sup.status()[0]
    assert status["state"] == "failed" and status["pid"] is None
    assert status["restarts"] == 3 and status["last_exit"] == 3


async def test_restart_count_grows_before_giving_up(tmp_path):
    with real_time_limit(20):
        async with supervisor(policy=FAST) as sup:
            daemon = await sup.start(fake(tmp_path, "c", "import sys; sys.exit(3)"),
                                     wait=False)
            seen = set()
            while not daemon.done.is_set():
                seen.add(daemon.restarts)
                await daemon.changed.wait()
    assert seen >= {0, 1, 2, 3}
    assert daemon.state == "failed" and daemon.restarts == 3


async def test_ok_exit_is_not_restarted(tmp_path, autojump_clock):
    with real_time_limit(20):
        async with supervisor(policy=FAST) as sup:
            daemon = await sup.start(
                fake(tmp_path, "wconfd", "import sys; sys.exit(11)",
                     ok_exits={11: "not-master"}))
            await daemon.done.wait()
            await trio.sleep(10)  # nothing restarts it later either
    assert daemon.state == "not-master"
    assert daemon.last_exit == 11
    assert daemon.restarts == 0
    assert daemon.failure is None
    assert sup.status()[0]["state"] == "not-master"


async def test_an_exit_explained_in_the_log_is_not_restarted(tmp_path, autojump_clock):
    script = ("import sys; print('Failed to verify master status: Voting cannot be won "
              "by node1'); sys.exit(1)")
    with real_time_limit(20):
        async with supervisor(policy=FAST) as sup:
            daemon = await sup.start(fake(tmp_path, "wconfd", script,
                                          ok_messages={"Voting cannot be won": "not-master"}))
            await daemon.done.wait()
            crashing = await sup.start(fake(tmp_path, "luxid", "import sys; sys.exit(1)",
                                            ok_messages={"Voting cannot be won": "x"}),
                                       wait=False)
            await crashing.done.wait()
    assert (daemon.state, daemon.last_exit, daemon.restarts) == ("not-master", 1, 0)
    assert crashing.state == "failed"


async def test_exit_zero_is_a_crash_unless_listed(tmp_path):
    with real_time_limit(20):
        async with supervisor(policy=FAST) as sup:
            daemon = await sup.start(fake(tmp_path, "z", "pass"), wait=False)
            await daemon.done.wait()
    assert daemon.state == "failed" and daemon.last_exit == 0


async def test_stop_escalates_to_sigkill_after_grace(tmp_path):
    ready = tmp_path / "ready"
    got_term = tmp_path / "got-term"
    code = (
        "import signal, sys, time, pathlib\n"
        f"def on_term(*_): pathlib.Path({str(got_term)!r}).write_text('TERM')\n"
        "signal.signal(signal.SIGTERM, on_term)\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "while True: time.sleep(1)\n"
    )
    grace = 0.5
    with real_time_limit(20):
        async with supervisor(policy=FAST, grace=grace) as sup:
            daemon = await sup.start(fake(tmp_path, "stubborn", code,
                                          probe=file_probe(ready)))
            assert daemon.state == "running"
            pid = daemon.pid
            t0 = time.monotonic()
            await sup.stop("node1", "stubborn")
            elapsed = time.monotonic() - t0
    assert daemon.state == "stopped"
    assert got_term.read_text() == "TERM"          # SIGTERM came first...
    assert daemon.process.returncode == -signal.SIGKILL  # ...then SIGKILL
    assert elapsed >= grace * 0.9
    assert daemon.restarts == 0
    assert not os.path.exists(f"/proc/{pid}") or _is_other_process(pid)


def _is_other_process(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"got-term" not in fh.read()
    except OSError:
        return True


async def test_stop_of_well_behaved_daemon_needs_only_sigterm(tmp_path):
    with real_time_limit(20):
        async with supervisor(policy=FAST, grace=30) as sup:
            daemon = await sup.start(fake(tmp_path, "polite", "import time; time.sleep(600)"))
            assert daemon.state == "running"
            t0 = time.monotonic()
            await sup.stop("node1", "polite")
            elapsed = time.monotonic() - t0
    assert daemon.state == "stopped"
    assert daemon.process.returncode == -signal.SIGTERM
    assert elapsed < 10
    assert sup.status()[0]["pid"] is None


async def test_stop_with_kill(tmp_path):
    with real_time_limit(20):
        async with supervisor(policy=FAST, grace=30) as sup:
            daemon = await sup.start(fake(tmp_path, "d", "import time; time.sleep(600)"))
            await sup.stop("node1", "d", kill=True)
    assert daemon.state == "stopped"
    assert daemon.process.returncode == -signal.SIGKILL


async def test_stop_during_backoff(tmp_path, autojump_clock):
    policy = RestartPolicy(initial=1000.0, cap=1000.0, jitter=0.0, max_restarts=5)
    with real_time_limit(20):
        async with supervisor(policy=policy) as sup:
            daemon = await sup.start(fake(tmp_path, "c", "import sys; sys.exit(1)"),
                                     wait=False)
            while daemon.state != "backoff":
                await daemon.changed.wait()
            t0 = trio.current_time()
            await sup.stop("node1", "c")
            assert trio.current_time() - t0 < 1000
    assert daemon.state == "stopped" and daemon.restarts == 1


async def test_killed_daemon_is_restarted(tmp_path):
    with real_time_limit(20):
        async with supervisor(policy=FAST) as sup:
            daemon = await sup.start(fake(tmp_path, "d", "import time; time.sleep(600)"))
            first = daemon.pid
            await sup.kill("node1", "d")
            while not (daemon.state == "running" and daemon.pid != first):
                await daemon.changed.wait()
            assert daemon.restarts == 1
            assert daemon.last_exit == -signal.SIGKILL


async def test_probe_decides_when_running(tmp_path):
    flag = tmp_path / "ready"
    with real_time_limit(20):
        async with supervisor(policy=FAST) as sup:
            daemon = await sup.start(fake(tmp_path, "d", "import time; time.sleep(600)",
                                          probe=file_probe(flag)), wait=False)
            with trio.move_on_after(0.3):
                await sup.wait_settled(daemon)
            assert daemon.state == "starting"
            assert sup.status()[0]["uptime"] is None
            flag.touch()
            await sup.wait_settled(daemon, timeout=10)
            assert daemon.state == "running"
            assert sup.status()[0]["pid"] == daemon.pid


async def test_probe_never_true_reports_not_ready(tmp_path, autojump_clock):
    async def never():
        return False

    with real_time_limit(20):
        async with supervisor(policy=FAST, ready_timeout=90) as sup:
            daemon = await sup.start(fake(tmp_path, "d", "import time; time.sleep(600)",
                                          probe=never), wait=False)
            while daemon.failure is None:
                await daemon.changed.wait()
            assert daemon.failure == "not ready after 90s"
            assert daemon.state == "starting"
            assert trio.current_time() >= 90


async def test_pid_file_written(tmp_path):
    pid_file = tmp_path / "d.pid"
    with real_time_limit(20):
        async with supervisor(policy=FAST) as sup:
            daemon = await sup.start(fake(tmp_path, "d", "import time; time.sleep(600)",
                                          pid_file=pid_file))
            assert pid_file.read_text() == f"{daemon.pid}\n"


def blocked_mask(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigBlk in /proc/{pid}/status")


async def test_blocked_signals_reach_the_daemon_and_no_other(tmp_path):
    bit = 1 << (signal.SIGVTALRM - 1)
    with real_time_limit(20):
        async with supervisor(policy=FAST) as sup:
            quiet = await sup.start(fake(tmp_path, "quiet", "import time; time.sleep(600)",
                                         blocked_signals=(signal.SIGVTALRM,)))
            plain = await sup.start(fake(tmp_path, "plain", "import time; time.sleep(600)"))
            assert blocked_mask(quiet.pid) & bit
            assert not blocked_mask(plain.pid) & bit
    # the supervisor itself keeps its mask
    assert not signal.pthread_sigmask(signal.SIG_BLOCK, []) & {signal.SIGVTALRM}


async def test_concurrent_start_of_many_groups(tmp_path):
    code = ("import pathlib, sys, time; time.sleep(1); "
            "pathlib.Path(sys.argv[1]).touch(); time.sleep(600)")
    specs = []
    for g in range(20):
        for d in range(3):
            ready = tmp_path / f"ready-{g}-{d}"
            specs.append(DaemonSpec(
                group=f"node{g}", name=f"d{d}",
                argv=[sys.executable, "-c", code, str(ready)], env=dict(os.environ),
                log_path=tmp_path / "logs" / f"{g}-{d}.log", probe=file_probe(ready)))
    with real_time_limit(60):
        async with supervisor(policy=FAST, ready_timeout=60) as sup:
            t0 = time.monotonic()
            async with trio.open_nursery() as nursery:
                for spec in specs:
                    nursery.start_soon(sup.start, spec)
            elapsed = time.monotonic() - t0
            assert [d["state"] for d in sup.status()] == ["running"] * 60
            assert len({d["pid"] for d in sup.status()}) == 60
            await sup.stop_all()
            assert {d["state"] for d in sup.status()} == {"stopped"}
    assert elapsed < 10, f"60 daemons of ~1 s each took {elapsed:.1f}s"
