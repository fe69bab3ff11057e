"""Where a client sends its calls: one Triton, a list of replicas, or a DNS name that resolves to
them (a Kubernetes headless Service).

    127.0.0.1:8001                       one server
    10.0.0.5:8001,10.0.0.6:8001          several replicas (host:port, comma-separated)
    dns:///triton-grpc.ns.svc:8001       every address the name resolves to, re-resolved by gRPC

Listed replicas get a channel each, taken in turn (a retry goes to the next one); a DNS name is one
gRPC channel with the ``round_robin`` policy (the default policy, "pick first", would send every
call of a client to one replica). HTTP rotates over the listed hosts.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

DNS_SCHEME = "dns:///"


@dataclass(frozen=True)
class Targets:
    url: str  # as given, normalised
    addresses: tuple[str, ...]  # each replica's host:port (a DNS name resolved now)
    grpc_target: str  # what a gRPC channel dials
    dns: bool = False

    @property
    def balanced(self) -> bool:
        return self.dns or len(self.addresses) > 1


def _strip_scheme(url: str) -> str:
    for scheme in ("http://", "https://", "grpc://"):
        if url.startswith(scheme):
            url = url[len(scheme) :]
    return url.rstrip("/")


def _split(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port")
    return host.strip("[]"), int(port)


def _resolve(host: str, port: int) -> list[str]:
    """IPv4 addresses of ``host`` (IPv6 only when it has no IPv4 one): one gRPC target cannot mix them."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ValueError(f"cannot resolve {host}: {exc}") from exc
    v4 = [f"{sa[0]}:{port}" for family, *_, sa in infos if family == socket.AF_INET]
    v6 = [f"[{sa[0]}]:{port}" for family, *_, sa in infos if family == socket.AF_INET6]
    return list(dict.fromkeys(v4 or v6))


def check_targets(url: str) -> None:
    """The form of ``url`` only (host:port, a list of them, or dns:///name:port); nothing resolved."""
    text = url.strip()
    if not text:
        raise ValueError("no Triton address given")
    if text.startswith(DNS_SCHEME):
        _split(text[len(DNS_SCHEME) :])
        return
    parts = [_strip_scheme(p.strip()) for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"no Triton address in {url!r}")
    for part in parts:
        _split(part)


def parse_targets(url: str, *, resolve: bool = True) -> Targets:
    """``resolve``: look a ``dns:///`` name up now (for per-replica work: health, fan-out, HTTP);
    a gRPC channel resolves it itself, and again when connections age out."""
    check_targets(url)
    text = url.strip()
    if text.startswith(DNS_SCHEME):
        host, port = _split(text[len(DNS_SCHEME) :])
        addresses = tuple(_resolve(host, port)) if resolve else ()
        return Targets(url=text, addresses=addresses, grpc_target=text, dns=True)
    parts = [_strip_scheme(p.strip()) for p in text.split(",") if p.strip()]
    if len(parts) == 1:
        return Targets(url=parts[0], addresses=(parts[0],), grpc_target=parts[0])
    # A gRPC target names one resolver: literal addresses go behind "ipv4:"/"ipv6:", so host names
    # in a list are resolved here.
    resolved: list[str] = []
    for part in parts:
        host, port = _split(part)
        for address in _resolve(host, port):
            if address not in resolved:
                resolved.append(address)
    v6 = any(a.startswith("[") for a in resolved)
    target = ("ipv6:" if v6 else "ipv4:") + ",".join(resolved)
    return Targets(url=",".join(parts), addresses=tuple(resolved), grpc_target=target)


__all__ = ["DNS_SCHEME", "Targets", "check_targets", "parse_targets"]
