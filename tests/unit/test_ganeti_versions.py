"""ganeti/versions.py: the order of Ganeti's release versions, and ranges."""

import pytest

from vcluster_ns.ganeti.versions import EVERY_VERSION, VersionRange, release_key


def test_releases_in_order():
    ordered = ["2.16.2", "3.0.0~rc1", "3.0.0", "3.0.2", "3.1", "3.1.0~rc1", "3.1.0~rc2",
               "3.1.0", "3.1.1", "3.2.0~alpha1", "3.2.0~alpha2", "3.2.0~beta1",
               "3.2.0~rc1", "3.2.0", "3.10.0"]
    keys = [release_key(v) for v in ordered]
    # "3.1" and "3.1.0~rc1": a short version is its .0 release, after its rcs.
    assert keys[4] == release_key("3.1.0")
    assert sorted(ordered, key=release_key) == \
        ["2.16.2", "3.0.0~rc1", "3.0.0", "3.0.2", "3.1.0~rc1", "3.1.0~rc2", "3.1",
         "3.1.0", "3.1.1", "3.2.0~alpha1", "3.2.0~alpha2", "3.2.0~beta1", "3.2.0~rc1",
         "3.2.0", "3.10.0"]


def test_pre_release_numbers_compare_as_numbers():
    assert release_key("3.2.0~alpha2") < release_key("3.2.0~alpha10")


@pytest.mark.parametrize("bad", ["", "master", "v3.1.1", "3.1.1-dirty", "3..1"])
def test_not_a_version_is_an_error(bad):
    with pytest.raises(ValueError):
        release_key(bad)


def test_range_is_half_open():
    r = VersionRange(first="3.1.0", before="3.2.0~alpha1")
    assert "3.0.2" not in r
    assert "3.1.0~rc2" not in r
    assert "3.1.0" in r and "3.1.1" in r
    assert "3.2.0~alpha1" not in r  # master of 2026 is past 3.1
    assert "3.2.0" not in r


def test_open_ranges():
    assert "3.0.2" in VersionRange(before="3.1.0") and "3.1.0" not in VersionRange(before="3.1.0")
    assert "3.0.2" not in VersionRange(first="3.1.0") and "3.2.0~alpha1" in VersionRange(first="3.1.0")
    assert all(v in EVERY_VERSION for v in ("2.0.0", "3.0.2", "3.2.0~alpha1", "9.9.9"))


def test_range_text():
    assert str(EVERY_VERSION) == "every Ganeti version"
    assert str(VersionRange(first="3.1.0")) == "Ganeti >=3.1.0"
    assert str(VersionRange(before="3.1.0")) == "Ganeti <3.1.0"
    assert str(VersionRange("3.0.0", "3.2.0~alpha1")) == "Ganeti >=3.0.0,<3.2.0~alpha1"


def test_bad_ranges_fail_when_written():
    with pytest.raises(ValueError):
        VersionRange(first="3.1.1", before="3.1.0")
    with pytest.raises(ValueError):
        VersionRange(first="3.1", before="3.1.0")  # empty
    with pytest.raises(ValueError):
        VersionRange(before="master")
