"""Comparison and appraisal arithmetic on hand-made metric sets."""

import pytest

from optimiser.compare import appraisal, compare_table, differences, labelled
from optimiser.errors import InputError

A = ("A", {"annual_cost_gbp": 10e6, "share_within_30_minutes_65_plus": 0.90, "physical_beds": 200})
B = ("B", {"annual_cost_gbp": 12e6, "share_within_30_minutes_65_plus": 0.99, "physical_beds": 220})
C = ("C", {"annual_cost_gbp": 11e6, "share_within_30_minutes_65_plus": 0.95, "physical_beds": 210})


def test_appraisal_scores_on_fixed_stated_scales_by_hand():
    crit = {"annual_cost_gbp": (1.0, 14e6, 10e6), "share_within_30_minutes_65_plus": (3.0, 0.8, 1.0)}
    s = appraisal([A, B, C], crit)
    # cost: A 10, B 5, C 7.5; coverage: A 5, B 9.5, C 7.5
    assert s.loc["A", "weighted_score"] == pytest.approx((1 * 10 + 3 * 5) / 4)
    assert s.loc["B", "weighted_score"] == pytest.approx((1 * 5 + 3 * 9.5) / 4)
    assert s.loc["C", "weighted_score"] == pytest.approx((1 * 7.5 + 3 * 7.5) / 4)
    assert s.loc["B", "rank"] == 1
    # a score does not depend on the other options shown (not stretched between them)
    alone = appraisal([A, B], crit)
    assert alone.loc["A", "weighted_score"] == pytest.approx(s.loc["A", "weighted_score"])
    near = appraisal([("x", {"share_within_30_minutes_65_plus": 0.989}), ("y", {"share_within_30_minutes_65_plus": 1.0})],
                     {"share_within_30_minutes_65_plus": (1.0, 0.8, 1.0)})
    assert near["weighted_score"].tolist() == pytest.approx([9.45, 10.0])      # not 0 and 10
    # beyond the scale a score stays at 0 or 10
    far = appraisal([("z", {"annual_cost_gbp": 99e6})], {"annual_cost_gbp": (1.0, 14e6, 10e6)})
    assert far.loc["z", "weighted_score"] == 0.0


def test_an_option_breaking_rules_ranks_after_those_that_meet_them():
    crit = {"annual_cost_gbp": (1.0, 14e6, 10e6)}
    s = appraisal([A, B, C], crit, breaks={"A": 16})
    assert s.loc["A", "weighted_score"] == 10.0 and s.loc["A", "rules_broken"] == 16
    assert s.loc["C", "rank"] == 1 and s.loc["B", "rank"] == 2 and s.loc["A", "rank"] == 3


def test_appraisal_rejects_bad_criteria():
    with pytest.raises(InputError, match="at least one criterion"):
        appraisal([A, B], {})
    with pytest.raises(InputError, match="negative weight"):
        appraisal([A, B], {"annual_cost_gbp": (-1.0, "lower")})
    with pytest.raises(InputError, match="must differ"):
        appraisal([A, B], {"annual_cost_gbp": (1.0, 5e6, 5e6)})


def test_comparison_table_labels_and_differences():
    t = compare_table([A, B])
    d = differences(t, "A")
    assert d.loc["annual_cost_gbp", "B"] == pytest.approx(2e6)
    shown = labelled(t)
    assert shown.loc["Annual cost (£ a year)", "B"] == "£12,000,000"
    assert shown.loc["Residents 65+ within 30 minutes (%)", "A"] == "90.0%"
