"""Window metrics in numpy equal scikit-learn's weighted scores (zero_division=0) on any labels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from modelserve.monitor.quality import window_metrics

LABELS = st.sampled_from(["a", "b", "c", "dd"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(LABELS, LABELS), min_size=1, max_size=60))
def test_window_metrics_equal_scikit_learn_weighted_scores(pairs):
    truth, pred = [t for t, _ in pairs], [p for _, p in pairs]
    got = window_metrics(truth, pred)
    assert got is not None and got.n == len(pairs)
    kw = {"average": "weighted", "zero_division": 0}
    assert got.accuracy == pytest.approx(accuracy_score(truth, pred))
    assert got.precision == pytest.approx(precision_score(truth, pred, **kw))
    assert got.recall == pytest.approx(recall_score(truth, pred, **kw))
    assert got.f1 == pytest.approx(f1_score(truth, pred, **kw))


def test_an_empty_window_has_no_metrics_and_mismatched_lengths_are_refused():
    assert window_metrics([], []) is None
    with pytest.raises(ValueError, match="2 labels for 1 predictions"):
        window_metrics(["a", "b"], ["a"])
    one = window_metrics(["x"], ["y"])
    assert one is not None and np.isclose(one.f1, 0.0)  # a class never predicted counts 0
