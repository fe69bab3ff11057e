"""Several Triton replicas as one: a client per replica, for the work that must reach every one of
them (explicit model control is per server: a load or unload reaches the server it is sent to).

``open_fleet("10.0.0.5:8001,10.0.0.6:8001")`` or ``open_fleet("dns:///triton-grpc.ns.svc:8001")``
gives one ``TritonClient`` per address; a single address gives a fleet of one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from modelserve.client import TritonClient
from modelserve.client.targets import parse_targets


@contextmanager
def open_fleet(
    url: str, *, protocol: str = "grpc", timeout_s: float = 120.0, control_key: str | None = None
) -> Iterator[list[TritonClient]]:
    targets = parse_targets(url)
    if not targets.addresses:
        raise ValueError(f"{url} resolves to no address")
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                TritonClient(address, protocol=protocol, timeout_s=timeout_s, control_key=control_key)
            )
            for address in targets.addresses
        ]


__all__ = ["open_fleet"]
