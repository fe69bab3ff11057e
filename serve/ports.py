"""Port helpers: pick free ports, and refuse taken ones with a message that names them."""

from __future__ import annotations

import errno
import socket

from modelserve.serve.errors import AddressError, PortInUseError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers bind: a port whose last connections sit in TIME_WAIT (a server just stopped
        # or killed) is free to listen on again; without this a restart was refused for ~60 s.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except socket.gaierror as exc:  # not an address, nor a name that resolves
            raise AddressError(f"{what} address {host!r} is not usable here ({exc.strerror})") from exc
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(f"{what} port {port} on {host} is already in use") from exc
            raise AddressError(f"cannot listen on {host}:{port} for the {what} ({exc.strerror})") from exc


def resolve(host: str, port: int, what: str, taken: set[int]) -> int:
    """0 -> a free port not in ``taken``; otherwise check ``port`` is free."""
    if port == 0:
        while (candidate := free_port(host)) in taken:
            pass
        return candidate
    check_free(host, port, what)
    return port
