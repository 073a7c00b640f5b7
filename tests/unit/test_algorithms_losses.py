"""Surrogates through token_loss: hand-computed loss values and which tokens receive gradient."""
import math

import torch

from rlvr.algorithms import token_loss


def lp_from_ratios(ratios):
    """old_logprobs = 0, logprobs = log(ratio) (leaf with grad) -> ratio = exp(lp - old) is exactly `ratios`."""
    lp = torch.tensor([ratios]).log().requires_grad_(True)  # [1, T]
    return lp, torch.zeros_like(lp)


def close(a, b, tol=1e-5):
    torch.testing.assert_close(torch.as_tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32),
                               atol=tol, rtol=0)


def test_ppo_clip_decoupled_bounds_values_and_grads():
    lp, old = lp_from_ratios([1.5, 0.5, 1.1, 0.9])
    adv = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    mask = torch.ones(1, 4)
    loss, m = token_loss(lp, old, adv, mask, ppo_clip={"eps_low": 0.2, "eps_high": 0.28})
    # t0: A=+1, rho 1.5 > 1.28 -> max(-1.5, -1.28) = -1.28 (clipped high, no grad)
    # t1: A=-1, rho 0.5 < 0.8 -> max(0.5, 0.8) = 0.8 (clipped low, no grad)
    # t2: -1.1 ; t3: 0.9  -> token mean (-1.28 + 0.8 - 1.1 + 0.9) / 4 = -0.17
    close(loss, -0.17)
    loss.backward()
    # d(-A rho)/d lp = -A rho: t2 -> -1.1/4 = -0.275, t3 -> 0.9/4 = 0.225
    close(lp.grad, [[0.0, 0.0, -0.275, 0.225]])
    close(m["policy/clipfrac_high"], 0.25)
    close(m["policy/clipfrac_low"], 0.25)
    close(m["loss/pg"], -0.17)
    close(m["loss/total"], -0.17)


def test_ppo_clip_positive_token_below_lower_bound_keeps_gradient():
    # A=+1, rho 0.5: max(-0.5, -0.8) = -0.5 is the unclipped term -> gradient -0.5 (PPO's pessimism)
    lp, old = lp_from_ratios([0.5])
    loss, m = token_loss(lp, old, torch.tensor([1.0]), torch.ones(1, 1))
    loss.backward()
    close(loss, -0.5)
    close(lp.grad, [[-0.5]])
    close(m["policy/clipfrac_low"], 0.0)


def test_dual_clip_bounds_negative_tokens():
    # A=-1, rho 5: max(5, 1.2) = 5; dual-clip c = 3 -> min(5, 3) = 3, no gradient
    lp, old = lp_from_ratios([5.0, 1.0])
    adv = torch.tensor([[-1.0, -1.0]])
    loss, m = token_loss(lp, old, adv, torch.ones(1, 2), ppo_clip={"dual_clip": 3.0})
    loss.backward()
    close(loss, (3.0 + 1.0) / 2)
    close(lp.grad, [[0.0, 0.5]])  # t1: d(rho)/dlp = 1 -> 1/2
    close(m["policy/clipfrac_dual"], 0.5)
    lp2, old2 = lp_from_ratios([5.0, 1.0])
    loss2, _ = token_loss(lp2, old2, adv, torch.ones(1, 2))  # no dual-clip: (5 + 1)/2 = 3, grad 5/2 on t0
    loss2.backward()
    close(loss2, 3.0)
    close(lp2.grad, [[2.5, 0.5]])


def test_reinforce_no_ratio():
    # loss -A lp = [2, 4] -> mean 3; grad -A/2 = -1
    lp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    loss, _ = token_loss(lp, lp.detach() - 0.3, torch.tensor([2.0]), torch.ones(1, 2), loss="reinforce")
    loss.backward()
    close(loss, 3.0)
    close(lp.grad, [[-1.0, -1.0]])


def test_gspo_sequence_ratio_and_token_gradient():
    lp = torch.tensor([[0.2, -0.1]], requires_grad=True)
    old = torch.zeros(1, 2)
    # s = exp(mean(0.2, -0.1)) = exp(0.05) = 1.051271; A = 1, eps 0.2 -> unclipped, each token loss -1.051271
    loss, _ = token_loss(lp, old, torch.tensor([1.0]), torch.ones(1, 2), loss="gspo",
                         gspo={"eps_low": 0.2, "eps_high": 0.2}, aggregation="seq_mean_token_mean")
    loss.backward()
    close(loss, -1.051271)
    # grad of s_{i,t} = s * d lp_t: both tokens get -1.051271 / 2 despite different token ratios
    close(lp.grad, [[-0.525636, -0.525636]])
    # GSPO's tiny default bounds (3e-4 / 4e-4): s = 1.0513 > 1.0004 -> clipped, value -1.0004, no gradient
    lp2 = torch.tensor([[0.2, -0.1]], requires_grad=True)
    loss2, m = token_loss(lp2, old, torch.tensor([1.0]), torch.ones(1, 2), loss="gspo",
                          gspo={"eps_low": 3e-4, "eps_high": 4e-4}, aggregation="seq_mean_token_mean")
    loss2.backward()
    close(loss2, -1.0004)
    close(lp2.grad, [[0.0, 0.0]])
    close(m["policy/clipfrac_high"], 1.0)


def _cov_batch():
    # A = [3, -3, 3, -3] (mean 0); lp = [-.5, -1.5, -.5, -1.5] (mean -1) -> Cov = A (lp + 1) = 1.5 everywhere
    lp = torch.tensor([[-0.5, -1.5, -0.5, -1.5]], requires_grad=True)
    return lp, torch.tensor([[3.0, -3.0, 3.0, -3.0]])


def test_clip_cov_detaches_random_candidates_kept_in_denominator():
    lp, adv = _cov_batch()
    old = lp.detach().clone()
    old[0, 0] -= math.log(2.0)  # t0: ratio 2 > 1.28 -> clipped by PPO, not a Clip-Cov candidate
    g = torch.Generator().manual_seed(0)
    loss, m = token_loss(lp, old, adv, torch.ones(1, 4), loss="clip_cov",
                         clip_cov={"eps_high": 0.28, "ratio": 0.5, "lb": 1.0, "ub": 5.0}, generator=g)
    loss.backward()
    # k = max(1, int(0.5 * 4)) = 2 of the 3 candidates t1..t3 get zero loss and zero grad
    zero = (lp.grad[0] == 0).tolist()
    assert zero[0] and sum(zero[1:]) == 2
    (kept,) = [t for t in (1, 2, 3) if not zero[t]]
    # t0 clipped value -3 * 1.28 = -3.84; kept token: -A * 1; denominator stays 4 (detached tokens count)
    close(loss, (-3.84 - adv[0, kept].item()) / 4)
    close(lp.grad[0, kept], -adv[0, kept].item() / 4)
    close(m["policy/clip_cov_frac"], 0.5)
    # same seed -> same tokens (deterministic)
    lp2, _ = _cov_batch()
    loss2, _ = token_loss(lp2, old, adv, torch.ones(1, 4), loss="clip_cov",
                          clip_cov={"ratio": 0.5}, generator=torch.Generator().manual_seed(0))
    loss2.backward()
    assert torch.equal(lp2.grad == 0, lp.grad == 0)


def test_clip_cov_outside_covariance_band_detaches_nothing():
    lp, adv = _cov_batch()
    # Cov = 1.5 is not < ub = 1.2 -> no candidates; all 4 tokens keep gradient -A/4
    loss, m = token_loss(lp, lp.detach(), adv, torch.ones(1, 4), loss="clip_cov",
                         clip_cov={"ub": 1.2}, generator=torch.Generator().manual_seed(0))
    loss.backward()
    close(lp.grad, [[-0.75, 0.75, -0.75, 0.75]])
    close(m["policy/clip_cov_frac"], 0.0)


def test_kl_cov_penalises_top_covariance_token():
    # lp = [-.2, -1.5, -1, -1.3], mean -1 -> dev [.8, -.5, 0, -.3]; A = [1, -1, 1, -1] (mean 0)
    # Cov = [.8, .5, 0, .3] -> top k = max(1, int(.25 * 4)) = 1 token: t0
    lp = torch.tensor([[-0.2, -1.5, -1.0, -1.3]], requires_grad=True)
    old = lp.detach() - torch.tensor([[0.1, 0.0, 0.0, 0.0]])  # t0 ratio exp(0.1) = 1.105171
    adv = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    loss, m = token_loss(lp, old, adv, torch.ones(1, 4), loss="kl_cov",
                         kl_cov={"ratio": 0.25, "coef": 1.0})
    loss.backward()
    # t0: -1.105171 + |0.1| = -1.005171; t1..t3: 1, -1, 1 -> sum -0.005171 / 4 = -0.001293
    close(loss, -0.001293)
    # grads / 4: t0 -1.105171 + 1 = -0.105171 -> -0.026293; others -A rho / 4
    close(lp.grad, [[-0.026293, 0.25, -0.25, 0.25]])
    close(m["policy/kl_cov_frac"], 0.25)
    close(m["policy/clipfrac_high"], 0.0)  # KL-Cov never clips: a huge ratio still has gradient
