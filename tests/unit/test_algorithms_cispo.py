"""CISPO (MiniMax-M1, arXiv 2506.13585): stop-gradient clipped IS weight times log-prob, hand-computed."""
import pytest
import torch

from rlvr.algorithms import PRESETS, token_loss
from rlvr.config import ConfigError

# notes §10.1: 2 rows x 3 tokens, 5 valid tokens
OLD = torch.tensor([[-1.0, -2.0, -0.5], [-1.5, -0.3, -2.5]], dtype=torch.float64)
LP = torch.tensor([[-0.8, -2.5, -0.5], [-1.0, -0.4, -3.0]], dtype=torch.float64)
ADV = torch.tensor([1.0, -0.5], dtype=torch.float64)
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.float64)
# r = exp(lp - old) = [[1.221403, 0.606531, 1], [1.648721, 0.904837, 0.606531]]


def _cispo(**settings):
    lp = LP.clone().requires_grad_(True)
    loss, m = token_loss(lp, OLD, ADV, MASK, loss="cispo", cispo=settings)
    loss.backward()
    return loss.item(), lp.grad, m


def close(a, b, tol=1e-6):
    torch.testing.assert_close(torch.as_tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64),
                               atol=tol, rtol=0)


def test_cispo_paper_upper_clip_only():
    # eps_high 0.2, no floor: w = min(r, 1.2) = [[1.2, .606531, 1], [1.2, .904837, (.606531)]]
    # loss = -(1/5) sum w A lp = -(1/5)[1.2(-.8) + .606531(-2.5) + 1(-.5) + 1.2(-.5)(-1) + .904837(-.5)(-.4)]
    #      = -(1/5)(-.96 - 1.516328 - .5 + .6 + .180967) = 0.439072
    loss, grad, m = _cispo(eps_high=0.2)
    close(loss, 0.439072)
    # d/dlp = -w A / 5: the capped tokens (0,0) and (1,0) keep their gradient (PPO-clip would zero (0,0))
    close(grad, [[-0.24, -0.121306, -0.2], [0.12, 0.090484, 0.0]])
    assert m["policy/clipfrac_high"] == pytest.approx(2 / 5)  # two capped weights, either sign of A
    assert m["policy/clipfrac_low"] == 0.0


def test_cispo_trl_cap_five_is_eps_high_four():
    # TRL's epsilon_high = 5.0 is an absolute cap = 1 + 4.0: no weight is capped here, w = r
    loss, grad, _ = _cispo(eps_high=4.0)
    close(loss, 0.397624)
    close(grad[1, 0], 0.164872)  # -w A / 5 = 1.648721 * 0.5 / 5


def test_cispo_roll_two_sided_clip():
    # ROLL's default [0.9, 1.1]: w = [[1.1, .9, 1], [1.1, .904837, .9]] -> loss 0.579807
    loss, grad, m = _cispo(eps_low=0.1, eps_high=0.1)
    close(loss, 0.579807)
    close(grad[0], [-0.22, -0.18, -0.2])
    # floor 0.9 binds at (0,1) r = .6065 (and at the padding (1,2), which no fraction counts): 1 of 5 tokens
    assert m["policy/clipfrac_low"] == pytest.approx(1 / 5)


def test_cispo_unified_mask():
    # Eq. 7, eps 0.2/0.2: (0,0) A>0 & r>1.2 leaves the numerator; w = clip(r, .8, 1.2)
    # -(1/5)[.8(-2.5) + 1(-.5) + 1.2(-.5)(-1)... ] = -(1/5)(-2 - .5 + .6 + .180967) = 0.343807; denominator stays 5
    loss, grad, _ = _cispo(eps_low=0.2, eps_high=0.2, unified_mask=True)
    close(loss, 0.343807)
    assert grad[0, 0] == 0.0 and grad[0, 1] != 0.0


def test_cispo_on_policy_is_reinforce():
    lp = LP.clone().requires_grad_(True)
    loss, _ = token_loss(lp, None, ADV, MASK, loss="cispo")  # old = lp: w = 1, loss = -A lp
    ref = -(ADV[:, None] * LP * MASK).sum() / 5
    close(loss.item(), ref.item())


def test_cispo_settings_checked_and_preset():
    with pytest.raises(ConfigError, match="eps_high"):
        token_loss(LP.clone().requires_grad_(True), OLD, ADV, MASK, loss="cispo", cispo={"eps_high": -1.0})
    p = PRESETS["cispo"]
    assert p["loss"] == "cispo" and p["cispo"]["eps_low"] is None and p["aggregation"] == "token_mean"
