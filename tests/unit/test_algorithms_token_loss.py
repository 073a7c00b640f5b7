"""token_loss as the learner uses it: micro-batch accumulation, config keys, presets, import hygiene."""
import dataclasses
import subprocess
import sys

import pytest
import torch

from rlvr.algorithms import PRESETS, step_normalizers, token_loss
from rlvr.config import ConfigError, load_config, to_dict

B, T = 5, 6


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([6, 2, 4, 5, 3])
    mask = (torch.arange(T)[None] < lengths[:, None]).float()  # [B, T] ragged rows
    old = -torch.rand(B, T, generator=g) * 2  # [B, T]
    lp = (old + 0.3 * torch.randn(B, T, generator=g)).detach()  # ratios spread over the clip range
    return dict(lp=lp, old=old, mask=mask, adv=torch.randn(B, generator=g),
                ref=old + 0.1 * torch.randn(B, T, generator=g), sampler=old + 0.2 * torch.randn(B, T, generator=g),
                ent=torch.rand(B, T, generator=g), trunc=torch.tensor([False, False, True, False, False]))


def _loss_and_grads(d, rows, algo, norm):
    lp = d["lp"][rows].clone().requires_grad_(True)
    ent = d["ent"][rows].clone().requires_grad_(True)
    loss, _ = token_loss(lp, d["old"][rows], d["adv"][rows], d["mask"][rows], entropy=ent,
                         ref_logprobs=d["ref"][rows], sampler_logprobs=d["sampler"][rows],
                         truncated=d["trunc"][rows], **norm, **algo)
    loss.backward()
    return loss.detach(), lp.grad, ent.grad


@pytest.mark.parametrize("tis", ["token", "seq_mask"])
@pytest.mark.parametrize("aggregation", ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum", "constant"])
def test_accumulation_micro_batches_match_full_batch(aggregation, tis):
    """Summing micro-batch losses computed with the step's num_tokens / num_seqs == the full-batch loss,
    and the concatenated gradients are equal (dual-clip, KL, entropy bonus, truncation and TIS all on)."""
    d = _batch()
    correction = {"token": dict(masks=["truncated"], weights=["tis"], tis={"cap": 1.3}),
                  "seq_mask": dict(masks=["truncated", "tis_seq"], tis_seq={"cap": 1.3})}[tis]
    algo = dict(aggregation=aggregation, constant={"max_response_len": T},
                ppo_clip={"dual_clip": 3.0, "eps_high": 0.28}, regularizers=["kl", "entropy_bonus"],
                kl={"coef": 0.1}, entropy_bonus={"coef": 0.01}, **correction)
    full, g_lp, g_ent = _loss_and_grads(d, slice(0, B), algo, {})
    splits = [slice(0, 2), slice(2, 3), slice(3, 5)]
    norm = step_normalizers([d["mask"][s] for s in splits], truncated=[d["trunc"][s] for s in splits],
                            old_logprobs=[d["old"][s] for s in splits],
                            sampler_logprobs=[d["sampler"][s] for s in splits], **algo)
    parts = [_loss_and_grads(d, s, algo, norm) for s in splits]
    torch.testing.assert_close(sum(p[0] for p in parts), full, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(torch.cat([p[1] for p in parts]), g_lp, atol=1e-7, rtol=1e-6)
    torch.testing.assert_close(torch.cat([p[2] for p in parts]), g_ent, atol=1e-7, rtol=1e-6)
    assert full.abs() > 0 and g_lp.abs().sum() > 0  # the comparison is not vacuous


def test_step_normalizers_counts():
    d = _batch()
    # lengths 6, 2, 4, 5, 3 -> 20 tokens, 5 sequences; row 2 (4 tokens) truncated -> 16 tokens, 4 sequences
    assert step_normalizers(d["mask"]) == {"num_tokens": 20.0, "num_seqs": 5.0, "num_reg_tokens": 20.0}
    assert step_normalizers(d["mask"], truncated=d["trunc"], masks=["truncated"]) == \
        {"num_tokens": 16.0, "num_seqs": 4.0, "num_reg_tokens": 16.0}
    # forking renorm: kept counts per micro-batch ceil(0.2 * 8) = 2 and ceil(0.2 * 12) = 3; the regularizers'
    # denominator keeps every valid token (the mask gates only the policy gradient)
    masks = [d["mask"][:2], d["mask"][2:]]
    norm = step_normalizers(masks, **{"masks": ["forking"], "forking": {"renorm": True}})
    assert norm == {"num_tokens": 5.0, "num_seqs": 5.0, "num_reg_tokens": 20.0}
    with pytest.raises(ValueError, match="truncated"):
        step_normalizers(d["mask"], masks=["truncated"])


def test_unknown_algorithm_key_names_it_and_suggests():
    lp = torch.zeros(1, 2, requires_grad=True)
    with pytest.raises(ConfigError, match=r"eps_hihg.*did you mean algorithm\.ppo_clip\.eps_high"):
        token_loss(lp, lp.detach(), torch.ones(1), torch.ones(1, 2), ppo_clip={"eps_hihg": 0.28})
    with pytest.raises(ConfigError, match="kl.estimator"):
        token_loss(lp, lp.detach(), torch.ones(1), torch.ones(1, 2), regularizers=["kl"], kl={"estimator": "k4"})
    with pytest.raises(ConfigError, match="did you mean ppo_clip"):
        token_loss(lp, lp.detach(), torch.ones(1), torch.ones(1, 2), loss="ppo_clp")


def test_a_saved_algorithm_section_is_accepted():
    # the `algorithm:` section of a resolved config (config.yaml) is a valid token_loss spec as it stands
    cfg = load_config(overrides=["algorithm.preset=dapo"])
    lp = torch.zeros(2, 3, requires_grad=True)
    loss, m = token_loss(lp, lp.detach(), torch.tensor([1.0, -1.0]), torch.ones(2, 3),
                         **to_dict(cfg)["algorithm"])
    loss.backward()
    # rho = 1 -> per-token loss -A: (-1*3 + 1*3)/6 = 0; grads -A/6
    assert loss.item() == pytest.approx(0.0)
    torch.testing.assert_close(lp.grad, torch.tensor([[-1 / 6] * 3, [1 / 6] * 3]))
    assert {"loss/pg", "loss/total", "policy/clipfrac_low", "policy/clipfrac_high", "policy/approx_kl"} <= set(m)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_load_and_hold_only_algorithm_keys(name):
    cfg = load_config(overrides=[f"algorithm.preset={name}"])
    saved = to_dict(cfg)["algorithm"]
    for k, v in PRESETS[name].items():  # every preset key is a field or a component section, kept as given
        assert saved[k] == v if not isinstance(v, dict) else {**saved[k], **v} == saved[k], k


def test_preset_values_from_the_papers():
    dapo = PRESETS["dapo"]["ppo_clip"]
    assert (dapo["eps_low"], dapo["eps_high"], dapo["dual_clip"]) == (0.2, 0.28, 10.0)
    assert PRESETS["dapo"]["filters"] == ["dynamic_sampling"] and PRESETS["dapo"]["aggregation"] == "token_mean"
    assert PRESETS["dr_grpo"]["aggregation"] == "constant" and PRESETS["dr_grpo"]["advantage"] == "dr_grpo"
    assert (PRESETS["gspo"]["gspo"]["eps_low"], PRESETS["gspo"]["gspo"]["eps_high"]) == (3e-4, 4e-4)
    assert PRESETS["forking_tokens"]["forking"]["top_frac"] == 0.2
    cfg = load_config(overrides=["algorithm.preset=dapo", "algorithm.ppo_clip.eps_high=0.3"])  # recipe wins
    assert cfg.algorithm.ppo_clip.eps_high == 0.3 and cfg.algorithm.ppo_clip.eps_low == 0.2


def test_import_does_not_pull_vllm_or_deepspeed():
    code = ("import sys, rlvr, rlvr.algorithms, rlvr.config, rlvr.types\n"
            "bad = [m for m in ('vllm', 'deepspeed') if m in sys.modules]\n"
            "assert not bad, bad\nprint('clean')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "clean" in out.stdout, out.stderr
