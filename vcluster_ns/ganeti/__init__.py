"""Everything vcluster-ns knows about Ganeti, in one package.

The namespace, network, mount and runner layers know nothing of Ganeti.
Here:

* ``install``: which Ganeti a cluster runs (the system's, or a tree given
  with ``--ganeti``), its version, its files on the host, what it accepts;
* ``daemons``: which daemons a node runs, their arguments and readiness;
* ``bootstrap``: ``gnt-cluster init`` and ``gnt-node add`` on a new cluster.

The names most callers need are re-exported, so ``ganeti.daemon_argv`` and
the like keep working.
"""

from .daemons import *  # noqa: F401,F403
from .daemons import (ALL_DAEMONS, GROUPS, LONGEST_SOCKET, LOST_VOTE,  # noqa: F401
                      MASTER_DAEMONS, MASTER_IP_LABEL, NODE_DAEMONS, NOT_MASTER_EXIT,
                      ON_DEMAND, PORTS, RAPI_PORT, RAPI_USER, SKIPPED, SOCKETS,
                      START_ORDER, UDP_PORTS, USERS, Readiness)
from .install import DAEMON_UTIL, ENSURE_DIRS, WATCHER, Installation  # noqa: F401
from .bootstrap import (IPOLICY_BOUNDS, TRANSIENT_ADD_ERRORS,  # noqa: F401
                        cluster_ip_route_argv, init_argv, is_transient_add_error,
                        node_add_argv, node_list_argv, secondary_ip_args)
