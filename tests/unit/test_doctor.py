"""doctor's checks against simulated machines (no sysctl or host file changed)."""

from __future__ import annotations

import resource

import pytest

from vcluster_ns import doctor
from vcluster_ns.errors import EnvironmentUnsupported


class FakeMachine(doctor.Machine):
    def __init__(self, sysctls=None, packages=None, programs=None, mem=24000,
                 nofile=65536, nproc=100000, userns_error=None, links_error=None,
                 files=(), netem_error=None, neighbours=100, cores=2, damon=()):
        self.sysctls = {"fs.inotify.max_user_instances": "128",
                        "net.ipv4.neigh.default.gc_thresh3": "1024", **(sysctls or {})}
        self.packages = {"ganeti": "3.0.2-3", "ganeti-os-noop": "0.2-5"} \
            if packages is None else packages
        self.programs = programs
        self.mem = mem
        self.limits = {resource.RLIMIT_NOFILE: nofile, resource.RLIMIT_NPROC: nproc}
        self._userns_error = userns_error
        self._links_error = links_error
        self._netem_error = netem_error
        self.files = set(files)
        self.neighbours = neighbours
        self._cores = cores
        self.damon = list(damon)

    def sysctl(self, name):
        return self.sysctls.get(name)

    def exists(self, path):
        return path in self.files

    def package_version(self, package):
        return self.packages.get(package)

    def which(self, program):
        if self.programs is None:
            return f"/usr/bin/{program}"
        return f"/usr/bin/{program}" if program in self.programs else None

    def mem_available_mb(self):
        return self.mem

    def rlimit(self, which):
        return self.limits[which]

    def hard_rlimit(self, which):
        return self.limits[which]

    def neighbour_entries(self):
        return self.neighbours

    def cores(self):
        return self._cores

    def userns_error(self):
        return self._userns_error

    def link_kinds_error(self):
        return self._links_error

    def netem_error(self):
        return self._netem_error

    def damon_monitors(self):
        return self.damon


def by_name(checks):
    return {c.name: c for c in checks}


def test_a_good_machine_passes():
    checks = by_name(doctor.run_checks(3, FakeMachine(files={"/proc/sysrq-trigger"})))
    assert all(c.status == doctor.OK for name, c in checks.items()
               if name not in ("ganeti",)), checks
    assert "tripwire" in checks["sysrq"].detail


@pytest.mark.parametrize("sysctls, words", [
    ({"kernel.unprivileged_userns_clone": "0"}, "unprivileged_userns_clone=1"),
    ({"kernel.apparmor_restrict_unprivileged_userns": "1"}, "apparmor_restrict_unprivileged_userns=0"),
    ({"user.max_user_namespaces": "0"}, "max_user_namespaces=15000"),
])
def test_userns_settings_name_their_fix(sysctls, words):
    check = doctor.check_userns(FakeMachine(sysctls=sysctls), 3)
    assert check.status == doctor.FAIL and words in check.fix


def test_userns_refused_without_a_known_setting():
    check = doctor.check_userns(FakeMachine(userns_error="Operation not permitted"), 3)
    assert check.status == doctor.FAIL and "Operation not permitted" in check.detail


def test_missing_noop_os_is_a_warning_and_named():
    check = doctor.check_noop_os(FakeMachine(packages={"ganeti": "3.0.2-3"}), 3)
    assert check.status == doctor.WARN and "apt-get install ganeti-os-noop" in check.fix


def test_missing_programs_fail():
    check = doctor.check_programs(FakeMachine(programs={"bash", "sleep", "ip"}), 3)
    assert check.status == doctor.FAIL and "nsenter" in check.detail


def test_missing_link_kinds_fail():
    check = doctor.check_links(FakeMachine(links_error="veth: not supported"), 3)
    assert check.status == doctor.FAIL and "veth" in check.detail


def test_absent_netem_is_a_warning_that_names_what_still_works():
    check = doctor.check_netem(FakeMachine(netem_error="Specified qdisc kind is unknown."), 3)
    assert check.status == doctor.WARN
    assert "exit 4" in check.detail and "partition" in check.detail
    assert "sch_netem" in check.fix
    assert doctor.check_netem(FakeMachine(), 3).status == doctor.OK


def test_absent_sysrq_is_explained():
    check = doctor.check_sysrq(FakeMachine(), 3)
    assert check.status == doctor.WARN and "gnt-cluster verify" in check.detail
    assert "ENODESETUP" in check.detail and "--ignore-errors=ENODESETUP" in check.fix


def test_memory_for_n_nodes():
    assert doctor.check_memory(FakeMachine(mem=1000), 3).status == doctor.OK
    tight = doctor.check_memory(FakeMachine(mem=1000), 20)
    assert tight.status == doctor.FAIL and "20 nodes" in tight.detail


def test_inotify_bites_at_scale():
    assert doctor.check_inotify(FakeMachine(), 100).status == doctor.OK
    check = doctor.check_inotify(FakeMachine(), 200)
    assert check.status == doctor.FAIL and "max_user_instances" in check.fix


def test_limits():
    assert doctor.check_limits(FakeMachine(nofile=256), 100).status == doctor.FAIL
    assert doctor.check_limits(FakeMachine(nproc=100), 100).status == doctor.FAIL
    assert doctor.check_limits(FakeMachine(), 100).status == doctor.OK


def test_require_raises_environment_error_with_the_fix():
    with pytest.raises(EnvironmentUnsupported) as info:
        doctor.require(300, FakeMachine())
    assert info.value.exit_code == 4
    assert "sysctl -w fs.inotify.max_user_instances" in info.value.one_line()


def test_missing_tc_is_not_advised_as_a_missing_kernel_module():
    """Issue 14: without tc (or with tc outside the caller's PATH, which the
    probe no longer relies on), modprobe is the wrong advice."""
    check = doctor.check_netem(FakeMachine(netem_error=doctor.NO_TC), 3)
    assert check.status == doctor.WARN
    assert "iproute2" in check.fix and "modprobe" not in check.fix


def test_netem_probe_finds_tc_without_the_callers_path(monkeypatch):
    import shutil
    from vcluster_ns.nodes import BASE_PATH, search_path
    monkeypatch.setenv("PATH", "/nonexistent")
    if shutil.which("tc", path=BASE_PATH) is None:
        pytest.skip("tc is not installed here")
    assert doctor.netem_error() != doctor.NO_TC  # found in BASE_PATH, not in PATH
    assert search_path("/usr/bin:/bin:/opt/x").split(":") == BASE_PATH.split(":") + ["/opt/x"]
    assert search_path("").split(":") == BASE_PATH.split(":")


def test_limits_count_the_hard_open_files_limit_that_up_raises_to():
    check = doctor.check_limits(FakeMachine(nofile=4096), 300)
    assert check.status == doctor.OK and "4096" in check.detail
    check = doctor.check_limits(FakeMachine(nofile=1024), 300)
    assert check.status == doctor.FAIL
    assert "hard limit 1024 < 2656" in check.detail and "limits.conf" in check.fix


def test_namespace_limits_for_n_nodes():
    machine = FakeMachine(sysctls={"user.max_net_namespaces": "100"})
    assert doctor.check_namespaces(machine, 50).status == doctor.OK
    check = doctor.check_namespaces(machine, 300)
    assert check.status == doctor.FAIL
    assert "user.max_net_namespaces = 100 < 308" in check.detail
    assert "sysctl -w user.max_net_namespaces=616" in check.fix


def test_neighbour_table_counts_what_other_clusters_hold():
    assert doctor.check_neighbours(FakeMachine(neighbours=0), 20).status == doctor.OK
    verify = doctor.check_neighbours(FakeMachine(neighbours=0), 100)
    assert verify.status == doctor.WARN and "verify" in verify.detail
    busy = doctor.check_neighbours(FakeMachine(neighbours=700), 100)
    assert busy.status == doctor.FAIL and "700 in use" in busy.detail
    assert "gc_thresh3=" in busy.fix


def test_memory_is_counted_as_pss_per_node():
    check = doctor.check_memory(FakeMachine(mem=24000), 300)
    assert check.status == doctor.OK, check
    assert f"{doctor.MB_FIXED + 300 * doctor.MB_PER_NODE} MB" in check.detail
    assert doctor.check_memory(FakeMachine(mem=8000), 300).status == doctor.FAIL


def test_up_refuses_a_size_a_limit_stops():
    machine = FakeMachine(sysctls={"fs.inotify.max_user_instances": "8192",
                                   "user.max_mnt_namespaces": "50"})
    with pytest.raises(EnvironmentUnsupported) as info:
        doctor.require(100, machine)
    assert "user.max_mnt_namespaces" in info.value.one_line()


def test_verify_fanout_warns_past_what_the_cores_were_measured_to_carry():
    assert doctor.check_verify_fanout(FakeMachine(cores=2), 100).status == doctor.OK
    check = doctor.check_verify_fanout(FakeMachine(cores=2), 300)
    assert check.status == doctor.WARN
    assert "SSL connection timeout" in check.detail
    assert "gnt-cluster verify -g GROUP" in check.fix and "6 cores" in check.fix
    assert doctor.check_verify_fanout(FakeMachine(cores=8), 300).status == doctor.OK


def test_damon_on_physical_memory_is_named_for_big_clusters_and_left_alone():
    assert doctor.check_damon(FakeMachine(), 300).status == doctor.OK
    assert doctor.check_damon(FakeMachine(damon=["vaddr"]), 300).status == doctor.OK
    assert doctor.check_damon(FakeMachine(damon=["paddr"]), 30).status == doctor.OK
    check = doctor.check_damon(FakeMachine(damon=["paddr"]), 300)
    assert check.status == doctor.WARN
    assert "kdamond" in check.detail and "leaves the host alone" in check.fix


def test_damon_monitors_reads_this_host_without_failing():
    assert all(kind in ("paddr", "vaddr", "fvaddr") for kind in doctor.Machine().damon_monitors())
