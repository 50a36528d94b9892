"""Comparison and appraisal arithmetic on hand-made metric sets."""

import pytest

from optimiser.compare import appraisal, compare_table, differences, labelled
from optimiser.errors import InputError

A = ("A", {"annual_cost_gbp": 10e6, "share_within_30_minutes_65_plus": 0.90, "physical_beds": 200})
B = ("B", {"annual_cost_gbp": 12e6, "share_within_30_minutes_65_plus": 0.99, "physical_beds": 220})
C = ("C", {"annual_cost_gbp": 11e6, "share_within_30_minutes_65_plus": 0.95, "physical_beds": 210})


def test_appraisal_scores_by_hand():
    s = appraisal([A, B, C], {"annual_cost_gbp": (1.0, "lower"), "share_within_30_minutes_65_plus": (3.0, "higher")})
    # cost: A 10, B 0, C 5; coverage: A 0, B 10, C (0.05/0.09)*10 = 5.556
    assert s.loc["A", "weighted_score"] == pytest.approx((1 * 10 + 3 * 0) / 4)
    assert s.loc["B", "weighted_score"] == pytest.approx((1 * 0 + 3 * 10) / 4)
    assert s.loc["C", "weighted_score"] == pytest.approx((1 * 5 + 3 * 50 / 9) / 4)
    assert s.loc["B", "rank"] == 1
    # weight the cost heavily and A wins
    s = appraisal([A, B, C], {"annual_cost_gbp": (10.0, "lower"), "share_within_30_minutes_65_plus": (1.0, "higher")})
    assert s["weighted_score"].idxmax() == "A"


def test_appraisal_rejects_bad_criteria():
    with pytest.raises(InputError, match="at least one criterion"):
        appraisal([A, B], {})
    with pytest.raises(InputError, match="negative weight"):
        appraisal([A, B], {"annual_cost_gbp": (-1.0, "lower")})


def test_comparison_table_labels_and_differences():
    t = compare_table([A, B])
    d = differences(t, "A")
    assert d.loc["annual_cost_gbp", "B"] == pytest.approx(2e6)
    shown = labelled(t)
    assert shown.loc["Annual cost (£ a year)", "B"] == "£12,000,000"
    assert shown.loc["Residents 65+ within 30 minutes (%)", "A"] == "90.0%"
