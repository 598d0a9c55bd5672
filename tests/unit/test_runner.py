"""runner.py: RestartPolicy arithmetic, log tail and the /proc/net ListenTable."""

import random
import socket
from collections import deque

import pytest

from vcluster_ns import runner
from vcluster_ns.runner import ListenTable, RestartPolicy, tail


def test_delay_grows_exponentially_without_jitter():
    p = RestartPolicy(initial=0.5, factor=2.0, cap=30.0, jitter=0.0)
    assert [p.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert p.delay(0) == 0.5  # no crash yet: the initial delay


def test_delay_is_capped():
    p = RestartPolicy(initial=1.0, factor=3.0, cap=10.0, jitter=0.0)
    assert p.delay(3) == 9.0
    assert p.delay(4) == 10.0
    assert p.delay(50) == 10.0


def test_delay_jitter_is_bounded_and_seedable():
    p = RestartPolicy(initial=1.0, factor=2.0, cap=30.0, jitter=0.1)
    rng = random.Random(1234)
    delays = [p.delay(n, rng) for n in range(1, 12)]
    bases = [min(30.0, 2.0 ** (n - 1)) for n in range(1, 12)]
    for d, base in zip(delays, bases):
        assert base * 0.9 <= d <= base * 1.1
    assert delays[-1] <= 33.0
    assert delays != bases  # jitter does spread the delays
    r1, r2 = random.Random(99), random.Random(99)
    assert [p.delay(n, r1) for n in range(1, 8)] == [p.delay(n, r2) for n in range(1, 8)]


def test_delay_grows_with_jitter():
    p = RestartPolicy(initial=1.0, factor=2.0, cap=1000.0, jitter=0.1)
    rng = random.Random(5)
    delays = [p.delay(n, rng) for n in range(1, 8)]
    assert delays == sorted(delays)  # 10% jitter cannot undo a doubling


def test_gives_up_after_max_restarts_in_window():
    p = RestartPolicy(max_restarts=3, window=10.0)
    crashes = deque()
    verdicts = []
    for t in (0.0, 1.0, 2.0, 3.0):
        crashes.append(t)
        verdicts.append(p.gives_up(crashes, t))
    assert verdicts == [False, False, False, True]


def test_gives_up_window_slides():
    p = RestartPolicy(max_restarts=2, window=10.0)
    crashes = deque([0.0, 5.0, 9.0])
    assert p.gives_up(crashes, 9.0) is True
    crashes = deque([0.0, 5.0, 9.0])
    assert p.gives_up(crashes, 10.0) is True   # exactly the window: still inside
    crashes = deque([0.0, 5.0, 9.0])
    assert p.gives_up(crashes, 10.5) is False  # the first crash slid out
    assert list(crashes) == [5.0, 9.0]
    crashes = deque([0.0, 1.0, 2.0])
    assert p.gives_up(crashes, 100.0) is False
    assert not crashes


def test_tail(tmp_path):
    log = tmp_path / "d.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(log) == "\n".join(f"line {i}" for i in range(95, 100))
    assert tail(log, 2) == "line 98\nline 99"
    assert tail(tmp_path / "missing") == ""
    log.write_bytes(b"x" * 10000 + b"\nbad \xff byte\n")
    assert tail(log, 1) == "bad \ufffd byte"


# -- ListenTable ------------------------------------------------------------

TCP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
              "retrnsmt   uid  timeout inode\n")
UDP_HEADER = ("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
              "retrnsmt   uid  timeout inode ref pointer drops\n")
UNIX_HEADER = "Num       RefCount Protocol Flags    Type St Inode Path\n"


def inet_line(n, local, remote, st):
    return (f"   {n}: {local} {remote} {st} 00000000:00000000 00:00000000 "
            f"00000000     0        0 {4000 + n} 1 0000000000000000 100 0 0 10 0\n")


def unix_line(flags, st, path=""):
    return f"0000000000000000: 00000002 00000000 {flags} 0001 {st} 12345 {path}\n"


@pytest.fixture
def proc_net(tmp_path):
    d = tmp_path / "net"
    d.mkdir()
    (d / "tcp").write_text(
        TCP_HEADER
        # 192.0.2.10:1811 listening
        + inet_line(0, "0A0200C0:0713", "00000000:0000", "0A")
        # 0.0.0.0:5080 listening
        + inet_line(1, "00000000:13D8", "00000000:0000", "0A")
        # 192.0.2.11:1815 established, not listening
        + inet_line(2, "0B0200C0:0717", "0A0200C0:C350", "01")
        # 127.0.0.1:8080 listening
        + inet_line(3, "0100007F:1F90", "00000000:0000", "0A"))
    (d / "udp").write_text(
        UDP_HEADER
        # 192.0.2.10:1814 unconnected (07)
        + inet_line(0, "0A0200C0:0716", "00000000:0000", "07")
        # 192.0.2.12:1814 connected (01)
        + inet_line(1, "0C0200C0:0716", "0A0200C0:0716", "01"))
    (d / "unix").write_text(
        UNIX_HEADER
        + unix_line("00010000", "01", "/r/c/node1/var/run/ganeti/socket/ganeti-wconfd")
        + unix_line("00000000", "03", "/r/c/node2/var/run/ganeti/socket/ganeti-query")
        + unix_line("00010000", "01", "@abstract-name")
        + unix_line("00000000", "03"))
    return d


def test_hex_ipv4_is_little_endian():
    assert runner._hex_ipv4("0A0200C0") == "192.0.2.10"
    assert runner._hex_ipv4("0100007F") == "127.0.0.1"
    assert runner._hex_ipv4("00000000") == "0.0.0.0"


def test_listen_table_tcp(proc_net):
    t = ListenTable(ttl=0, proc_net=str(proc_net))
    assert t.tcp("192.0.2.10", 1811)
    assert not t.tcp("192.0.2.11", 1811)      # another address
    assert not t.tcp("192.0.2.10", 1812)      # another port
    assert t.tcp("192.0.2.99", 5080)          # wildcard listener
    assert not t.tcp("192.0.2.11", 1815)      # established only
    assert t.tcp("127.0.0.1", 8080)


def test_listen_table_udp(proc_net):
    t = ListenTable(ttl=0, proc_net=str(proc_net))
    assert t.udp("192.0.2.10", 1814)
    assert not t.udp("192.0.2.12", 1814)      # connected, not bound-listening
    assert not t.udp("192.0.2.10", 1811)      # that is a TCP port
    assert not t.tcp("192.0.2.10", 1814)


def test_listen_table_unix(proc_net):
    t = ListenTable(ttl=0, proc_net=str(proc_net))
    assert t.unix("/r/c/node1/var/run/ganeti/socket/ganeti-wconfd")
    assert not t.unix("/r/c/node2/var/run/ganeti/socket/ganeti-query")  # not listening
    assert t.unix("@abstract-name")
    assert not t.unix("/r/c/node1/var/run/ganeti/socket")


def test_listen_table_missing_files(tmp_path):
    t = ListenTable(ttl=0, proc_net=str(tmp_path / "nothing"))
    assert not t.tcp("192.0.2.10", 1811)
    assert not t.udp("192.0.2.10", 1814)
    assert not t.unix("/x")


def test_listen_table_caches_for_ttl(proc_net):
    t = ListenTable(ttl=3600, proc_net=str(proc_net))
    assert t.tcp("192.0.2.10", 1811)
    (proc_net / "tcp").write_text(TCP_HEADER)
    assert t.tcp("192.0.2.10", 1811)          # still the cached table
    fresh = ListenTable(ttl=0, proc_net=str(proc_net))
    assert not fresh.tcp("192.0.2.10", 1811)


def test_listen_table_rereads_after_ttl(proc_net):
    t = ListenTable(ttl=0, proc_net=str(proc_net))
    assert t.tcp("192.0.2.10", 1811)
    (proc_net / "tcp").write_text(TCP_HEADER)
    assert not t.tcp("192.0.2.10", 1811)


def test_listen_table_sees_real_sockets(tmp_path):
    """Loopback only: checks the parsing against this kernel's own format."""
    with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp, \
            socket.socket(socket.AF_UNIX) as unix:
        tcp.bind(("127.0.0.1", 0))
        udp.bind(("127.0.0.1", 0))
        unix.bind(str(tmp_path / "s.sock"))
        tcp_port, udp_port = tcp.getsockname()[1], udp.getsockname()[1]
        t = ListenTable(ttl=0)
        assert not t.tcp("127.0.0.1", tcp_port)   # bound, not yet listening
        assert not t.unix(str(tmp_path / "s.sock"))
        tcp.listen()
        unix.listen()
        assert t.tcp("127.0.0.1", tcp_port)
        assert t.udp("127.0.0.1", udp_port)
        assert t.unix(str(tmp_path / "s.sock"))


def test_listen_table_unix_path_with_space(tmp_path):
    d = tmp_path / "net"
    d.mkdir()
    (d / "unix").write_text(UNIX_HEADER + unix_line(
        "00010000", "01", "/home/u/My Clusters/c/node1/var/run/ganeti/socket/ganeti-query"))
    t = ListenTable(ttl=0, proc_net=str(d))
    assert t.unix("/home/u/My Clusters/c/node1/var/run/ganeti/socket/ganeti-query")
