"""Confidence intervals and verdicts (lib.stats)."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from lib.stats import Interval, bootstrap_diff, paired_bootstrap, pooled_pck, seed_interval, verdict


def _run(p: np.ndarray, rng: np.random.Generator, evaluated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return rng.random(p.shape) < p, evaluated


def test_pooled_pck_weights_joints_by_their_counts():
    hits = np.array([[1, 0], [1, 0], [1, 1]], bool)
    evaluated = np.array([[1, 0], [1, 0], [1, 1]], bool)
    # joint 0: 3/3, joint 1: 1/1 -> pooled 4/4; a masked miss does not count
    assert pooled_pck((hits, evaluated)) == 100.0
    assert pooled_pck((hits, evaluated), joints=[1]) == 100.0
    with pytest.raises(ValueError, match="out of range"):
        pooled_pck((hits, evaluated), joints=[2])


def test_identical_runs_have_a_zero_width_interval():
    rng = np.random.default_rng(0)
    ev = rng.random((200, 8)) < 0.9
    run = _run(np.full((200, 8), 0.7), rng, ev)
    ci = paired_bootstrap(run, run)
    assert (ci.estimate, ci.low, ci.high) == (0.0, 0.0, 0.0)


def test_paired_interval_covers_the_true_difference_and_is_narrower_than_unpaired():
    """Coverage of the 95% interval over simulated validation sets, for correlated runs."""
    rng = np.random.default_rng(1)
    n, j, sims, covered, widths_paired, widths_unpaired = 300, 4, 120, 0, [], []
    for s in range(sims):
        difficulty = rng.random((n, j))  # shared by both runs: what pairing cancels
        ev = np.ones((n, j), bool)
        a = (difficulty < 0.75, ev)      # true PCK 75
        b = (difficulty < 0.72, ev)      # true PCK 72, same images are hard for both
        ci = paired_bootstrap(a, b, n_boot=400, seed=s)
        covered += ci.low <= 3.0 <= ci.high
        widths_paired.append(ci.high - ci.low)
        # unpaired: bootstrap each run on its own resample
        ia, ib = rng.integers(0, n, (400, n)), rng.integers(0, n, (400, n))
        d = 100 * (a[0][ia].mean((1, 2)) - b[0][ib].mean((1, 2)))
        widths_unpaired.append(np.subtract(*np.percentile(d, [97.5, 2.5])))
    assert 0.88 <= covered / sims <= 1.0
    assert np.mean(widths_paired) < 0.5 * np.mean(widths_unpaired)


def test_paired_bootstrap_refuses_different_image_sets():
    ev = np.ones((10, 2), bool)
    with pytest.raises(ValueError, match="same validation images"):
        paired_bootstrap((ev, ev), (ev[:9], ev[:9]))


def test_seed_interval_is_students_t():
    v = [70.1, 71.3, 70.7]
    ci = seed_interval(v)
    lo, hi = sps.t.interval(0.95, 2, loc=np.mean(v), scale=sps.sem(v))
    assert ci.estimate == pytest.approx(np.mean(v))
    assert (ci.low, ci.high) == (pytest.approx(lo), pytest.approx(hi))
    one = seed_interval([70.0])
    assert math.isnan(one.low) and verdict(one, +1) == "inconclusive"


def test_bootstrap_diff_with_one_seed_is_the_paired_bootstrap():
    rng = np.random.default_rng(2)
    ev = np.ones((150, 6), bool)
    a, b = _run(np.full((150, 6), 0.8), rng, ev), _run(np.full((150, 6), 0.7), rng, ev)
    one, paired = bootstrap_diff([a], [b], joints=[0, 2], seed=5), paired_bootstrap(a, b, joints=[0, 2], seed=5)
    assert (one.estimate, one.low, one.high) == pytest.approx((paired.estimate, paired.low, paired.high))


def test_bootstrap_diff_widens_with_seed_noise():
    rng = np.random.default_rng(3)
    ev = np.ones((300, 4), bool)
    difficulty = rng.random((300, 4))
    runs_a = [(difficulty < t, ev) for t in (0.70, 0.78, 0.74)]   # seeds disagree by 8 points
    runs_b = [(difficulty < 0.72, ev)] * 3
    one = bootstrap_diff(runs_a[:1], runs_b[:1])
    three = bootstrap_diff(runs_a, runs_b)
    assert three.estimate == pytest.approx(2.0, abs=1.5)
    assert three.high - three.low > 2 * (one.high - one.low)


@pytest.mark.parametrize("low, high, sign, expected", [
    (0.2, 1.0, +1, "confirmed"), (-0.2, 1.0, +1, "inconclusive"), (-1.0, -0.1, +1, "not confirmed"),
    (-1.0, -0.1, -1, "confirmed"), (0.1, 1.0, -1, "not confirmed"),
])
def test_verdict_signed_claims(low, high, sign, expected):
    assert verdict(Interval(0.5 * (low + high), low, high, 0.95, "x", 10), sign) == expected


def test_verdict_no_difference_claims_need_a_margin():
    ci = Interval(0.1, -0.2, 0.3, 0.95, "x", 10)
    assert verdict(ci, 0, margin=0.5) == "confirmed"
    assert verdict(ci, 0, margin=0.25) == "inconclusive"
    assert verdict(Interval(1, 0.6, 1.4, 0.95, "x", 10), 0, margin=0.5) == "not confirmed"
    with pytest.raises(ValueError, match="margin"):
        verdict(ci, 0)
    with pytest.raises(ValueError, match="claimed_sign"):
        verdict(ci, 2)
