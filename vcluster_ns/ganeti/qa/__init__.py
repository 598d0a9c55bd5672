"""Ganeti's own QA (``qa/ganeti-qa.py``) on a virtual cluster.

``vcluster-ns qa`` runs QA unchanged on a fresh cluster per attempt.  This
package is everything about QA itself; bringing clusters up and down is
not here but in ``vcluster_ns.qa_run`` (the host-side runner, which uses
``VirtualCluster``: nothing under ``ganeti/`` imports that facade).

One module per concern, and per place it runs:

=============  =============================================  ====================
module         job                                            runs
=============  =============================================  ====================
``suite``      where an installation keeps QA, which Python   host
               and ``PYTHONPATH`` run it, staging an
               installed QA where it finds ``tools/burnin``,
               and the path of ``driver.py``
``catalogue``  QA's test names (read from its sources),       host
               QA's own setup (``ALWAYS``), ``select`` for
               ``--only``/``--skip`` and the built-in skips
               of the version tested, ``switch_off`` for
               ``--keep-going``
``skips``      the built-in ``SKIPS``: each key's reason      host
               and the Ganeti ``VersionRange`` it holds on
``config``     the QA config (JSON) built from a cluster's    host, before QA
               spec and a selection, in QA's virtual-cluster
               mode
``driver``     calls QA's own ``main()``, adding the config   inside the cluster,
               keys before each test and the declared         with the Ganeti
               workarounds                                    installation's Python
``output``     QA's output (and the driver's lines) read      host, while QA runs
               into ``TestResult``s as tests end
``report``     ``Report`` of all attempts, the summary        host, at the end
               rows, JUnit XML
``shards``     which key needs which (read from QA's code),   host, before QA
               the shard plan (longest first), which shard
               reports a test
``timings``    the duration table the plan balances by        host
               (JUnit files, the kept table, the built-in
               one in ``builtin_timings``)
=============  =============================================  ====================

``driver.py`` is started by path (``suite.driver_script()``) with the
installation's interpreter and ``PYTHONPATH``, not as part of this
package: it imports only the standard library and QA, never vcluster-ns
or its dependencies.  The flow of one attempt: ``suite`` finds QA,
``catalogue`` selects, ``config`` writes the config, the runner starts
``driver`` on the master, ``output`` reads what it prints, ``report``
sums up.

This ``__init__`` imports nothing, so that importing one module does not
load the rest.
"""
