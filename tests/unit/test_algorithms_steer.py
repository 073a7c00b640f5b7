"""STEER (arXiv 2510.10150): per-token weights from the predicted entropy change (notes §10.4)."""
import pytest
import torch

from rlvr.algorithms import Algorithm, PRESETS, token_loss

D = torch.float64
OLD = torch.tensor([[-1.0, -2.0, -0.5], [-1.5, -0.3, -2.5]], dtype=D)
LP = torch.tensor([[-0.8, -2.5, -0.5], [-1.0, -0.4, -3.0]], dtype=D)
ADV = torch.tensor([1.0, -0.5], dtype=D)
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=D)
H_OLD = torch.tensor([[1.2, 0.3, 2.0], [0.8, 1.5, 0.4]], dtype=D)
DAPO_CLIP = {"eps_low": 0.2, "eps_high": 0.28, "dual_clip": 10.0}


def _steer(**settings):
    lp = LP.clone().requires_grad_(True)
    loss, m = token_loss(lp, OLD, ADV, MASK, old_entropy=H_OLD, weights=["steer"], steer=settings,
                         ppo_clip=DAPO_CLIP)
    loss.backward()
    return loss.item(), lp.grad, m


def test_linear_map_worked_example():
    # |Omega| = |A / p_old * p (1 - p) (log p + H_old)|, p the current prob:
    #   (0,0) p = e^-.8 = .449329: 1/.367879 * .449329 * .550671 * (-.8 + 1.2) = .269036
    #   |Omega| = [[.269036, 1.224836, .590204], [.104219, .164069, (.749233 padding, ignored)]]
    # linear [.8, 1.2], u_min .104219, u_max 1.224836: w = 1.2 - (u - u_min) * .4 / 1.120617
    #   = [[1.141169, .8, 1.026529], [1.2, 1.178637]]
    # PPO-clip .2/.28 + dual clip 10, token-mean over 5: loss = -.276622
    loss, grad, m = _steer()
    assert loss == pytest.approx(-0.276622, abs=1e-6)
    # the weight scales each token's gradient: (0,1) has A > 0 and ratio .606531 below the clip range, where
    # max(-A rho, -A clip(rho)) is the unclipped -A rho: d/dlp = -A rho w / 5 = -.606531 * .8 / 5
    assert grad[0, 1].item() == pytest.approx(-0.606531 * 0.8 / 5, abs=1e-6)
    assert m["policy/weight_steer"] == pytest.approx((1.141169 + 0.8 + 1.026529 + 1.2 + 1.178637) / 5, abs=1e-6)


def test_exp_map_worked_example():
    # k = -ln .8 / max(u_max, .02) = .223144 / 1.224836; w = clamp(exp(-k u), .8, 1)
    #   = [[.952168, .8, .898054], [.981192, .970552]] -> loss -.259661
    loss, _, _ = _steer(mapping="exp", w_min=0.8)
    assert loss == pytest.approx(-0.259661, abs=1e-6)


def test_equal_omegas_get_the_middle_weight():
    # every |Omega| equal (A = 0): the code's (w_min + w_max) / 2 = 1.0 -> plain PPO-clip
    lp = LP.clone().requires_grad_(True)
    _, m = token_loss(lp, OLD, torch.zeros(2, dtype=D), MASK, old_entropy=H_OLD, weights=["steer"])
    assert m["policy/weight_steer"] == pytest.approx(1.0)


def test_steer_declares_old_entropy_and_needs_it():
    assert Algorithm({"weights": ["steer"]}).needs_old_pass()
    lp = LP.clone().requires_grad_(True)
    with pytest.raises(ValueError, match="old_entropy"):
        token_loss(lp, OLD, ADV, MASK, weights=["steer"])
    assert PRESETS["steer"]["weights"] == ["steer"] and PRESETS["steer"]["ppo_clip"] == DAPO_CLIP
