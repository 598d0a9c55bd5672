"""pidfile.py: pid plus start time, so a reused pid is not taken for ours."""

import os

from vcluster_ns.pidfile import PidFile, start_time


def fake_stat(tmp_path, pid, comm, starttime):
    d = tmp_path / "proc" / str(pid)
    d.mkdir(parents=True)
    # fields 3..52 after "(comm)"; field 22 (starttime) is the 20th of them
    rest = ["S"] + [str(i) for i in range(4, 22)] + [starttime] + ["0"] * 30
    (d / "stat").write_text(f"{pid} ({comm}) " + " ".join(rest) + "\n")
    return str(tmp_path / "proc")


def test_start_time_parses_awkward_command_names(tmp_path):
    proc = fake_stat(tmp_path, 4242, "we ird) (name", "987654")
    assert start_time(4242, proc) == "987654"


def test_start_time_of_missing_process(tmp_path):
    assert start_time(4242, str(tmp_path)) is None


def test_start_time_of_this_process_is_stable():
    assert start_time(os.getpid()) == start_time(os.getpid()) is not None


def test_write_and_live_pid(tmp_path):
    pf = PidFile(tmp_path / "supervisor.pid")
    pf.write(os.getpid())
    assert pf.read_raw() == (os.getpid(), start_time(os.getpid()))
    assert pf.live_pid() == os.getpid()
    assert not (tmp_path / "supervisor.pid.tmp").exists()


def test_stale_pid_file(tmp_path):
    path = tmp_path / "supervisor.pid"
    path.write_text(f"{os.getpid()} 1\n")     # our pid, another start time
    assert PidFile(path).live_pid() is None


def test_garbage_or_missing_pid_file(tmp_path):
    path = tmp_path / "supervisor.pid"
    assert PidFile(path).live_pid() is None
    for text in ("", "abc def", "12", "1 2 3"):
        path.write_text(text)
        assert PidFile(path).read_raw() is None
        assert PidFile(path).live_pid() is None


def test_remove_if(tmp_path):
    path = tmp_path / "supervisor.pid"
    path.write_text("100 5\n")
    PidFile(path).remove_if(101)
    assert path.exists()
    PidFile(path).remove_if(100)
    assert not path.exists()
    PidFile(path).remove_if(100)  # already gone: no error
