"""SIREN (arXiv 2509.25133): top-p entropy stat (values and gradient), peak mask, anchored term (notes §10.3)."""
import pytest
import torch

from rlvr.algorithms import Algorithm, token_loss
from rlvr.algorithms.siren import SirenSettings, topp_entropy
from rlvr.learner.logprobs import chunked_logprobs

D = torch.float64
LOGITS = torch.tensor([[[2.0, 1.5, 1.0, 0.0, -1.0], [4.0, 0.0, 0.0, -1.0, -2.0], [1.2, 1.1, 1.0, 0.9, 0.0]],
                       [[0.6, 0.4, 0.3, 0.2, 0.1], [3.0, 2.5, -1.0, -1.0, -1.0], [2.0, 2.0, 0.0, -5.0, -5.0]]], dtype=D)
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=D)
TARGETS = torch.zeros(6, dtype=torch.long)  # the statistic does not depend on the sampled token
STRICT = SirenSettings(nucleus="strict")


def _hp(s, logits=LOGITS):
    return topp_entropy(logits.reshape(6, 5), TARGETS, s).view(2, 3)


def _direct(logits, p, rule):
    """The code's top-p entropy (efficient_top_p_sampling) written out: sort, choose the nucleus, renormalise."""
    probs = torch.softmax(logits, -1)
    sp, idx = probs.sort(-1, descending=True)
    cum = sp.cumsum(-1)
    inset = cum < p if rule == "strict" else cum - sp < p
    keep = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, idx, inset)
    q = probs * keep
    q = q / (q.sum(-1, keepdim=True) + 1e-12)
    return -(q * torch.log(q + 1e-12)).sum(-1)


def test_topp_entropy_values_both_nucleus_rules():
    # [0,1]: p1 = .9466 >= .8: strict -> empty set -> 0; inclusive -> {top-1} -> 0
    # [1,2]: p = (.4404, .4404, .0596, ...): strict {1} -> 0; inclusive {1, 2} -> ln 2 = .693147
    torch.testing.assert_close(_hp(STRICT), torch.tensor([[0.662847, 0.0, 1.095287], [1.090636, 0.0, 0.0]],
                                                         dtype=D), atol=1e-6, rtol=0)
    torch.testing.assert_close(_hp(SirenSettings()), torch.tensor([[1.020191, 0.0, 1.380071],
                                                                   [1.374964, 0.662847, 0.693147]], dtype=D),
                               atol=1e-6, rtol=0)
    for rule in ("strict", "inclusive"):
        torch.testing.assert_close(_hp(SirenSettings(nucleus=rule)), _direct(LOGITS, 0.8, rule), atol=1e-9, rtol=0)
    # top_k smaller than the nucleus: the nucleus is cut at the top_k logits ([0,0] inclusive needs 3 tokens)
    two = _hp(SirenSettings(top_k=2))[0, 0]
    p = torch.softmax(LOGITS[0, 0, :2], -1)
    assert two.item() == pytest.approx(-(p * p.log()).sum().item(), abs=1e-12)


def test_worked_example_regulariser_and_its_gradient():
    # strict H_p = [[.662847, 0, 1.095287], [1.090636, 0, (0)]]; row .8-quantiles (linear) .922311 / .872508
    # peaks: (0,2) and (1,0); H_hat = (1.095287 + 1.090636) / 2 = 1.092962
    # reg = .005 (1.092962 - .6)^2 = .00121505
    logits = LOGITS.clone().requires_grad_(True)
    hp = topp_entropy(logits.reshape(6, 5), TARGETS, STRICT).view(2, 3)
    lp = torch.zeros(2, 3, dtype=D, requires_grad=True)
    loss, m = token_loss(lp, lp.detach(), torch.zeros(2, dtype=D), MASK, loss="reinforce", regularizers=["siren"],
                         siren={"nucleus": "strict", "anchor": 0.6}, inputs={"topp_entropy": hp})
    assert m["loss/siren"] == pytest.approx(0.00121505, rel=1e-5)
    assert m["policy/siren_entropy"] == pytest.approx(1.092962, abs=1e-6)
    assert loss.item() == pytest.approx(0.00121505, rel=1e-5)  # A = 0: the PG term is 0
    loss.backward()
    # d reg / d logits: 2 lambda (H_hat - anchor) / 2 rows * dH_p / dz, only in the nucleus of the peaks
    g = logits.grad
    torch.testing.assert_close(g[0, 2], torch.tensor([-8.4e-5, 5e-6, 7.9e-5, 0, 0], dtype=D), atol=1e-6, rtol=0)
    torch.testing.assert_close(g[1, 0], torch.tensor([-1.45e-4, 3.9e-5, 1.06e-4, 0, 0], dtype=D), atol=1e-6, rtol=0)
    assert g[0, 0].abs().sum() == 0 and g[0, 1].abs().sum() == 0  # non-peak positions get nothing


def test_grad_stat_through_the_chunked_head_matches_full_logits_autograd():
    g = torch.Generator().manual_seed(0)
    n, h, v = 9, 6, 13
    hidden = torch.randn(n, h, generator=g, requires_grad=True)
    weight = torch.randn(v, h, generator=g, requires_grad=True)
    targets = torch.randint(0, v, (n,), generator=g)
    up_lp, up_h = torch.randn(n, generator=g), torch.randn(n, generator=g)  # arbitrary upstream gradients
    s = SirenSettings(top_k=6, top_p=0.7)
    lp, _, (hp,) = chunked_logprobs(hidden, weight, targets, temperature=0.8, chunk=4, with_entropy=False,
                                    stats=((topp_entropy, s, True),))
    ((lp * up_lp).sum() + (hp * up_h).sum()).backward()
    got = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    logits = (hidden @ weight.t()) / 0.8  # full [N, V] logits, plain autograd
    lp_ref = torch.log_softmax(logits, -1).gather(-1, targets[:, None]).squeeze(-1)
    hp_ref = topp_entropy(logits, targets, s)
    torch.testing.assert_close(hp.detach(), hp_ref.detach())
    torch.testing.assert_close(hp_ref.detach(), _direct(logits.detach(), 0.7, "inclusive") * 1.0, atol=1e-6, rtol=0)
    ((lp_ref * up_lp).sum() + (hp_ref * up_h).sum()).backward()
    torch.testing.assert_close(got[0], hidden.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[1], weight.grad, atol=1e-5, rtol=1e-5)
    assert hp.abs().sum() > 0 and got[0].abs().sum() > 0


def _siren(hp, mask, **settings):
    lp = torch.zeros(mask.shape, dtype=D, requires_grad=True)
    return token_loss(lp, lp.detach(), torch.zeros(mask.shape[0], dtype=D), mask, loss="reinforce",
                      regularizers=["siren"], siren=settings, inputs={"topp_entropy": hp})[1]


def test_scopes_and_shares():
    hp = torch.tensor([[0.2, 0.9, 0.5, 0.1], [1.0, 0.4, 0.0, 0.0], [0.3, 0.3, 0.3, 0.8]], dtype=D)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=D)
    # quantiles .8 (linear): row 0 [.1,.2,.5,.9] -> .66 -> peak .9; row 1 [.4, 1] -> .88 -> 1.0;
    # row 2 [.3,.3,.3,.8] -> .5 -> .8. Per-row peak means .9, 1.0, .8
    m = _siren(hp, mask, anchor=0.5, coef=1.0)
    assert m["loss/siren"] == pytest.approx((0.9 - 0.5) ** 2, rel=1e-6)  # H_hat = .9 (mean of .9, 1, .8)
    m = _siren(hp, mask, anchor=0.5, coef=1.0, scope="sequence")
    assert m["loss/siren"] == pytest.approx((0.4 ** 2 + 0.5 ** 2 + 0.3 ** 2) / 3, rel=1e-6)
    # as one micro-batch of a step of 6 sequences: the share n_mb / num_seqs = 3 / 6
    lp = torch.zeros(3, 4, dtype=D, requires_grad=True)
    _, m = token_loss(lp, lp.detach(), torch.zeros(3, dtype=D), mask, loss="reinforce", regularizers=["siren"],
                      siren={"anchor": 0.5, "coef": 1.0}, inputs={"topp_entropy": hp}, num_seqs=6.0)
    assert m["loss/siren"] == pytest.approx(0.16 / 2, rel=1e-6)
    # a dummy micro-batch (no valid token) contributes nothing
    m = _siren(hp, torch.zeros_like(mask), anchor=0.5)
    assert m["loss/siren"] == 0.0


def test_sequence_scope_equals_micro_batch_scope_with_one_row_per_micro_batch():
    hp = torch.tensor([[0.2, 0.9, 0.5, 0.1], [1.0, 0.4, 0.0, 0.0]], dtype=D)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=D)
    seq = _siren(hp, mask, anchor=0.3, scope="sequence")["loss/siren"]
    lp = torch.zeros(1, 4, dtype=D, requires_grad=True)
    parts = [token_loss(lp, lp.detach(), torch.zeros(1, dtype=D), mask[i:i + 1], loss="reinforce", num_seqs=2.0,
                        regularizers=["siren"], siren={"anchor": 0.3}, inputs={"topp_entropy": hp[i:i + 1]})[1]
             for i in range(2)]
    assert sum(p["loss/siren"] for p in parts) == pytest.approx(seq, rel=1e-6)


def test_anchor_is_measured_once_and_checkpointed():
    algo = Algorithm({"loss": "reinforce", "regularizers": ["siren"], "siren": {"coef": 1.0}})
    mask = torch.ones(2, 3, dtype=D)
    hp = torch.tensor([[0.1, 0.2, 0.9], [0.3, 0.7, 0.2]], dtype=D)  # peaks .9 and .7 -> anchor .8
    lp = torch.zeros(2, 3, dtype=D, requires_grad=True)
    _, m = algo.token_loss(lp, lp.detach(), torch.zeros(2, dtype=D), mask, topp_entropy=hp)
    assert algo.state_dict() == {"siren": {"anchor": pytest.approx(0.8)}}
    assert m["loss/siren"] == pytest.approx(0.0, abs=1e-12)  # the first update sits at its own anchor
    _, m = algo.token_loss(lp, lp.detach(), torch.zeros(2, dtype=D), mask, topp_entropy=hp + 0.1)
    assert m["loss/siren"] == pytest.approx(0.01, rel=1e-6) and m["policy/siren_anchor"] == pytest.approx(0.8)
    fresh = Algorithm(algo.cfg)
    fresh.load_state_dict(algo.state_dict())  # a resumed run keeps the initial policy's anchor
    _, m = fresh.token_loss(lp, lp.detach(), torch.zeros(2, dtype=D), mask, topp_entropy=hp + 0.1)
    assert m["loss/siren"] == pytest.approx(0.01, rel=1e-6)


def test_siren_declares_its_gradient_statistic():
    algo = Algorithm({"regularizers": ["siren"]})
    assert algo.grad_inputs == {"topp_entropy"} and set(algo.logit_stats("current")) == {"topp_entropy"}
    assert not algo.needs_old_pass()
