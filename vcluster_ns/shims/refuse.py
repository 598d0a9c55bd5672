"""``reboot``, ``poweroff``, ``halt``, ``shutdown`` inside a cluster: refused.

Ganeti's powercycle falls back to ``reboot -n -f``; inside the namespaces
that would at best kill the whole virtual cluster (reboot(2) in a pid
namespace ends its init) and at worst, run as real root, the host.  The
shim never calls the kernel; it records the attempt in the supervisor's log.
"""

from __future__ import annotations

import os
import sys

from .. import control
from ..errors import ExitCode, VclusterError
from ..layout import ClusterPaths
from ..policy import ALTERNATIVE, refusal_message


def main(argv: list[str], cluster_dir: str) -> int:
    operation = " ".join([os.path.basename(argv[0]), *argv[1:]])
    node = os.environ.get("GANETI_HOSTNAME", "")
    print(f"vcluster-ns: {refusal_message(operation)} ({ALTERNATIVE})", file=sys.stderr)
    try:
        control.request(ClusterPaths(__import__("pathlib").Path(cluster_dir)).control_socket,
                        {"op": "refusal", "operation": operation, "node": node}, timeout=10)
    except VclusterError:
        pass
    return int(ExitCode.REFUSED)
