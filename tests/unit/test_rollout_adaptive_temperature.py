"""HAPO adaptive temperature (algorithms.md 5.0-5.1): statistics and per-token temperature, hand-computed."""
import math

import pytest
import torch

from rlvr.rollout.adaptive_temperature import EntropyStats, hapo_params, normalized_entropy, token_temperature


def test_entropy_stats_hand_computed():
    # H = e^u with u = [-2, -1, 0, 1, 2] (the padded 5th column is masked out).
    u = torch.tensor([[-2.0, -1.0, 0.0, 99.0], [1.0, 2.0, 5.0, 5.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    st = EntropyStats.from_entropy(u.exp(), mask, pivot_q=0.8)
    # valid u sorted = [-2, -1, 0, 1, 2]; "nearest" 0.8-quantile -> index 0.8 * 4 = 3.2 -> 3 -> pivot = 1
    assert st.pivot == pytest.approx(1.0)
    # sigma = sqrt(mean((u - 1)^2)) = sqrt((9 + 4 + 1 + 0 + 1) / 5) = sqrt(3)
    assert st.sigma == pytest.approx(math.sqrt(3.0))
    # h = (u - 1) / sqrt(3): max h+ = 1/sqrt(3) (u = 2), min h- = -3/sqrt(3) (u = -2)
    assert st.h_pos_max == pytest.approx(1 / math.sqrt(3.0))
    assert st.h_neg_min == pytest.approx(-3 / math.sqrt(3.0))


def test_normalized_entropy_sign_correct_and_code_compat():
    st = EntropyStats(pivot=1.0, sigma=math.sqrt(3.0), h_pos_max=1 / math.sqrt(3.0), h_neg_min=-math.sqrt(3.0))
    H = torch.tensor([-2.0, -0.5, 1.0, 2.0, 9.0]).exp()
    # h = (u - 1)/sqrt3 = [-3, -1.5, 0, 1, 8] / sqrt3; negatives / (3/sqrt3) -> [-1, -0.5, 0]; positives / (1/sqrt3)
    # -> [1, 8] -> clamped to [1, 1]
    expected = torch.tensor([-1.0, -0.5, 0.0, 1.0, 1.0])
    torch.testing.assert_close(normalized_entropy(H, st), expected)
    # released code divides by min(h-) (negative): V-shaped, non-negative
    torch.testing.assert_close(normalized_entropy(H, st, code_compat=True), expected.abs())


def test_token_temperature():
    st = EntropyStats(pivot=math.log(math.log(4)), sigma=1.0, h_pos_max=1.0, h_neg_min=-1.0)
    # uniform over 4 tokens: H = log 4 -> u = pivot -> h_hat = 0 -> T = T_base
    # one-hot-ish row: H ~ 0 -> u = log(1e-8) far below -> h_hat = -1 -> T = T_base (1 - tau) = 0.95 * 0.5
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [100.0, 0.0, 0.0, 0.0]])
    t = token_temperature(logits, 0.5, st, tau=0.05)
    torch.testing.assert_close(t, torch.tensor([0.5, 0.5 * 0.95]))
    # no statistics yet (first step): fixed T_base
    torch.testing.assert_close(token_temperature(logits, 0.7, None, tau=0.05), torch.tensor([0.7, 0.7]))


def test_degenerate_stats_and_bad_params():
    assert EntropyStats.from_entropy(torch.ones(2, 3)) is None  # sigma = 0
    assert hapo_params({"tau": 0.1})["tau"] == 0.1
    with pytest.raises(ValueError, match="unknown key.*taus"):
        hapo_params({"taus": 0.1})
