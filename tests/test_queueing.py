"""Erlang loss (Erlang-B) against standard published tables."""

import numpy as np
import pytest

from optimiser.queueing import beds_needed, capacity_steps, erlang_b, erlang_b_array, max_load


@pytest.mark.parametrize("beds, blocking, erlangs", [
    (10, 0.01, 4.461), (10, 0.05, 6.216), (20, 0.01, 12.031), (20, 0.05, 15.249),
    (1, 0.01, 0.0101), (5, 0.01, 1.361), (50, 0.01, 37.901), (100, 0.01, 84.064),
])
def test_load_carried_at_target_matches_tables(beds, blocking, erlangs):
    assert max_load(beds, blocking) == pytest.approx(erlangs, abs=1e-3)


def test_blocking_probability_matches_table():
    assert erlang_b(10, 5.0) == pytest.approx(0.01838, abs=1e-5)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)  # (1/2) / (1 + 1 + 1/2)


def test_vectorised_matches_scalar():
    beds = np.array([0, 1, 5, 10, 37, 120])
    load = np.array([0.5, 0.3, 2.0, 5.0, 30.0, 100.0])
    want = [erlang_b(int(c), float(a)) for c, a in zip(beds, load)]
    assert erlang_b_array(beds, load) == pytest.approx(want, rel=1e-12)


def test_economies_of_scale_capacity_per_bed_rises():
    """Why a few larger units need fewer beds than many small ones: load per bed at the
    same blocking target rises with unit size, and capacity is convex in beds."""
    steps = np.arange(0, 81, 4)
    cap = capacity_steps(steps, "erlang", 0.05)
    per_bed = cap[1:] / steps[1:]
    assert np.all(np.diff(per_bed) > 0)
    assert np.all(np.diff(cap, 2) >= -1e-9)
    # two 10-bed units carry less than one 20-bed unit at 5%
    assert 2 * max_load(10, 0.05) < max_load(20, 0.05)


def test_beds_needed_is_smallest_sufficient():
    for load in (0.5, 4.461, 6.3, 15.0, 40.0):
        c = beds_needed(load, 0.05)
        assert erlang_b(c, load) <= 0.05 + 1e-12
        assert c == 0 or erlang_b(c - 1, load) > 0.05


def test_occupancy_rule_is_linear():
    assert capacity_steps([0, 10, 20], "occupancy", 0.85) == pytest.approx([0, 8.5, 17.0])


def test_erlang_b_for_fixed_beds_gives_the_same_numbers():
    """The fixed point's Erlang-B with the bed counts' part worked out once gives exactly
    erlang_b_array's numbers: ordinary loads, no load, closed units, and loads so far above
    the beds that the Poisson form fails and the recursion answers."""
    from optimiser.queueing import ErlangBForBeds

    beds = np.array([0, 1, 8, 20, 56, 64, 200, 3])
    erlang = ErlangBForBeds(beds)
    rng = np.random.default_rng(11)
    for loads in (rng.uniform(0, 80, len(beds)), np.zeros(len(beds)), np.array([0, 0.5, 7, 0, 60, 1e4, 150, 2e3])):
        got, want = erlang(loads), erlang_b_array(beds, loads)
        assert np.array_equal(got, want)
        assert np.all((got >= 0) & (got <= 1))
    assert np.array_equal(erlang(np.full((2, len(beds)), 5.0)), erlang_b_array(beds, np.full((2, len(beds)), 5.0)))
