"""The CPU reading behind ``python -m modelserve.benchmarks.api_cpu`` (/proc; Linux)."""

from __future__ import annotations

import os
import sys

import pytest

from modelserve.benchmarks.api_cpu import cpu_seconds, process_group

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_cpu_time_of_this_process_grows_with_work():
    before = cpu_seconds([os.getpid()])
    sum(i * i for i in range(3_000_000))
    assert cpu_seconds([os.getpid()]) > before


def test_the_process_group_holds_this_process():
    assert os.getpid() in process_group(os.getpgid(0))
