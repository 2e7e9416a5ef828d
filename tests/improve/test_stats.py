"""The statistics against reference implementations (statsmodels, scipy) on fixed data, and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from improve import stats as S


@pytest.mark.parametrize(("x_a", "n_a", "x_b", "n_b"), [(820, 1000, 861, 1000), (45, 60, 30, 52), (3, 400, 11, 380)])
def test_two_proportions_match_statsmodels(x_a, n_a, x_b, n_b):
    est = S.two_proportions(x_a, n_a, x_b, n_b)
    lo, hi = confint_proportions_2indep(x_b, n_b, x_a, n_a, method="newcomb", compare="diff")
    _, p = proportions_ztest([x_b, x_a], [n_b, n_a])
    assert est.diff == pytest.approx(x_b / n_b - x_a / n_a)
    assert est.ci == pytest.approx((lo, hi), abs=1e-12)
    assert est.p_value == pytest.approx(p, rel=1e-9)


def test_wilson_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    assert S.wilson(8, 10) == pytest.approx(proportion_confint(8, 10, method="wilson"), abs=1e-12)


def _durations(seed: int, n: int, scale: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.lognormal(np.log(scale), 0.8, n), 0)  # whole seconds: many ties, as a sketch's bins


def test_durations_match_scipy_on_the_expanded_values():
    a, b = _durations(1, 400, 60.0), _durations(2, 350, 52.0)
    hist_a = dict(zip(*np.unique(a, return_counts=True), strict=True))
    hist_b = dict(zip(*np.unique(b, return_counts=True), strict=True))
    u, p = S.mann_whitney(hist_a, hist_b)
    ref = sps.mannwhitneyu(b, a, method="asymptotic", use_continuity=True)
    assert u == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
    est = S.durations(hist_a, hist_b)
    welch = sps.ttest_ind(b, a, equal_var=False)
    ci = welch.confidence_interval(0.95)
    assert est.diff == pytest.approx(b.mean() - a.mean())
    assert est.ci == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert S.mean_difference(len(a), a.mean(), a.var(ddof=1), len(b), b.mean(), b.var(ddof=1)).p_value == \
        pytest.approx(welch.pvalue, rel=1e-9)


def test_nps_variance_is_the_scores_variance():
    scores_a = np.array([100] * 60 + [0] * 25 + [-100] * 15)
    scores_b = np.array([100] * 70 + [0] * 20 + [-100] * 10)
    est = S.nps_difference(60, 15, 100, 70, 10, 100)
    se = math.sqrt(scores_a.var() / 100 + scores_b.var() / 100)
    assert est.diff == pytest.approx(scores_b.mean() - scores_a.mean())
    assert est.se == pytest.approx(se)
    assert est.p_value == pytest.approx(2 * sps.norm.sf(est.diff / se))


@pytest.mark.parametrize(("call", "words"), [
    (lambda: S.two_proportions(5, 4, 1, 10), "0 <= successes <= n"),
    (lambda: S.two_proportions(1, 0, 1, 10), "n > 0"),
    (lambda: S.mann_whitney({}, {1.0: 3}), "both arms need values"),
    (lambda: S.nps_difference(60, 50, 100, 1, 1, 10), r"promoters \+ detractors <= n"),
    (lambda: S.Sequential(tau=0), "tau > 0"),
])
def test_bad_input_is_named(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def _peeking_runs(p_a: float, p_b: float, runs: int, days: int, per_day: int, seed: int) -> tuple[float, float]:
    """Share of runs that ever declare a difference, looking once a day: (always-valid test, naive z-test)."""
    rng = np.random.default_rng(seed)
    xa = rng.binomial(per_day, p_a, (runs, days)).cumsum(axis=1)
    xb = rng.binomial(per_day, p_b, (runs, days)).cumsum(axis=1)
    seq_hits = naive_hits = 0
    for r in range(runs):
        test = S.Sequential(tau=0.03)
        naive = False
        for d in range(days):
            n = per_day * (d + 1)
            est = S.two_proportions(int(xa[r, d]), n, int(xb[r, d]), n)
            test.look(est.diff, est.se ** 2)
            naive = naive or est.p_value < 0.05
        seq_hits += test.significant
        naive_hits += naive
    return seq_hits / runs, naive_hits / runs


def test_an_aa_test_peeked_at_daily_flags_at_most_its_nominal_rate():
    always_valid, naive = _peeking_runs(0.85, 0.85, runs=1000, days=30, per_day=200, seed=7)
    assert always_valid <= 0.05
    assert naive > 0.10  # the simulation does catch what peeking does to a one-look test


def test_a_real_difference_is_found_by_the_sequential_test():
    found, _ = _peeking_runs(0.85, 0.90, runs=200, days=30, per_day=200, seed=8)
    assert found > 0.9


def test_the_sequence_holds_the_truth_and_narrows():
    rng = np.random.default_rng(3)
    test = S.Sequential(tau=0.03)
    widths = []
    for day in range(1, 31):
        n = 300 * day
        x_a, x_b = rng.binomial(n, 0.80), rng.binomial(n, 0.84)
        est = S.two_proportions(int(x_a), n, int(x_b), n)
        lo, hi = test.look(est.diff, est.se ** 2)
        widths.append(hi - lo)
    assert test.lo <= 0.04 <= test.hi
    assert widths[-1] < widths[0] / 3
    assert test.p_value < 0.05 and test.significant


def test_needed_sample_shrinks_what_is_left():
    unit = 2 * 0.85 * 0.15
    total = S.needed_per_arm(unit, 0.05, 0.05)
    assert S.needed_per_arm(unit, 0.05, 0.05, have=total // 2) == total - total // 2
    assert S.needed_per_arm(unit, 0.05, 0.05, have=total) == 0
    assert S.cs_half_width(unit / total, 0.05) <= 0.05 < S.cs_half_width(unit / (total - 1), 0.05)
