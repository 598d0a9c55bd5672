"""policy.py: which commands are refused because they would reboot the host."""

import pytest

from vcluster_ns.errors import ExitCode, Refused
from vcluster_ns.policy import check_command, dangerous_operation

DANGEROUS = [
    (["reboot"], "reboot"),
    (["reboot", "-f"], "reboot"),
    (["poweroff"], "poweroff"),
    (["halt"], "halt"),
    (["shutdown", "-h", "now"], "shutdown"),
    (["/sbin/reboot"], "reboot"),
    (["/usr/sbin/poweroff", "--force"], "poweroff"),
    (["systemctl", "reboot"], "systemctl reboot"),
    (["systemctl", "--force", "reboot"], "systemctl reboot"),
    (["systemctl", "poweroff"], "systemctl poweroff"),
    (["systemctl", "kexec"], "systemctl kexec"),
    (["loginctl", "reboot"], "loginctl reboot"),
    (["init", "0"], "init 0"),
    (["telinit", "6"], "telinit 6"),
    (["gnt-node", "powercycle", "node2"], "gnt-node powercycle"),
    (["gnt-node", "--debug", "powercycle", "--yes", "node2"], "gnt-node powercycle"),
    (["/usr/sbin/gnt-node", "powercycle", "-f", "node1"], "gnt-node powercycle"),
    (["bash", "-c", "reboot"], "reboot"),
    (["bash", "-c", "echo hi; reboot"], "reboot"),
    (["sh", "-c", "true && poweroff"], "poweroff"),
    (["bash", "-c", "false || halt"], "halt"),
    (["bash", "-c", "echo $(reboot)"], "reboot"),
    (["bash", "-c", "echo `reboot`"], "reboot"),
    (["bash", "-c", "sleep 1 &\n/sbin/reboot -f"], "reboot"),
    (["bash", "-c", "gnt-node powercycle node2"], "gnt-node powercycle"),
    (["bash", "-c", "(cd /; systemctl reboot)"], "systemctl reboot"),
    (["dash", "-e", "-c", "exec reboot"], "reboot"),
    (["env", "reboot"], "reboot"),
    (["env", "FOO=1", "BAR=2", "reboot"], "reboot"),
    (["env", "-i", "/sbin/reboot"], "reboot"),
    (["FOO=1", "reboot"], "reboot"),
    (["nice", "reboot"], "reboot"),
    (["nice", "-n10", "reboot"], "reboot"),
    (["timeout", "5", "reboot"], "reboot"),
    (["timeout", "5s", "shutdown", "-h", "now"], "shutdown"),
    (["nohup", "halt"], "halt"),
    (["sudo", "reboot"], "reboot"),
    (["setsid", "nice", "env", "timeout", "5", "reboot"], "reboot"),
    (["env", "bash", "-c", "true; reboot"], "reboot"),
    (["bash", "-c", "bash -c 'reboot'"], "reboot"),
]

HARMLESS = [
    [],
    ["gnt-node", "list"],
    ["gnt-node", "list", "-o", "name"],
    ["gnt-cluster", "verify"],
    ["echo", "reboot"],
    ["bash", "-c", "echo reboot"],
    ["bash", "-c", "gnt-node list; echo done"],
    ["grep", "reboot", "/var/log/syslog"],
    ["man", "shutdown"],
    ["systemctl", "status"],
    ["systemctl", "restart", "ganeti"],
    ["init", "3"],
    ["ls", "/sbin/reboot"],
    ["cat", "/usr/sbin/halt"],
    ["bash", "-c"],
    ["bash"],
    ["env"],
    ["timeout", "5"],
    ["rebooter"],
    ["gnt-instance", "reboot", "instance1"],
]


@pytest.mark.parametrize("argv,operation", DANGEROUS)
def test_dangerous(argv, operation):
    assert dangerous_operation(argv) == operation


@pytest.mark.parametrize("argv", HARMLESS)
def test_harmless(argv):
    assert dangerous_operation(argv) is None
    check_command(argv)  # does not raise


def test_check_command_refuses_with_exit_code_and_operation():
    with pytest.raises(Refused) as exc:
        check_command(["gnt-node", "powercycle", "node2"])
    assert exc.value.exit_code == ExitCode.REFUSED == 3
    assert "'gnt-node powercycle'" in exc.value.message
    assert "real machine" in exc.value.message
    assert "node restart" in exc.value.hint


def test_check_command_names_the_systemctl_verb():
    with pytest.raises(Refused, match="'systemctl reboot'"):
        check_command(["env", "systemctl", "reboot"])


# Wrappers whose options take a separate argument, and shells given -c in a
# bundle of flags, still run the power program; the policy lets them through.
@pytest.mark.parametrize("argv", [
    ["nice", "-n", "10", "reboot"],
    ["timeout", "-s", "KILL", "5", "reboot"],
    ["env", "-u", "HOME", "reboot"],
    ["sudo", "-u", "root", "reboot"],
])
def test_wrapper_option_arguments(argv):
    assert dangerous_operation(argv) == "reboot"


@pytest.mark.parametrize("argv", [["bash", "-lc", "reboot"], ["sh", "-ec", "poweroff"]])
def test_shell_bundled_c_flag(argv):
    assert dangerous_operation(argv) is not None
