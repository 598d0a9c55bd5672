"""The ``vcluster-ns`` program: a short way for a plain ``run``, click for the rest.

``vcluster-ns run NODE COMMAND`` is what scripts and loops type most, and
importing click and the command table is a third of its overhead (about
20 ms of ~70).  A command line of exactly the form::

    vcluster-ns [--cluster NAME | -c NAME] [--root DIR] run NODE [--] COMMAND...

takes the short way: the same VirtualCluster call as the click command, the
same one-line errors and exit codes.  Anything else (help, a typo, an option
click must judge) goes to click, so usage messages stay click's own.
"""

from __future__ import annotations

import os
import sys

from .roots import DEFAULT_CLUSTER, ENV_DEFAULTS

# Global options the short way understands, as click declares them in cli.py.
GLOBAL_OPTIONS = {"--cluster": "cluster", "-c": "cluster", "--root": "root"}


def parse_plain_run(args: list[str]) -> tuple[str, str | None, str, list[str]] | None:
    """(cluster, root, node, command) of a plain ``run``; None: leave it to click."""
    options: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        name, equals, value = args[i].partition("=")
        key = GLOBAL_OPTIONS.get(name)
        if key is None or key in options or (equals and name == "-c"):
            return None
        if not equals:
            if i + 1 >= len(args):
                return None
            value = args[i + 1]
            i += 1
        if not value:
            return None
        options[key] = value
        i += 1
    if args[i:i + 1] != ["run"]:
        return None
    rest = args[i + 1:]
    if not rest or rest[0].startswith("-"):
        return None
    node, command = rest[0], rest[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        return None
    for key, var in ENV_DEFAULTS.items():
        if key not in options and os.environ.get(var):
            options[key] = os.environ[var]
    return options.get("cluster", DEFAULT_CLUSTER), options.get("root"), node, command


def run_plain(cluster: str, root: str | None, node: str, command: list[str]) -> int:
    from . import policy
    from .cluster import VirtualCluster
    from .errors import VclusterError
    from .roots import root_option

    try:
        policy.check_command(command)
        vc = VirtualCluster(cluster, root_option(root))
        code = vc.run_foreground(node, command, cwd=os.getcwd())
        hint = vc.not_master_hint(node, command, code)
        if hint:
            print(hint, file=sys.stderr)
        return code
    except VclusterError as exc:
        # What click prints for cli.CliError.
        print(f"Error: {exc.one_line()}", file=sys.stderr)
        return int(exc.exit_code)


def main() -> None:
    plain = parse_plain_run(sys.argv[1:])
    if plain is None:
        from .cli import entry
        entry()
        return
    try:
        code = run_plain(*plain)
    except KeyboardInterrupt:  # before the command started; click says the same
        print("Aborted!", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
