"""The CPU reading behind ``python -m modelserve.benchmarks.api_cpu`` (/proc; Linux)."""

from __future__ import annotations

import os
import sys

import pytest

from modelserve.benchmarks.api_cpu import cpu_seconds, process_group

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_cpu_time_of_this_process_is_what_the_kernel_counts():
    """The /proc reading agrees with os.times() taken around it (same counters, one tick apart)."""
    sum(i * i for i in range(300_000))
    first = os.times()
    seconds = cpu_seconds([os.getpid()])
    last = os.times()
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert first.user + first.system - tick <= seconds <= last.user + last.system + tick


def test_the_process_group_holds_this_process():
    assert os.getpid() in process_group(os.getpgid(0))
