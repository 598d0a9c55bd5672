"""Which commands vcluster-ns refuses to run, and why.

Every virtual node shares the host's kernel: a "reboot" of a virtual node is a
reboot of the developer's machine (Ganeti's ``powercycle`` writes to
``/proc/sysrq-trigger`` and then runs ``reboot -n -f``).  These are refused
before anything reaches the cluster; the reboot-family shims inside the
namespace refuse the same way for commands that arrive by another road.
"""

from __future__ import annotations

import os
import re
import shlex

from .errors import Refused

POWER_PROGRAMS = {
    "reboot": "reboot", "poweroff": "power off", "halt": "halt",
    "shutdown": "shut down",
}
SYSTEMCTL_VERBS = {"reboot", "poweroff", "halt", "kexec", "suspend", "hibernate",
                   "hybrid-sleep", "suspend-then-hibernate", "soft-reboot"}
SHELLS = {"sh", "bash", "dash", "zsh", "ksh"}
# Programs that run their arguments as a command, each with the options that
# take a separate argument (so the argument is not mistaken for the command).
WRAPPERS = {
    "env": {"-u", "--unset", "-C", "--chdir", "-S", "--split-string"},
    "nice": {"-n", "--adjustment"},
    "nohup": set(),
    "timeout": {"-s", "--signal", "-k", "--kill-after"},
    "sudo": {"-u", "--user", "-g", "--group", "-h", "--host", "-p", "--prompt",
             "-C", "--close-from", "-D", "--chdir", "-r", "--role", "-t", "--type"},
    "exec": {"-a"},
    "command": set(),
    "time": {"-f", "--format", "-o", "--output"},
    "setsid": set(),
    "ionice": {"-c", "--class", "-n", "--classdata", "-p", "--pid"},
    "stdbuf": {"-i", "--input", "-o", "--output", "-e", "--error"},
    "chroot": set(),
    "nsenter": {"-t", "--target", "-S", "--setuid", "-G", "--setgid", "-w", "--wd"},
}
ALTERNATIVE = "use 'vcluster-ns node restart NODE' to simulate a power cycle"


def refusal_message(operation: str) -> str:
    return (f"refused: '{operation}' would act on the real machine, not on a "
            f"virtual node (every virtual node shares the host's kernel)")


def check_command(argv: list[str]) -> None:
    """Raise ``Refused`` if running ``argv`` could power-cycle the host."""
    operation = dangerous_operation(argv)
    if operation:
        raise Refused(refusal_message(operation), ALTERNATIVE)


def dangerous_operation(argv: list[str]) -> str | None:
    argv = _unwrap(argv)
    if not argv:
        return None
    program = os.path.basename(argv[0])
    args = argv[1:]
    if program in POWER_PROGRAMS:
        return program
    if program in ("systemctl", "loginctl"):
        verb = next((a for a in args if not a.startswith("-")), None)
        if verb in SYSTEMCTL_VERBS:
            return f"{program} {verb}"
    if program in ("init", "telinit") and args[:1] in (["0"], ["6"]):
        return f"{program} {args[0]}"
    if program == "gnt-node" and "powercycle" in args:
        return "gnt-node powercycle"
    if program in SHELLS:
        script = shell_script(args)
        if script is not None:
            return dangerous_in_script(script)
    return None


def ganeti_command(argv: list[str]) -> str | None:
    """The Ganeti command (``gnt-*``) a command line runs first, as one
    string, through wrappers (env, nice, ...) and into ``sh -c SCRIPT`` (as
    ``<cluster>/<node>/cmd`` runs it); None if it runs none first."""
    argv = _unwrap(argv)
    if not argv:
        return None
    program = os.path.basename(argv[0])
    if program in SHELLS:
        script = shell_script(argv[1:])
        if script is None:
            return None
        try:
            words = shlex.split(re.split(r"[;&|\n()`]+|\$\(", script)[0], comments=True)
        except ValueError:
            return None
        return ganeti_command(words)
    return shlex.join(argv) if program.startswith("gnt-") else None


def shell_script(args: list[str]) -> str | None:
    """The script of ``sh -c SCRIPT``, also with bundled flags (``-lc``, ``-ec``)."""
    for index, arg in enumerate(args):
        if arg == "--" or not arg.startswith("-"):
            return None
        if not arg.startswith("--") and "c" in arg[1:]:
            rest = [a for a in args[index + 1:] if not a.startswith("-")]
            return rest[0] if rest else None
    return None


def dangerous_in_script(script: str) -> str | None:
    """Look at every simple command of a shell script given with ``-c``."""
    for part in re.split(r"[;&|\n()`]+|\$\(", script):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            words = part.split()
        operation = dangerous_operation(words)
        if operation:
            return operation
    return None


def _unwrap(argv: list[str]) -> list[str]:
    argv = list(argv)
    while argv:
        program = os.path.basename(argv[0])
        if program in WRAPPERS:
            with_argument = WRAPPERS[program]
            argv = argv[1:]
            # Skip the wrapper's own options (and their arguments), VAR=value
            # assignments, and timeout's duration.
            while argv and (argv[0].startswith("-") or "=" in argv[0]
                            or (program == "timeout" and argv[0][:1].isdigit())):
                option = argv.pop(0)
                if option == "--":
                    break
                if option in with_argument and argv:
                    argv.pop(0)
        elif "=" in argv[0] and not argv[0].startswith("/"):
            argv = argv[1:]
        else:
            break
    return argv
