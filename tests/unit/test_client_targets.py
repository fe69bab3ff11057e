"""Where a client sends its calls: one server, a list of replicas, a DNS name; and the rules that
follow (round_robin, one retry on another replica, no model control through a balanced client)."""

from __future__ import annotations

import pytest

from modelserve.client import TritonClient
from modelserve.client._core import ClientCore, Rotation
from modelserve.client.targets import parse_targets


def test_one_address_is_dialled_as_given() -> None:
    t = parse_targets("http://127.0.0.1:8001/")
    assert (t.url, t.addresses, t.grpc_target, t.balanced) == (
        "127.0.0.1:8001",
        ("127.0.0.1:8001",),
        "127.0.0.1:8001",
        False,
    )


def test_a_list_becomes_one_ipv4_target_without_duplicates() -> None:
    t = parse_targets("127.0.0.1:8001, localhost:8002,127.0.0.1:8001")
    assert t.balanced and t.grpc_target.startswith("ipv4:")
    assert t.addresses[0] == "127.0.0.1:8001" and "127.0.0.1:8002" in t.addresses
    assert len(t.addresses) == len(set(t.addresses))


def test_a_dns_name_is_left_to_grpc_and_resolved_for_per_replica_work() -> None:
    t = parse_targets("dns:///localhost:8001")
    assert t.dns and t.balanced and t.grpc_target == "dns:///localhost:8001"
    assert "127.0.0.1:8001" in t.addresses
    assert parse_targets("dns:///localhost:8001", resolve=False).addresses == ()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "no Triton address"),
        (" , ", "no Triton address"),
        ("127.0.0.1", "is not host:port"),
        ("127.0.0.1:0", "is not host:port"),
        ("a:1,b:x", "is not host:port"),
        ("dns:///no-such-host.invalid:8001", "cannot resolve"),
    ],
)
def test_bad_addresses_are_refused_naming_the_part(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_targets(url)


def test_a_balanced_client_retries_on_the_next_replica_and_refuses_model_control() -> None:
    one = ClientCore("127.0.0.1:8001", "grpc", 5.0, None)
    many = ClientCore("127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003", "grpc", 5.0, None)
    named = ClientCore("dns:///triton.ns.svc:8001", "grpc", 5.0, None)
    # A listed replica has its own channel; a dns:/// name is one channel gRPC balances.
    assert many.grpc_targets == ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"]
    assert named.grpc_targets == ["dns:///triton.ns.svc:8001"]
    assert ("grpc.lb_policy_name", "round_robin") not in one.channel_args + many.channel_args
    assert ("grpc.lb_policy_name", "round_robin") in named.channel_args
    assert one.retries(one.server_ready()) == 0 and many.retries(many.server_ready()) == 2
    assert named.retries(named.server_ready()) == 3
    assert many.retries(many.load("m", None)) == 0  # control reaches the server it was meant for


def test_each_try_takes_the_next_replica_and_one_found_down_goes_last() -> None:
    rotation = Rotation(3, rest_s=60)
    assert [rotation.order() for _ in range(4)] == [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]]
    rotation.down(2)
    assert [rotation.order() for _ in range(3)] == [[1, 0, 2], [0, 1, 2], [0, 1, 2]]
    assert Rotation(3, rest_s=0).order() == [0, 1, 2]
    with TritonClient("127.0.0.1:1,127.0.0.1:2") as client, pytest.raises(ValueError, match="names several"):
        client.load("m")
