"""Entropy-shaped advantages (arXiv 2506.14758): A + min(alpha H, |A| / kappa) per token (notes §10.6)."""
import math

import pytest
import torch

from rlvr.algorithms import Algorithm, compute_advantages
from rlvr.config import ConfigError, load_config

D = torch.float64
# one group of 3: dr_grpo centres [1.5, 0, 0] -> A = [1, -.5, -.5]
REWARDS = torch.tensor([[1.5, 0.0, 0.0]], dtype=D)
H = torch.tensor([[[0.5, 2.0, 0.1], [1.0, 3.0, 0.2], [0.1, 0.2, 0.3]]], dtype=D)  # [N, G, T]
MASK = torch.tensor([[[1, 1, 1], [1, 1, 0], [1, 1, 1]]], dtype=D)
LENGTHS = MASK.sum(-1)


def _adv(**settings):
    return compute_advantages(REWARDS, "entropy_adv", old_entropy=H, loss_mask=MASK, lengths=LENGTHS,
                              base="dr_grpo", **settings)


def test_worked_example_kappa_two():
    # row 0 (A = 1): 1 + min(.4 [.5, 2, .1], 1/2) = [1.2, 1.5, 1.04]
    # row 1 (A = -.5): -.5 + min(.4 [1, 3, .2], .25) = [-.25, -.25, (masked) 0]
    # row 2 (A = -.5): -.5 + [.04, .08, .12] = [-.46, -.42, -.38]: the bonus shrinks a penalty, never flips it
    torch.testing.assert_close(_adv(), torch.tensor([[[1.2, 1.5, 1.04], [-0.25, -0.25, 0.0], [-0.46, -0.42, -0.38]]],
                                                    dtype=D))


def test_kappa_one_lets_a_negative_token_reach_zero():
    # SIREN's reproduction (kappa = 1): row 1 -.5 + min(.4 [1, 3], .5) = [-.1, 0]
    torch.testing.assert_close(_adv(kappa=1.0)[0, 1], torch.tensor([-0.1, 0.0, 0.0], dtype=D))


def test_zero_advantage_is_unchanged_and_base_settings_compose():
    flat = compute_advantages(torch.zeros(1, 3, dtype=D), "entropy_adv", old_entropy=H, loss_mask=MASK,
                              lengths=LENGTHS)
    assert flat.abs().sum() == 0  # min(alpha H, 0) = 0
    # base grpo with its own eps: rewards [1, 0] -> (1 - .5) / (std .707107 + 1) = .292893; bonus min(.4 H, A / 2)
    r = torch.tensor([[1.0, 0.0]], dtype=D)
    h = torch.full((1, 2, 2), 0.25, dtype=D)
    m = torch.ones(1, 2, 2, dtype=D)
    a = compute_advantages(r, "entropy_adv", old_entropy=h, loss_mask=m, lengths=m.sum(-1),
                           base="grpo", base_settings={"eps": 1.0})
    base = 0.5 / (math.sqrt(0.5) + 1.0)
    torch.testing.assert_close(a[0, 0], torch.full((2,), base + min(0.1, base / 2), dtype=D))
    torch.testing.assert_close(a[0, 1], torch.full((2,), -base + min(0.1, base / 2), dtype=D))


def test_token_level_base_composes():
    # hapo_tlga (declares lengths) as the base: its [N, G] advantages broadcast over T, then shaped
    a = compute_advantages(REWARDS, "entropy_adv", old_entropy=H, loss_mask=MASK, lengths=LENGTHS, base="hapo_tlga")
    base = compute_advantages(REWARDS, "hapo_tlga", lengths=LENGTHS)  # [1, 3]
    ref = (base[..., None] + torch.minimum(0.4 * H, base[..., None].abs() / 2)) * MASK
    torch.testing.assert_close(a, ref)


def test_the_algorithm_runs_the_old_pass_and_returns_token_advantages():
    algo = Algorithm({"advantage": "entropy_adv"})
    assert algo.needs_old_pass() and {"old_entropy", "loss_mask"} <= algo.needs
    out = algo.advantages(REWARDS, old_entropy=H, loss_mask=MASK, lengths=LENGTHS, acc=REWARDS)
    assert out.shape == (1, 3, 3)
    with pytest.raises(ValueError, match="old_entropy"):
        algo.advantages(REWARDS, loss_mask=MASK, lengths=LENGTHS)


def test_settings_are_checked_when_the_config_loads():
    with pytest.raises(ConfigError, match="grpo"):
        load_config(overrides=["algorithm.advantage=entropy_adv", "algorithm.entropy_adv.base=grpoo"])
    with pytest.raises(ConfigError, match="epsilon"):
        load_config(overrides=["algorithm.advantage=entropy_adv", "algorithm.entropy_adv.base_settings={epsilon: 1}"])
    with pytest.raises(ConfigError, match="kappa"):
        load_config(overrides=["algorithm.advantage=entropy_adv", "algorithm.entropy_adv.kappa=0.5"])
