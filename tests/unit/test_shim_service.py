"""shims/service.py: 'service ganeti ACTION' as daemon-util verbs; other services refused."""

import pytest

from vcluster_ns.errors import ExitCode
from vcluster_ns.shims import SHIMS, service


@pytest.mark.parametrize("args, verbs", [
    (["ganeti", "start"], ("start-all",)),
    (["ganeti", "stop"], ("stop-all",)),
    (["ganeti", "restart"], ("stop-all", "start-all")),
    (["ganeti", "force-reload"], ("stop-all", "start-all")),
])
def test_ganeti_actions_are_the_init_scripts_daemon_util_verbs(args, verbs):
    assert service.verbs_for(args) == verbs


def test_other_services_are_refused():
    why = service.verbs_for(["ssh", "restart"])
    assert why.startswith("refused: 'service ssh'") and "host" in why


@pytest.mark.parametrize("args", [[], ["ganeti"], ["ganeti", "reload-everything"]])
def test_bad_usage_says_what_is_accepted(args):
    assert "restart" in service.verbs_for(args)


def test_main_refuses_without_calling_daemon_util(monkeypatch, capsys):
    called = []
    monkeypatch.setattr(service.daemon_util, "main", lambda argv, d: called.append(argv) or 0)
    assert service.main(["service", "nginx", "start"], "/nonexistent") == ExitCode.REFUSED
    assert called == [] and "refused" in capsys.readouterr().err


def test_main_restart_stops_then_starts_and_stops_at_a_failure(monkeypatch):
    called = []
    monkeypatch.setattr(service.daemon_util, "main",
                        lambda argv, d: called.append(argv[1]) or 0)
    assert service.main(["service", "ganeti", "restart"], "/c") == 0
    assert called == ["stop-all", "start-all"]
    called.clear()
    monkeypatch.setattr(service.daemon_util, "main",
                        lambda argv, d: called.append(argv[1]) or 1)
    assert service.main(["service", "ganeti", "restart"], "/c") == 1
    assert called == ["stop-all"]


def test_the_shim_shadows_service():
    assert SHIMS["/usr/sbin/service"] == "service"
