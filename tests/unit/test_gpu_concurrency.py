"""benchmarks.gpu_concurrency's own arithmetic: client shares, the interpolated ORT-alone baseline."""

from modelserve.benchmarks.gpu_concurrency import VARIANTS, _shares, compare, interpolate

DIRECT = [
    {"path": "ort alone", "batch": 1, "items_per_s": 600.0},
    {"path": "ort alone", "batch": 8, "items_per_s": 3200.0},
    {"path": "ort alone", "batch": 32, "items_per_s": 4400.0},
]


def test_concurrency_is_split_over_at_most_the_client_processes():
    assert _shares(1, 4) == [1]
    assert _shares(16, 4) == [4, 4, 4, 4]
    assert _shares(6, 4) == [2, 2, 1, 1]
    assert sum(_shares(63, 4)) == 63


def test_baseline_is_interpolated_between_measured_batches_and_clamped_outside():
    assert interpolate(DIRECT, "ort alone", 1) == 600.0
    assert interpolate(DIRECT, "ort alone", 4.5) == 1900.0  # halfway between 1 and 8
    assert interpolate(DIRECT, "ort alone", 64) == 4400.0  # not extrapolated beyond 32
    assert interpolate(DIRECT, "runner, staging", 4) is None


def test_served_rows_get_a_ratio_to_ort_alone_at_their_effective_batch():
    served = {"path": "triton default", "status": "ok", "effective_batch": 8.0, "items_per_s": 1600.0}
    rows = [*DIRECT, served]
    compare(rows)
    assert served["items_per_s_to_ort_alone"] == 3200.0 and served["ratio_to_ort_alone"] == 0.5


def test_default_variant_is_the_backend_as_configured_by_default():
    assert VARIANTS["default"].parameters == {} and VARIANTS["default"].instances == 1
