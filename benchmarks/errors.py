"""Errors of the benchmark suite.

BenchmarkError
├── TuneError            a serving-config sweep could not run, or its chosen config could not be applied
├── BaselineError        a baseline (MLServer, Flask, perf_analyzer) could not be set up or run
└── ServerProcessError   a server a benchmark started exited or never answered
"""

from __future__ import annotations


class BenchmarkError(Exception):
    """Root of every error raised by ``modelserve.benchmarks``."""


class TuneError(BenchmarkError):
    """``modelserve tune`` could not sweep, restore or apply; the message says what the server serves."""


class BaselineError(BenchmarkError):
    """A baseline could not be installed, started or run; the message has its log's tail."""


class ServerProcessError(BenchmarkError):
    """A server process a benchmark started exited early or did not answer in time."""
