"""Every built-in policy loss and token weight: micro-batches with the step's normalizers == the full batch (loss
and gradient), under each aggregation. Losses and weights whose statistics are micro-batch scoped by design
(algorithms.md §0 "scopes") are run on inputs under which the split cannot change the statistic (said per case)."""
import pytest
import torch

from rlvr.algorithms import LOSSES, REGISTRIES, WEIGHTS, step_normalizers, token_loss

D = torch.float64
T = 6
AGGREGATIONS = ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum", "constant"]


def _rows(lengths, seed):
    """Ragged rows; every per-token input any component declares. Advantages are per row, so every row's
    tokens share a sign and each row has >= 2 tokens."""
    g = torch.Generator().manual_seed(seed)
    b = len(lengths)
    mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).to(D)  # [B, T]
    old = -torch.rand(b, T, generator=g, dtype=D) * 2 - 0.05  # [B, T]
    lp = old + 0.3 * torch.randn(b, T, generator=g, dtype=D)  # ratios spread over the clip ranges
    return dict(mask=mask, old=old, lp=lp, adv=torch.randn(b, generator=g, dtype=D),
                entropy=torch.rand(b, T, generator=g, dtype=D) * 2, old_entropy=torch.rand(b, T, generator=g, dtype=D) * 2,
                sampler=old + 0.2 * torch.randn(b, T, generator=g, dtype=D),
                proxy=lp + 0.3 * torch.randn(b, T, generator=g, dtype=D))


def ragged():
    """Six ragged rows split 2 / 1 / 3: any statistic that spans rows would differ between the split and the
    whole."""
    return _rows([6, 2, 4, 5, 3, 6], seed=0), [slice(0, 2), slice(2, 3), slice(3, 6)]


def copies():
    """Two micro-batches that are copies of the same three ragged rows: every statistic over a micro-batch's
    tokens (means, min / max, ratios of sums, top-k of a fraction, nearest-rank quantiles) equals the whole
    batch's, so a micro-batch-scoped component must reproduce the full batch exactly."""
    base = _rows([6, 3, 5], seed=1)
    return {k: torch.cat([v, v]) for k, v in base.items()}, [slice(0, 3), slice(3, 6)]


# name -> (algorithm keys, data). The micro-batch-scoped ones and why the split cannot move their statistic:
#   lp_reg    neg_frac = pos_frac = 1: every A<0 / A>0 token is a candidate (k = all, > 1 in every micro-batch),
#             so the selection is per token (lp < lp_proxy)
#   clip_cov  copies; ratio 1 detaches every candidate (no random draw); Cov's means equal on copies
#   kl_cov    copies; ratio .15: k = int(.15 * 14) = 2 per copy, int(.15 * 28) = 4 in the whole = both copies' 2
#   bapo      copies: P and Nn double, rho_pos and the chosen bounds do not move
#   hapo      copies; the nearest-rank pivot at q = 6/13 is rank round(6) + 1 = 7 of a copy's 14 tokens and rank
#             round(12.46) + 1 = 13 of the whole's 28, the same value; the RMS sigma and the h extremes equal
LOSS_CASES = {
    "ppo_clip": (dict(ppo_clip={"eps_low": 0.2, "eps_high": 0.28, "dual_clip": 3.0}), ragged),
    "reinforce": ({}, ragged),
    "gspo": (dict(gspo={"eps_low": 0.01, "eps_high": 0.01}), ragged),
    "cispo": (dict(cispo={"eps_low": 0.2, "eps_high": 0.2, "unified_mask": True}), ragged),
    "lp_reg": (dict(lp_reg={"neg_frac": 1.0, "pos_frac": 1.0}), ragged),
    "clip_cov": (dict(clip_cov={"ratio": 1.0, "lb": 0.0, "ub": 1e9}), copies),
    "kl_cov": (dict(kl_cov={"ratio": 0.15}), copies),
    "bapo": ({}, copies),
    "hapo": (dict(hapo={"entropy_pivot": 6 / 13}), copies),
}
# weights (on PPO-clip): tis, decoupled and icepop are per token; steer's min / max |Omega| equal on copies
WEIGHT_CASES = {"tis": (dict(tis={"cap": 1.3}), ragged), "steer": ({}, copies),
                "decoupled": (dict(decoupled={"cap": 1.3}), ragged),
                "icepop": (dict(icepop={"low": 0.8, "high": 1.2}), ragged)}
# what makes each case non-vacuous (the component's own mechanism acted)
ACTED = {"cispo": "policy/clipfrac_high", "lp_reg": "policy/lp_reg_frac", "clip_cov": "policy/clip_cov_frac",
         "kl_cov": "policy/kl_cov_frac", "hapo": "policy/hapo_hhat_mean", "ppo_clip": "policy/clipfrac_high",
         "gspo": "policy/clipfrac_high"}


def _builtin(registry):
    return {c.name for c in registry if c.fn.__module__.startswith("rlvr.algorithms")}


def _registered(cases, registry):
    """The cases whose component is registered (a case may name one a later module adds)."""
    return sorted(n for n in cases if n in registry)


def test_every_builtin_loss_and_weight_is_covered():
    assert _builtin(LOSSES) == set(_registered(LOSS_CASES, LOSSES))
    assert _builtin(WEIGHTS) == set(_registered(WEIGHT_CASES, WEIGHTS))


def _part(d, rows, algo, norm):
    lp = d["lp"][rows].clone().requires_grad_(True)
    loss, m = token_loss(lp, d["old"][rows], d["adv"][rows], d["mask"][rows], entropy=d["entropy"][rows],
                         old_entropy=d["old_entropy"][rows], sampler_logprobs=d["sampler"][rows],
                         generator=torch.Generator().manual_seed(0), inputs={"old_proxy_logprobs": d["proxy"][rows]},
                         **norm, **algo)
    loss.backward()
    return loss.detach(), lp.grad, m


def _check(algo, data, key=None):
    d, splits = data()
    full, grad, m = _part(d, slice(None), algo, {})
    norm = step_normalizers([d["mask"][s] for s in splits], old_logprobs=[d["old"][s] for s in splits],
                            advantages=[d["adv"][s] for s in splits], **algo)
    parts = [_part(d, s, algo, norm) for s in splits]
    torch.testing.assert_close(sum(p[0] for p in parts), full, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(torch.cat([p[1] for p in parts]), grad, atol=1e-12, rtol=1e-10)
    assert full.abs() > 0 and grad.abs().sum() > 0
    if key is not None:
        assert m[key] != 0, f"{key} = 0: the case does not exercise the component"


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("name", _registered(LOSS_CASES, LOSSES))
def test_loss_accumulation_matches_full_batch(name, aggregation):
    keys, data = LOSS_CASES[name]
    _check(dict(loss=name, aggregation=aggregation, constant={"max_response_len": T}, **keys), data, ACTED.get(name))


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("name", _registered(WEIGHT_CASES, WEIGHTS))
def test_weight_accumulation_matches_full_batch(name, aggregation):
    keys, data = WEIGHT_CASES[name]
    _check(dict(weights=[name], aggregation=aggregation, constant={"max_response_len": T}, **keys), data)


def test_steer_weights_vary_on_the_copies():
    d, _ = copies()
    lp = d["lp"].clone().requires_grad_(True)
    _, m = token_loss(lp, d["old"], d["adv"], d["mask"], old_entropy=d["old_entropy"], weights=["steer"])
    assert 0.8 < m["policy/weight_steer"] < 1.2 and m["policy/weight_steer"] != 1.0


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_siren_sequence_scope_is_a_share_of_the_step(aggregation):
    """A 0-dim regularizer term is the micro-batch's share: SIREN per sequence sums to the full batch's term."""
    d, splits = ragged()
    algo = dict(loss="reinforce", aggregation=aggregation, constant={"max_response_len": T}, regularizers=["siren"],
                siren={"scope": "sequence", "anchor": 0.7, "coef": 0.5})

    def run(rows, norm):
        lp = d["lp"][rows].clone().requires_grad_(True)
        h = d["entropy"][rows].clone().requires_grad_(True)
        loss, m = token_loss(lp, d["old"][rows], d["adv"][rows], d["mask"][rows], inputs={"topp_entropy": h},
                             **norm, **algo)
        loss.backward()
        return loss.detach(), h.grad, m["loss/siren"]

    full = run(slice(None), {})
    norm = step_normalizers([d["mask"][s] for s in splits], **algo)
    parts = [run(s, norm) for s in splits]
    torch.testing.assert_close(sum(p[0] for p in parts), full[0], atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(torch.cat([p[1] for p in parts]), full[1], atol=1e-12, rtol=1e-10)
    assert full[2] > 0 and full[1].abs().sum() > 0


def test_the_covered_registries_are_the_ones_the_pipeline_runs():
    assert REGISTRIES["loss"] is LOSSES and REGISTRIES["weight"] is WEIGHTS
