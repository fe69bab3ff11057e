"""The API's request coalescer against a fake Triton: merged while busy, split back in order,
failures isolated, nothing delayed at low load."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from modelserve.client import InvalidInputError, ServerUnavailableError
from modelserve.serving.coalesce import Coalescer


class FakeTriton:
    """Doubles its input; refuses any call containing a row of -1 (as Triton refuses bad inputs);
    fails as a server that went away on a row of -2; records the row count per call."""

    def __init__(self, delay_s: float = 0.01) -> None:
        self.calls: list[int] = []
        self.delay_s = delay_s

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        *,
        version: str = "",
        outputs: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        x = inputs["x"]
        self.calls.append(len(x))
        await asyncio.sleep(self.delay_s)
        if (x == -1).any():
            raise InvalidInputError("bad row")
        if (x == -2).any():
            raise ServerUnavailableError("Triton went away")
        return {"y": x * 2, "rows": np.full((len(x), 1), len(x))}


def _row(v: float) -> dict[str, np.ndarray]:
    return {"x": np.full((1, 3), v, np.float32)}


def test_concurrent_calls_merge_while_busy_and_each_gets_its_own_rows() -> None:
    fake = FakeTriton()
    coalescer = Coalescer(fake.infer, max_rows=64, max_inflight=1)

    async def go() -> list[dict[str, np.ndarray]]:
        return await asyncio.gather(*(coalescer.infer("m", _row(i)) for i in range(20)))

    results = asyncio.run(go())
    for i, out in enumerate(results):
        np.testing.assert_array_equal(out["y"], np.full((1, 3), 2 * i, np.float32))
    assert sum(fake.calls) == 20
    assert fake.calls[0] == 1  # the first leaves at once: no waiting at low load
    assert len(fake.calls) == 2  # the other 19 queued behind it and left together


def test_max_rows_caps_a_merged_call_and_big_requests_go_alone() -> None:
    fake = FakeTriton()
    coalescer = Coalescer(fake.infer, max_rows=4, max_inflight=1)

    async def go() -> None:
        big = {"x": np.zeros((10, 3), np.float32)}
        await asyncio.gather(coalescer.infer("m", big), *(coalescer.infer("m", _row(i)) for i in range(9)))

    asyncio.run(go())
    assert 10 in fake.calls and max(c for c in fake.calls if c != 10) <= 4
    assert sum(fake.calls) == 19


def test_a_failing_request_fails_alone_and_its_batch_mates_succeed() -> None:
    fake = FakeTriton()
    coalescer = Coalescer(fake.infer, max_rows=64, max_inflight=1)

    async def go() -> list[object]:
        values = [0, 1, -1, 3, 4]
        return list(
            await asyncio.gather(*(coalescer.infer("m", _row(v)) for v in values), return_exceptions=True)
        )

    results = asyncio.run(go())
    assert isinstance(results[2], InvalidInputError)
    for i in (0, 1, 3, 4):
        out = results[i]
        assert isinstance(out, dict)
        assert float(out["y"][0, 0]) == 2 * [0, 1, -1, 3, 4][i]


def test_a_server_failure_fails_the_merged_call_once_not_request_by_request() -> None:
    fake = FakeTriton()
    coalescer = Coalescer(fake.infer, max_rows=64, max_inflight=1)

    async def go() -> list[object]:
        first = asyncio.ensure_future(coalescer.infer("m", _row(0)))  # leaves alone, at once
        rest = [coalescer.infer("m", _row(v)) for v in (1, -2, 3)]  # merged behind it
        return list(await asyncio.gather(first, *rest, return_exceptions=True))

    results = asyncio.run(go())
    assert isinstance(results[0], dict)
    assert all(isinstance(r, ServerUnavailableError) for r in results[1:])
    assert fake.calls == [1, 3]  # no retries: each would have waited for the dead server again


def test_different_models_and_shapes_never_share_a_call() -> None:
    fake = FakeTriton()
    coalescer = Coalescer(fake.infer, max_rows=64, max_inflight=1)

    async def go() -> None:
        calls = [coalescer.infer("a", _row(1)) for _ in range(3)]
        calls += [coalescer.infer("b", _row(1)) for _ in range(3)]
        calls += [coalescer.infer("a", {"x": np.zeros((1, 5), np.float32)}) for _ in range(3)]
        await asyncio.gather(*calls)

    asyncio.run(go())
    # Three lanes, each: one call out at once, then the other two together.
    assert sorted(fake.calls) == [1, 1, 1, 2, 2, 2]


def test_a_cancelled_request_is_not_sent_and_others_still_answer() -> None:
    fake = FakeTriton(delay_s=0.05)
    coalescer = Coalescer(fake.infer, max_rows=64, max_inflight=1)

    async def go() -> dict[str, np.ndarray]:
        first = asyncio.create_task(coalescer.infer("m", _row(0)))
        await asyncio.sleep(0)
        doomed = asyncio.create_task(coalescer.infer("m", _row(1)))
        kept = asyncio.create_task(coalescer.infer("m", _row(2)))
        await asyncio.sleep(0)
        doomed.cancel()
        await first
        return await kept

    out = asyncio.run(go())
    assert float(out["y"][0, 0]) == 4.0
    assert fake.calls == [1, 1]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        Coalescer(FakeTriton().infer, max_rows=0)
