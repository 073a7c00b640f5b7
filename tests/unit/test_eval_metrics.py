"""pass@k / avg@n / maj@k / CIs against hand-computed numbers."""
from __future__ import annotations

import math

import pytest

from rlvr.eval import bootstrap_ci, cluster_answers, length_stats, maj_at_k, pass_at_k, score_problems
from rlvr.eval.metrics import majority_correct


def exact(pairs):  # string equality: lets the clustering logic be checked independently of the verifier
    return [a == b for a, b in pairs]


def test_pass_at_k_all_and_none_correct():
    assert pass_at_k(16, 16, 1) == 1.0 and pass_at_k(16, 16, 16) == 1.0  # every sample correct
    assert pass_at_k(16, 0, 1) == 0.0 and pass_at_k(16, 0, 16) == 0.0  # none correct


def test_pass_at_k_c_of_n_closed_form():
    # n=4, c=1: pass@1 = 1/4; pass@2 = 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5; pass@4 = 1 (n - c = 3 < 4)
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(4, 1, 4) == 1.0
    # n=16, c=3, k=4: 1 - C(13,4)/C(16,4) = 1 - 715/1820 = 1105/1820 = 0.607142857...
    assert pass_at_k(16, 3, 4) == pytest.approx(1105 / 1820)
    # n=10, c=2, k=3: 1 - C(8,3)/C(10,3) = 1 - 56/120 = 0.533333...
    assert pass_at_k(10, 2, 3) == pytest.approx(64 / 120)
    # pass@1 is always c/n
    assert pass_at_k(64, 17, 1) == pytest.approx(17 / 64)


def test_pass_at_k_is_stable_for_large_n():
    # n=1024, c=1, k=512: 1 - C(1023,512)/C(1024,512) = 1 - 512/1024 = 0.5 (binomials overflow floats)
    assert pass_at_k(1024, 1, 512) == pytest.approx(0.5)
    assert pass_at_k(1024, 1000, 30) == 1.0
    assert math.isclose(pass_at_k(2000, 3, 2), 1 - (1997 * 1996) / (2000 * 1999))  # C(1997,2)/C(2000,2)


def test_pass_at_k_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n=4 c=5 k=1"):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError, match="k=5"):
        pass_at_k(4, 1, 5)


def test_cluster_answers_follow_first_appearance():
    # whitespace-folded identical strings are one answer; None / empty = no answer (-1)
    assert cluster_answers([["7", "3", " 7", None, "3", ""]], exact) == [[0, 1, 0, -1, 1, -1]]


def test_majority_tie_goes_to_the_earliest_cluster():
    # votes: A (wrong) x2, B (right) x2 -> tie; A appeared first -> maj is wrong
    clusters, correct = [0, 1, 1, 0], [False, True, True, False]
    assert majority_correct(clusters, correct) == 0.0
    # B x3 beats A x1
    assert majority_correct([0, 1, 1, 1], [False, True, True, True]) == 1.0
    # no sample produced an answer: no vote, counts as wrong
    assert majority_correct([-1, -1], [False, False]) == 0.0


def test_maj_at_k_averages_disjoint_blocks():
    # n=4, k=2: blocks (s0,s1), (s2,s3). Block 1: tie A,B -> A (first) wrong -> 0. Block 2: B,B -> right -> 1.
    # maj@2 = (0 + 1) / 2 = 0.5; maj@4: B has 3 votes -> 1.0; maj@1 = mean correctness = 3/4.
    clusters, correct = [0, 1, 1, 1], [False, True, True, True]
    assert maj_at_k(clusters, correct, 2) == 0.5
    assert maj_at_k(clusters, correct, 4) == 1.0
    assert maj_at_k(clusters, correct, 1) == 0.75


def test_maj_groups_equivalent_answers_written_differently():
    from rlvr.rewards import math_equivalent_batch

    # gold 1/2: "\frac12", "0.5" and "\dfrac{1}{2}" are one cluster (3 votes) against "2" x2, "3" x1
    extracted = [["2", "\\frac12", "0.5", "2", "\\dfrac{1}{2}", "3"]]
    correct = [[False, True, True, False, True, False]]
    clusters = cluster_answers(extracted, math_equivalent_batch)
    assert clusters == [[0, 1, 1, 0, 1, 2]]
    m = score_problems(correct, extracted, [1, 6], math_equivalent_batch)
    assert m["maj@6"]["value"] == 1.0  # exact-string voting would pick "2" (2 votes vs 1 each) and be wrong
    assert score_problems(correct, extracted, [6], exact)["maj@6"]["value"] == 0.0


def test_score_problems_hand_computed():
    # two problems, n=4. P1: 4/4 correct; P2: 1/4 correct (sample 2).
    correct = [[True] * 4, [False, False, True, False]]
    extracted = [["5"] * 4, ["1", "9", "4", "9"]]
    m = score_problems(correct, extracted, [1, 2, 4, 8], exact)
    assert set(m) == {"avg@4", "pass@1", "pass@2", "pass@4", "maj@1", "maj@2", "maj@4"}  # k=8 > n is dropped
    assert m["avg@4"]["value"] == pytest.approx((1 + 0.25) / 2)  # 0.625
    assert m["pass@1"]["value"] == pytest.approx(0.625)
    assert m["pass@2"]["value"] == pytest.approx((1 + 0.5) / 2)  # P2: 1 - C(3,2)/C(4,2) = 0.5
    assert m["pass@4"]["value"] == 1.0
    # P2 maj@2: blocks ("1","9") tie -> "1" wrong; ("4","9") tie -> "4" right -> 0.5; maj@4: "9" x2 wins -> wrong
    assert m["maj@2"]["value"] == pytest.approx((1 + 0.5) / 2)
    assert m["maj@4"]["value"] == pytest.approx(0.5)
    lo, hi = m["avg@4"]["ci_low"], m["avg@4"]["ci_high"]
    assert 0.25 <= lo <= 0.625 <= hi <= 1.0  # bootstrap means of {1, 0.25} lie in [0.25, 1]


def test_bootstrap_ci():
    assert bootstrap_ci([1.0] * 10) == (1.0, 1.0)  # no spread, no interval
    values = [1.0] * 30 + [0.0] * 70
    lo, hi = bootstrap_ci(values, seed=0)
    # binomial SE = sqrt(0.3 * 0.7 / 100) = 0.0458 -> 95% CI about 0.30 +- 0.09
    assert 0.19 < lo < 0.24 and 0.36 < hi < 0.41
    assert bootstrap_ci(values, seed=0) == (lo, hi)  # deterministic


def test_length_stats():
    s = length_stats([10, 20, 30, 40, 100], [False, False, False, False, True])
    # mean 200/5 = 40; median 30; p90 by linear interpolation: 40 + 0.6 * (100 - 40) = 76; 1 of 5 truncated
    assert s == {"mean": 40.0, "median": 30.0, "p90": 76.0, "max": 100.0, "truncation_rate": 0.2}
