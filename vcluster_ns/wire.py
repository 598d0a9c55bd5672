"""The control socket's client side on the wire: one JSON line each way.

Standard library only, and no package imports: the daemon-util shim runs
this very source, embedded, under ``python -I -S`` (shims/__init__.py),
because Ganeti calls daemon-util a few times per node add and per node
brought online, where importing the package cost about 60 ms of CPU a call.
``control.request`` turns its exceptions into the CLI's errors.
"""

import json
import socket

MAX_MESSAGE = 4 * 1024 * 1024


class NotListening(Exception):
    """Nobody accepted the connection (no socket file, refused, ...)."""


class NoAnswer(Exception):
    """The server took longer than the timeout."""


class Garbage(Exception):
    """The answer was not one JSON object with an ``ok`` field."""


def exchange(path, message, timeout):
    """Send ``message`` (a dict) to the unix socket at ``path``; return the
    answer (a dict that has ``ok``)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotListening("") from None
        except OSError as exc:
            raise NotListening(exc.strerror or str(exc)) from None
        sock.sendall(json.dumps(message).encode() + b"\n")
        data = bytearray()
        while not data.endswith(b"\n") and len(data) <= MAX_MESSAGE:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        raise NoAnswer() from None
    finally:
        sock.close()
    try:
        answer = json.loads(data)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "ok" not in answer:
        raise Garbage()
    return answer
