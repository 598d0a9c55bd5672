"""errors.py: the exit-code table and one-line rendering of errors."""

from vcluster_ns.errors import (ClusterNotUp, EnvironmentUnsupported, ExitCode,
                                InvalidInput, OperationFailed, Refused, VclusterError)


def test_exit_code_table():
    assert [(c.name, int(c)) for c in ExitCode] == [
        ("OK", 0), ("FAILED", 1), ("USAGE", 2), ("REFUSED", 3),
        ("ENVIRONMENT", 4), ("NOT_UP", 5)]


def test_each_error_class_carries_its_exit_code():
    assert VclusterError("x").exit_code == ExitCode.FAILED
    assert OperationFailed("x").exit_code == 1
    assert InvalidInput("x").exit_code == 2
    assert Refused("x").exit_code == 3
    assert EnvironmentUnsupported("x").exit_code == 4
    assert ClusterNotUp("x").exit_code == 5


def test_one_line_without_hint():
    err = OperationFailed("disk is full")
    assert err.one_line() == "disk is full"
    assert str(err) == "disk is full"
    assert err.hint is None


def test_one_line_with_hint():
    err = InvalidInput("bad name", "use lowercase")
    assert err.one_line() == "bad name (use lowercase)"
    assert err.message == "bad name"
    assert "\n" not in err.one_line()
