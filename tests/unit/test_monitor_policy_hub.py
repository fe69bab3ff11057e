"""The monitoring policy file and the live-update hub."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from modelserve.monitor.actions import retrain_argv
from modelserve.monitor.live import Hub
from modelserve.monitor.policy import load_policy, parse_policy


def test_policy_merges_defaults_and_model_overrides(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "defaults: {f1_threshold: 0.9, window: 100}\n"
        "models:\n  churn: {on_degradation: retrain, retrain: {data: d.csv, models: [logistic_regression]}}\n"
    )
    policy = load_policy(path)
    churn, other = policy.for_model("churn"), policy.for_model("other")
    assert churn.f1_threshold == 0.9 and churn.window == 100 and churn.on_degradation == "retrain"
    assert other.on_degradation == "none" and other.drift_alpha == 0.05
    assert load_policy(None).for_model("x").f1_threshold == 0.8  # the default threshold


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"models": {"m": {"on_drift": "webhook"}}}, "webhook_url"),
        ({"defaults": {"f1_treshold": 0.9}}, "f1_treshold"),
        ({"models": {"m": {"drift_alpha": 2}}}, "drift_alpha"),
        ({"models": {"m": {"on_degradation": "page-someone"}}}, "on_degradation"),
    ],
)
def test_policy_mistakes_fail_at_load_naming_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policy(raw)


def test_retrain_command_defaults_to_our_cli_and_can_be_replaced() -> None:
    policy = parse_policy({"models": {"m": {"retrain": {"models": ["random_forest"], "min_f1": 0.75}}}})
    argv = retrain_argv(
        policy.for_model("m").retrain,
        model="m",
        repository=Path("repo"),
        triton_url="h:1",
        protocol="grpc",
        reason="drift",
    )
    assert argv[1:6] == ["-m", "modelserve", "monitor", "retrain", "m"]
    assert argv[argv.index("--model") : argv.index("--model") + 2] == ["--model", "random_forest"]
    assert argv[argv.index("--min-f1") + 1] == "0.75"
    custom = parse_policy({"defaults": {"retrain": {"command": ["train.sh", "{model}", "{reason}"]}}})
    assert retrain_argv(
        custom.for_model("m").retrain,
        model="m",
        repository=Path("r"),
        triton_url="u",
        protocol="grpc",
        reason="drift",
    ) == ["train.sh", "m", "drift"]


def test_hub_filters_by_model_and_drops_a_subscriber_that_falls_behind() -> None:
    async def scenario() -> None:
        hub = Hub(queue_size=3)
        everything, only_a, slow = hub.subscribe(), hub.subscribe("a"), hub.subscribe()
        hub.publish({"model": "a", "n": 1})
        hub.publish({"model": "b", "n": 2})
        assert (await everything.next()) == {"model": "a", "n": 1}
        assert (await everything.next()) == {"model": "b", "n": 2}
        assert (await only_a.next()) == {"model": "a", "n": 1}
        assert only_a.queue.empty()
        for n in range(3, 6):
            hub.publish({"model": "b", "n": n})
            assert (await everything.next()) == {"model": "b", "n": n}
        # `slow` read nothing: it has 3 waiting, the next publish drops it.
        hub.publish({"model": "b", "n": 6})
        assert len(hub) == 2 and hub.dropped == 1
        got = [await slow.next() for _ in range(4)]
        assert got[-1] is None  # the sentinel: the socket closes
        assert (await everything.next()) == {"model": "b", "n": 6}

    asyncio.run(scenario())


def test_hub_relays_what_it_publishes_and_delivers_what_others_sent() -> None:
    from modelserve.monitor.relay import PostgresRelay, relay_for

    sent: list[dict[str, object]] = []

    class Recorder:
        def start(self, loop: object, deliver: object) -> None: ...
        def stop(self) -> None: ...
        def send(self, message: dict[str, object]) -> None:
            sent.append(message)

    async def scenario() -> None:
        hub = Hub(relay=Recorder())
        sub = hub.subscribe()
        hub.publish({"type": "traffic", "model": "m"})
        hub.deliver({"type": "traffic", "model": "other-replica"})  # from the relay: not sent back
        assert [await sub.next(), await sub.next()] == [
            {"type": "traffic", "model": "m"},
            {"type": "traffic", "model": "other-replica"},
        ]
        assert sent == [{"type": "traffic", "model": "m"}]

        # The listener skips this process's own messages and anything that is not one.
        relay = PostgresRelay("postgresql+psycopg://u@h/db")
        got: list[dict[str, object]] = []
        loop = asyncio.get_running_loop()
        relay._forward(f'{{"origin": "{relay.origin}", "message": {{"a": 1}}}}', loop, got.append)
        relay._forward('{"origin": "elsewhere", "message": {"a": 2}}', loop, got.append)
        relay._forward("not json", loop, got.append)
        await asyncio.sleep(0)
        assert got == [{"a": 2}] and relay.dsn == "postgresql://u@h/db"

    asyncio.run(scenario())
    assert relay_for("sqlite:///x.sqlite") is None


def test_an_empty_hub_given_to_the_monitor_is_the_one_it_uses(tmp_path: Path) -> None:
    from modelserve.monitor.service import Monitor
    from modelserve.monitor.store import Store

    hub = Hub()  # len 0: falsy, which once made the monitor build its own and drop the relay

    async def no_version(name: str) -> None:
        return None

    monitor = Monitor(
        Store(f"sqlite:///{tmp_path}/m.sqlite"),
        load_policy(None),
        repository=tmp_path,
        triton_url="127.0.0.1:1",
        triton_protocol="grpc",
        served_version=no_version,
        hub=hub,
    )
    assert monitor.hub is hub
    monitor.store.close()
