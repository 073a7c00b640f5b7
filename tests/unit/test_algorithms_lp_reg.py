"""Lp-Reg (arXiv 2510.03222): min-p proxy from the old pass, k3 pull on the rarest negative tokens (notes §10.2)."""
import pytest
import torch

from rlvr.algorithms import token_loss
from rlvr.algorithms.lp_reg import LpRegSettings, proxy_logprobs
from rlvr.learner.logprobs import chunked_logprobs

D = torch.float64
OLD_LOGITS = torch.tensor([[[2.0, 1.0, 0.0, -3.0], [0.5, 0.4, 0.3, -2.0], [3.0, 0.0, -1.0, -1.0]],
                           [[1.0, 1.0, -2.5, 0.0], [2.0, 1.8, -1.0, 0.0], [0.0, -0.2, -0.4, -3.5]]], dtype=D)
DELTA = torch.zeros_like(OLD_LOGITS)
DELTA[0, 0, 1], DELTA[0, 1, 2], DELTA[0, 2, 0] = 0.1, -0.2, 0.1
DELTA[1, 0, 2], DELTA[1, 1, 1], DELTA[1, 2, 3] = -0.3, -0.2, -0.2
IDS = torch.tensor([[1, 2, 0], [3, 0, 3]])
ADV = torch.tensor([1.0, -0.5], dtype=D)
MASK = torch.ones(2, 3, dtype=D)
S = LpRegSettings(kappa=0.2, neg_frac=0.67, eps_low=1.0, eps_high=9.0, coef=1.0)
SETTINGS = {"kappa": 0.2, "neg_frac": 0.67, "eps_low": 1.0, "eps_high": 9.0, "coef": 1.0}


def _lp(logits):
    return torch.log_softmax(logits, -1).gather(-1, IDS[..., None])[..., 0]


def _direct_proxy(logits, kappa):
    p = torch.softmax(logits, -1)
    z = logits.masked_fill(p < kappa * p.max(-1, keepdim=True).values, -1e4)  # the code's apply_min_p
    return torch.log_softmax(z, -1).gather(-1, IDS[..., None])[..., 0]


def test_proxy_stat_matches_the_direct_min_p_filter():
    got = proxy_logprobs(OLD_LOGITS.reshape(6, 4), IDS.reshape(6), S).view(2, 3)
    # row 0 pos 2: p = softmax(3, 0, -1, -1): only token 0 survives 0.2 * p_max -> lp_proxy(0) = 0
    # row 1 pos 2: token 3 (z = -3.5) is filtered -> -1e4 - logsumexp(0, -.2, -.4) = -10000.911901
    torch.testing.assert_close(got, torch.tensor([[-1.313262, -1.201943, 0.0],
                                                  [-1.861995, -0.598139, -10000.911901]], dtype=D), atol=1e-6, rtol=0)
    torch.testing.assert_close(got, _direct_proxy(OLD_LOGITS, 0.2))
    fixed = proxy_logprobs(OLD_LOGITS.reshape(6, 4), IDS.reshape(6), LpRegSettings(kappa=0.2, rule="fixed"))
    p = torch.softmax(OLD_LOGITS, -1)
    z = OLD_LOGITS.masked_fill(p < 0.2, -1e4)  # regular_type fixed: p >= kappa
    torch.testing.assert_close(fixed.view(2, 3), torch.log_softmax(z, -1).gather(-1, IDS[..., None])[..., 0])


def test_proxy_through_the_chunked_head_equals_the_stat():
    # what the learner's old pass runs: hidden @ W^T -> logits, chunk by chunk, the stat per chunk
    g = torch.Generator().manual_seed(0)
    hidden, weight = torch.randn(7, 5, generator=g), torch.randn(11, 5, generator=g)
    targets = torch.randint(0, 11, (7,), generator=g)
    s = LpRegSettings(kappa=0.1)
    _, _, (proxy,) = chunked_logprobs(hidden, weight, targets, temperature=0.7, chunk=3, stats=((proxy_logprobs, s,
                                                                                                  False),))
    torch.testing.assert_close(proxy, proxy_logprobs((hidden @ weight.t()) / 0.7, targets, s))


def _loss(**settings):
    lp = _lp(OLD_LOGITS + DELTA).requires_grad_(True)
    proxy = _direct_proxy(OLD_LOGITS, 0.2)
    loss, m = token_loss(lp, _lp(OLD_LOGITS), ADV, MASK, loss="lp_reg", lp_reg={**SETTINGS, **settings},
                         inputs={"old_proxy_logprobs": proxy})
    loss.backward()
    return loss.item(), lp.grad, m


def test_lp_reg_worked_example():
    # lp = [[-1.337379,-1.377289,-.075288],[-1.871398,-.618123,-4.621785]]; 3 negative tokens, k = int(3*.67) = 2:
    # the two lowest lp among them are (1,2) -4.62 and (1,0) -1.87; (1,2) was filtered (proxy -1e4) -> not
    # selected; (1,0): lp -1.871398 < proxy -1.861995 -> selected.
    # (1,0): rho = exp(-1.871398 + 1.874667) = 1.003275; d = .009403; k3 = e^d - d - 1 = 4.43e-5
    #        x = .5 * 1.003275 + 4.43e-5 = .501682 (the unclipped PG term + beta k3)
    # others: PPO-clip in [0, 10] = -A rho; loss = mean of
    #   [[-1.077560, -.864458, -1.007627], [.501682, .539993, .410257]] = -0.249619
    loss, grad, m = _loss()
    assert loss == pytest.approx(-0.249619, abs=1e-6)
    # (1,0): d/dlp [-A rho + k3] / 6 = (.5 * 1.003275 + (1 - e^d)) / 6 = (.501637 - .009447) / 6 = .082032
    torch.testing.assert_close(grad, torch.tensor([[-0.179593, -0.144076, -0.167938],
                                                   [0.082032, 0.089999, 0.068376]], dtype=D), atol=1e-6, rtol=0)
    assert m["policy/lp_reg_frac"] == pytest.approx(1 / 6)


def test_k_must_exceed_one_as_the_code():
    # neg_frac .5: k = max(1, int(3 * .5)) = 1 -> the code's `if k > 1` skips the regulariser: plain PPO-clip
    loss, _, m = _loss(neg_frac=0.5)
    lp, old = _lp(OLD_LOGITS + DELTA), _lp(OLD_LOGITS)
    assert loss == pytest.approx((-ADV[:, None] * (lp - old).exp()).mean().item(), abs=1e-9)
    assert m["policy/lp_reg_frac"] == 0.0


def test_k3_pull_is_clamped_at_ten():
    # a selected token 3 nats below its proxy: k3 = e^3 - 3 - 1 = 16.1 -> clamped to 10, no pull gradient
    lp = torch.tensor([[-5.0, -1.0]], dtype=D, requires_grad=True)
    proxy = torch.tensor([[-2.0, -0.5]], dtype=D)
    loss, m = token_loss(lp, lp.detach(), torch.tensor([-1.0], dtype=D), torch.ones(1, 2, dtype=D), loss="lp_reg",
                         lp_reg={"neg_frac": 1.0}, inputs={"old_proxy_logprobs": proxy})
    loss.backward()
    # both selected (k = 2); token 0: x = rho + 10 = 11; token 1: d = .5, k3 = e^.5 - 1.5 = .148721, x = 1.148721
    assert loss.item() == pytest.approx((11.0 + 1.148721) / 2, abs=1e-6)
    # grads / 2: token 0 only -A rho' = 1 (clamped k3); token 1: 1 + (1 - e^.5) = .351279
    torch.testing.assert_close(lp.grad, torch.tensor([[0.5, 0.351279 / 2]], dtype=D), atol=1e-6, rtol=0)
    assert m["policy/lp_reg_frac"] == 1.0


def test_lp_reg_needs_the_proxy():
    lp = torch.zeros(1, 2, requires_grad=True)
    with pytest.raises(ValueError, match="old_proxy_logprobs"):
        token_loss(lp, lp.detach(), torch.ones(1), torch.ones(1, 2), loss="lp_reg")
