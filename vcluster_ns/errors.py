"""One error hierarchy and the one table of exit codes.

Library code raises these; only ``cli.py`` turns them into a one-line
message and an exit status.  Each error carries an optional hint: the thing
the user can do about it.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes of every vcluster-ns command (documented in docs/errors.md)."""

    OK = 0
    FAILED = 1          # the operation was attempted and failed
    USAGE = 2           # bad arguments or input (click's own usage errors too)
    REFUSED = 3         # refused by policy (powercycle, reboot, ...)
    ENVIRONMENT = 4     # this machine cannot run clusters (no userns, no Ganeti)
    NOT_UP = 5          # no such cluster, or it is not running


class VclusterError(Exception):
    """Base class: a message, an optional hint and an exit code."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class OperationFailed(VclusterError):
    exit_code = ExitCode.FAILED


class InvalidInput(VclusterError):
    exit_code = ExitCode.USAGE


class Refused(VclusterError):
    exit_code = ExitCode.REFUSED


class EnvironmentUnsupported(VclusterError):
    exit_code = ExitCode.ENVIRONMENT


class ClusterNotUp(VclusterError):
    exit_code = ExitCode.NOT_UP
