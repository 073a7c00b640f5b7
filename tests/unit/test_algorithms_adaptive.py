"""BAPO bound search and HAPO normalized entropy / adaptive clipping / advantage redistribution."""
import pytest
import torch

from rlvr.algorithms import token_loss
from rlvr.algorithms.adaptive import BAPOSettings, bapo_path, hapo_hhat


def close(a, b, tol=1e-5):
    torch.testing.assert_close(torch.as_tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32),
                               atol=tol, rtol=0)


def test_bapo_path_orders():
    paper = bapo_path(BAPOSettings())  # [0.6, 0.9] x [1.2, 3.0], steps 0.05
    # high_first: c_high 1.2 -> 3.0 (37 states at c_low 0.6), then c_low 0.65 -> 0.9 (6 states)
    assert len(paper) == 43 and paper[:2] == [(0.6, 1.2), (0.6, 1.25)]
    assert paper[36] == (0.6, 3.0) and paper[37] == (0.65, 3.0) and paper[-1] == (0.9, 3.0)
    code = bapo_path(BAPOSettings(order="low_first"))
    # low_first: c_low 0.6 -> 0.9 (7 states) then c_high 1.25 -> 3.0 (36 states)
    assert len(code) == 43 and code[6] == (0.9, 1.2) and code[7] == (0.9, 1.25) and code[-1] == (0.9, 3.0)


# tokens (A, rho): p1 (+1, 1.0), p2 (+1, 1.35), n1 (-1, 0.75), n2 (-1, 1.0), n3 (-1, 0.65)
RATIOS = [1.0, 1.35, 0.75, 1.0, 0.65]
ADV = [[1.0, 1.0, -1.0, -1.0, -1.0]]
SMALL = dict(c_low_min=0.6, c_low_max=0.8, step_low=0.1, c_high_min=1.2, c_high_max=1.4, step_high=0.1, rho0=0.5)


def _bapo(**kw):
    lp = torch.tensor([RATIOS]).log().requires_grad_(True)
    loss, m = token_loss(lp, torch.zeros(1, 5), torch.tensor(ADV), torch.ones(1, 5), loss="bapo",
                         bapo={**SMALL, **kw})
    loss.backward()
    return loss, m, lp.grad


def test_bapo_paper_order_widens_high_then_raises_low():
    # count=unclipped: P(ch) = 1.0 + 1.35*[1.35 < ch]; Nn(cl) = 1.0 + .75*[.75 > cl] + .65*[.65 > cl]
    # (.6,1.2): 1/3.4 = .294; (.6,1.3): .294; (.6,1.4): 2.35/4.75 = .4947; (.7,1.4): 2.35/(2.35+1.75) = .573171
    loss, m, grad = _bapo(order="high_first", count="unclipped")
    assert (m["policy/bapo_c_low"], m["policy/bapo_c_high"]) == (0.7, 1.4)
    close(m["policy/bapo_pos_frac"], 0.573171)
    # loss with [0.7, 1.4]: -1, -1.35, .75, 1.0, n3 clipped at max(.65, .7) = .7 -> sum 0.1 / 5 = 0.02
    close(loss, 0.02)
    close(grad, [[-0.2, -0.27, 0.15, 0.2, 0.0]])  # -A rho / 5, n3 clipped -> 0


def test_bapo_code_order_raises_low_first():
    # (.6,1.2): .294; (.7,1.2): 1/2.75 = .3636; (.8,1.2): 1/(1+1) = 0.5 >= 0.5 -> stop
    _, m, grad = _bapo(order="low_first", count="unclipped")
    assert (m["policy/bapo_c_low"], m["policy/bapo_c_high"]) == (0.8, 1.2)
    close(m["policy/bapo_pos_frac"], 0.5)
    close(grad, [[-0.2, 0.0, 0.0, 0.2, 0.0]])  # p2 clipped above 1.2; n1, n3 clipped below 0.8


def test_bapo_count_all_uses_clipped_values_and_stops_at_last_state():
    # count=all: P = min(1, ch) + min(1.35, ch); Nn = max(.75, cl) + 1 + max(.65, cl)
    # (.6,1.2) 2.2/4.6=.478, (.6,1.3) 2.3/4.7=.489, (.6,1.4) 2.35/4.75=.4947, (.7,1.4) 2.35/4.8=.4896,
    # (.8,1.4) 2.35/(2.35+2.6) = .474747 -> never >= .5 -> the last state
    _, m, _ = _bapo(order="high_first", count="all")
    assert (m["policy/bapo_c_low"], m["policy/bapo_c_high"]) == (0.8, 1.4)
    close(m["policy/bapo_pos_frac"], 0.474747)


def test_bapo_bad_ranges_raise():
    with pytest.raises(ValueError, match="bapo"):
        _bapo(c_low_min=0.95)


# u = log H = [-2, -1, 0, 1, 2]; pivot = nearest-rank 0.8 quantile: index round(0.8*4) = 3 -> u = 1
# u - pivot = [-3, -2, -1, 0, 1]; sigma = sqrt((9+4+1+0+1)/5) = sqrt(3); h = (u - pivot)/sqrt(3)
# h-hat: positives / max h+ (1/sqrt3) -> 1; negatives / |min h-| (3/sqrt3) -> [-1, -2/3, -1/3]
ENT = torch.tensor([[-2.0, -1.0, 0.0, 1.0, 2.0]]).exp()


def test_hapo_hhat_signed_and_code_compat():
    keep = torch.ones(1, 5, dtype=torch.bool)
    close(hapo_hhat(ENT, keep, 0.8, code_compat=False), [[-1.0, -2 / 3, -1 / 3, 0.0, 1.0]])
    # released code divides negatives by min h- (negative): V-shaped, >= 0 everywhere
    close(hapo_hhat(ENT, keep, 0.8, code_compat=True), [[1.0, 2 / 3, 1 / 3, 0.0, 1.0]])


def test_hapo_loss_adaptive_bounds_and_redistribution():
    # eps 0.2/0.2, alpha 1, beta 1, h-hat [-1, -2/3, -1/3, 0, 1]
    # t0 (h -1, A +1, rho 1.0): eps_lo .4, zone (.8, 1.1) -> inside & low entropy -> A' = 1*(1-1) = 0 -> 0
    # t1 (h -2/3, A -1, rho .7): eps_lo .3333 -> lower bound .6667 (fixed .8 would clip); zone (.8333, 1.1)
    #     -> outside -> A' = -1; loss .7, grad .7
    # t2 (h -1/3, A +1, rho 1.05): zone (.8667, 1.1) inside -> A' = 2/3 -> loss -.7, grad -.7
    # t3 (h 0, A -1, rho 1.0): zone (.9, 1.1) inside -> A' = -1*(1+0) -> loss 1, grad 1
    # t4 (h 1, A +1, rho 1.3): eps_hi .4 -> upper 1.4; zone (.9, 1.2) outside & high entropy -> A' = 2
    #     -> loss -2.6, grad -2.6
    # token mean: (0 + .7 - .7 + 1 - 2.6)/5 = -0.32; grads / 5
    lp = torch.tensor([[1.0, 0.7, 1.05, 1.0, 1.3]]).log().requires_grad_(True)
    adv = torch.tensor([[1.0, -1.0, 1.0, -1.0, 1.0]])
    loss, m = token_loss(lp, torch.zeros(1, 5), adv, torch.ones(1, 5), entropy=ENT, loss="hapo",
                         hapo={"eps_low": 0.2, "eps_high": 0.2})
    loss.backward()
    close(loss, -0.32)
    close(lp.grad, [[0.0, 0.14, -0.14, 0.2, -0.52]])
    close(m["policy/clipfrac_low"], 0.0)
    close(m["policy/hapo_hhat_mean"], (-1 - 2 / 3 - 1 / 3 + 0 + 1) / 5)


def test_hapo_without_adaptation_is_ppo_clip():
    # alpha = beta = 0 -> plain PPO-clip 0.2: t1 rho .7 < .8 with A<0 is clipped (value .8, no grad)
    lp = torch.tensor([[1.0, 0.7, 1.05, 1.0, 1.3]]).log().requires_grad_(True)
    adv = torch.tensor([[1.0, -1.0, 1.0, -1.0, 1.0]])
    loss, _ = token_loss(lp, torch.zeros(1, 5), adv, torch.ones(1, 5), entropy=ENT, loss="hapo",
                         hapo={"clip_alpha": 0.0, "adv_beta": 0.0})
    loss.backward()
    # (-1 + .8 - 1.05 + 1 - 1.2)/5 = -0.29; t4 clipped at 1.2
    close(loss, -0.29)
    close(lp.grad, [[-0.2, 0.0, -0.21, 0.2, 0.0]])


def test_hapo_needs_entropy():
    lp = torch.zeros(1, 2, requires_grad=True)
    with pytest.raises(ValueError, match="entropy"):
        token_loss(lp, lp.detach(), torch.ones(1), torch.ones(1, 2), loss="hapo")
