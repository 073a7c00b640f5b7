"""Advantage estimators: hand-computed numbers (arithmetic in comments)."""
import pytest
import torch

from rlvr.algorithms import Algorithm, compute_advantages


def close(a, b, tol=1e-5):
    torch.testing.assert_close(a, torch.tensor(b, dtype=torch.float32), atol=tol, rtol=0)


def test_grpo_zscore_unbiased_std():
    # mean 0.5; unbiased var = 4 * 0.25 / 3 = 1/3, std 0.57735; A = +-0.5 / 0.57735 = +-0.866025
    close(compute_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]])), [[0.866025, -0.866025, -0.866025, 0.866025]])


def test_grpo_degenerate_groups_are_zero():
    close(compute_advantages(torch.tensor([[1.0, 1.0], [0.0, 0.0]]), "grpo"), [[0.0, 0.0], [0.0, 0.0]])
    close(compute_advantages(torch.tensor([[3.0], [-1.0]]), "grpo"), [[0.0], [0.0]])  # singleton groups


def test_grpo_eps_is_used():
    # std of [0, 2] = sqrt(2); A = 1 / (1.414214 + 1) = 0.414214 with eps = 1
    close(compute_advantages(torch.tensor([[2.0, 0.0]]), eps=1.0), [[0.414214, -0.414214]])
    close(Algorithm({"grpo": {"eps": 1.0}}).advantages(torch.tensor([[2.0, 0.0]])), [[0.414214, -0.414214]])


def test_dr_grpo_centred_only():
    # mean 0.25 -> [0.75, -0.25, -0.25, -0.25]
    close(compute_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), "dr_grpo"), [[0.75, -0.25, -0.25, -0.25]])


def test_rloo_leave_one_out():
    # A_1 = 1 - mean(0, 0, 0) = 1; A_2 = 0 - mean(1, 0, 0) = -1/3
    close(compute_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), "rloo"), [[1.0, -1 / 3, -1 / 3, -1 / 3]])


def test_lite_ppo_batch_std_raw_and_centered():
    r = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # centred [0.5, -0.5, 0, 0]; raw std: mean 0.75, var (0.0625*3 + 0.5625)/3 = 0.25 -> std 0.5 -> [1, -1, 0, 0]
    close(compute_advantages(r, "lite_ppo"), [[1.0, -1.0], [0.0, 0.0]])
    # centred std: mean 0, var (0.25 + 0.25)/3 = 1/6 -> std 0.408248 -> 0.5/0.408248 = 1.224745
    close(compute_advantages(r, "lite_ppo", std="centered"), [[1.224745, -1.224745], [0.0, 0.0]])


def test_hapo_token_weighted_group_stats():
    # lengths 1, 3: mu = (1*1 + 3*0)/4 = 0.25; var = (1*0.75^2 + 3*0.25^2)/4 = 0.1875, sigma 0.433013
    # A = [0.75, -0.25] / 0.433013 = [1.732051, -0.577350]
    a = compute_advantages(torch.tensor([[1.0, 0.0]]), "hapo_tlga", lengths=torch.tensor([[1.0, 3.0]]))
    close(a, [[1.732051, -0.577350]])


def test_hapo_falls_back_to_grpo_when_outlier():
    # lengths 1, 99: mu = 0.01, var = (0.99^2 + 99*0.01^2)/100 = 0.0099, sigma 0.0995 -> A_1 = 9.95 >= 5
    # -> GRPO for that group: mean 0.5, std sqrt(0.5) -> +-0.707107; the second group stays token-weighted
    r = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    a = compute_advantages(r, "hapo_tlga", lengths=torch.tensor([[1.0, 99.0], [1.0, 3.0]]))
    close(a, [[0.707107, -0.707107], [1.732051, -0.577350]])


def test_hapo_needs_lengths_and_unknown_keyword_is_named():
    with pytest.raises(ValueError, match="lengths"):
        compute_advantages(torch.tensor([[1.0, 0.0]]), "hapo_tlga")
    with pytest.raises(ValueError, match="did you mean lengths"):
        compute_advantages(torch.tensor([[1.0, 0.0]]), "hapo_tlga", lenghts=torch.ones(1, 2))
    with pytest.raises(KeyError, match="Did you mean 'grpo'"):
        compute_advantages(torch.tensor([[1.0, 0.0]]), "grpoo")


def test_name_from_config_keys():
    # the trainer builds the estimator from the config: `advantage` picks it, its section sets it
    from rlvr.config import load_config

    cfg = load_config(overrides=["algorithm.advantage=dr_grpo"])
    close(Algorithm(cfg.algorithm).advantages(torch.tensor([[1.0, 0.0]])), [[0.5, -0.5]])
