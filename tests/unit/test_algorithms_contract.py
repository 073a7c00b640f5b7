"""The component contract: settings under the component's name, declared inputs, masks that say what they
gate, user plug-ins, load-time validation, and the regressions found in review (issue 13 part 5)."""
from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from rlvr.algorithms import Algorithm, compute_advantages, describe, token_loss
from rlvr.config import ConfigError, load_config, to_yaml


def close(a, b, tol=1e-5):
    torch.testing.assert_close(torch.as_tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32),
                               atol=tol, rtol=0)


# ------------------------------------------------------------------------------------------- contract


def test_needs_are_what_the_active_components_declare():
    assert Algorithm({}).needs == frozenset()  # GRPO + PPO-clip + token-mean: log-probs only
    assert not Algorithm({}).needs_old_pass()
    a = Algorithm({"masks": ["forking"], "regularizers": ["kl", "entropy_bonus"]})
    assert a.needs == {"entropy", "ref_logprobs"} and a.grad_inputs == {"entropy"}
    assert Algorithm({"masks": ["tis_seq"]}).needs_old_pass()  # its denominators need old values before the update
    assert Algorithm({"advantage": "hapo_tlga"}).needs == {"lengths"}


def test_mask_gating_kl_is_over_every_token_as_trl():
    # TRL / the 80/20 authors apply the KL over every response token; the forking mask gates only the PG term.
    # lp = [-1, -2], ref = [-1.5, -1], A = 0, H = [2, 0.5], keep the top 50%, beta 0.1, token-mean:
    # k3 = exp(d) - d - 1 with d = ref - lp = [-0.5, 1] -> [0.106531, 0.718282]; mean 0.412406 -> x 0.1
    lp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    spec = dict(masks=["forking"], forking={"top_frac": 0.5}, regularizers=["kl"], kl={"coef": 0.1})
    for renorm in (False, True):  # renorm divides the PG term by kept tokens, never the KL
        loss, m = token_loss(lp, lp.detach(), torch.zeros(1), torch.ones(1, 2), entropy=torch.tensor([[2.0, 0.5]]),
                             ref_logprobs=torch.tensor([[-1.5, -1.0]]), **{**spec, "forking": {"top_frac": 0.5,
                                                                                             "renorm": renorm}})
        close(loss, 0.041241)  # rlvr used to give 0.005327 (KL on the kept token only)
        close(m["loss/kl"], 0.041241)


def test_gate_all_masks_run_first_whatever_the_list_order():
    a = Algorithm({"masks": ["forking", "truncated"]})
    assert [c.name for c, _ in a.masks] == ["truncated", "forking"]


def test_shrinking_mask_after_a_current_forward_mask_is_rejected(tmp_path):
    # the step's denominators are counted before the training forward, so a pg mask that shrinks them cannot
    # come after one that needs current-forward values (forking: current entropy)
    path = tmp_path / "neg_only.py"
    path.write_text(textwrap.dedent('''
        from rlvr.algorithms import register_mask

        @register_mask("drop_negative", gates="pg", shrinks=True)
        def drop_negative(valid, inp, s):
            return valid & (inp.advantages >= 0)
    '''))
    with pytest.raises(ValueError, match="list it first"):
        Algorithm({"modules": [str(path)], "masks": ["forking", "drop_negative"]})
    Algorithm({"modules": [str(path)], "masks": ["drop_negative", "forking"]})  # the other order is countable
    # gate-all masks are moved first, so tis_seq after forking is fine
    assert [c.name for c, _ in Algorithm({"masks": ["forking", "tis_seq"]}).masks] == ["tis_seq", "forking"]


def test_settings_validate_at_load_and_name_the_key():
    with pytest.raises(ConfigError, match=r"algorithm\.forking: top_frac must be in \(0, 1\]"):
        load_config(None, ["algorithm.masks=[forking]", "algorithm.forking.top_frac=1.5"])
    with pytest.raises(ConfigError, match="algorithm.ppo_clip.eps_low: expected a number"):
        load_config(None, ["algorithm.ppo_clip.eps_low=wide"])
    with pytest.raises(ConfigError, match="algorithm.reinforce: loss 'reinforce' takes no settings"):
        load_config(None, ["algorithm.reinforce.x=1"])
    with pytest.raises(ConfigError, match="algorithm.modules: cannot import"):
        load_config(None, ["algorithm.modules=[no_such_file.py]"])


def test_describe_lists_settings_defaults_comments_inputs_and_papers():
    text = describe()
    assert "ppo_clip.eps_high = 0.2   upper clip range" in text
    assert "forking  [gates pg]" in text and "truncated  [gates all]" in text
    assert "inputs: entropy:grad" in text and "arXiv 2510.18927" in text
    # the comment above a field counts too (constant's L_max)
    assert "constant.max_response_len = None   the fixed generation budget L_max" in text


# ------------------------------------------------------------------------------------------- plug-ins

USER_FILE = (Path(__file__).parent / "data" / "my_algos.py").read_text()


def test_a_user_file_adds_a_loss_with_its_own_setting(tmp_path):
    path = tmp_path / "my_algos.py"
    path.write_text(USER_FILE)
    cfg = load_config(None, [f"algorithm.modules=[{path}]", "algorithm.loss=scaled_pg",
                             "algorithm.scaled_pg.scale=2.5"])
    assert cfg.algorithm.scaled_pg.scale == 2.5
    assert "scaled_pg:\n    scale: 2.5" in to_yaml(cfg)  # the resolved config records it
    lp = torch.zeros(1, 2, requires_grad=True)
    loss, m = token_loss(lp, None, torch.tensor([1.0]), torch.ones(1, 2), modules=[str(path)], loss="scaled_pg",
                         scaled_pg={"scale": 2.5})
    loss.backward()
    close(loss, -2.5)  # ratio 1 -> -2.5 per token, token-mean
    close(lp.grad, [[-1.25, -1.25]])
    assert m["policy/scaled_pg_scale"] == 2.5
    with pytest.raises(ConfigError, match="algorithm.scaled_pg.scal' .did you mean algorithm.scaled_pg.scale"):
        load_config(None, [f"algorithm.modules=[{path}]", "algorithm.loss=scaled_pg", "algorithm.scaled_pg.scal=1"])


def test_train_fails_on_a_misspelled_loss_before_loading_anything(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rlvr.train", "recipes/tiny/dapo.yaml", "algorithm.loss=ppo_clp",
                          "model.path=/nonexistent"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "algorithm.loss: unknown policy loss 'ppo_clp' (did you mean ppo_clip?)" in out.stderr
    assert "Traceback" not in out.stderr and "nonexistent" not in out.stderr  # no model was looked at


def test_rlvr_algorithms_command_lists_user_components(tmp_path):
    path = tmp_path / "my_algos.py"
    path.write_text(USER_FILE)
    out = subprocess.run([sys.executable, "-m", "rlvr.cli", "algorithms", "--modules", str(path), "--kind", "loss"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "scaled_pg  —  a test plug-in" in out.stdout and "scaled_pg.scale = 1.0   multiplies -A * ratio" in out.stdout


# ------------------------------------------------------------------------------------------ regressions


def test_hapo_adv_max_reaches_the_estimator():
    # lengths 1, 3: token-weighted A = [1.732051, -0.577350]; with adv_max 1.0, |A| >= 1 -> GRPO z-score
    r, lengths = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 3.0]])
    cfg = load_config(None, ["algorithm.advantage=hapo_tlga", "algorithm.hapo_tlga.adv_max=1.0"])
    close(Algorithm(cfg.algorithm).advantages(r, lengths=lengths), [[0.707107, -0.707107]])
    close(Algorithm({"advantage": "hapo_tlga"}).advantages(r, lengths=lengths), [[1.732051, -0.577350]])


def test_bapo_search_does_not_stop_when_positive_tokens_carry_no_gradient():
    # two A > 0 tokens at ratio 1.3, no negative token. State (0.6, 1.2): both clipped above c_high, P = Nn = 0 --
    # a positive share of 0, not "no signal" -> widen: (0.6, 1.3) still clipped (1.3 < 1.3 false); (0.6, 1.4):
    # P = 2.6, rho_pos = 1 >= 0.5 -> stop. The old code stopped at the first state and trained on nothing.
    lp = torch.full((1, 2), math.log(1.3), requires_grad=True)
    loss, m = token_loss(lp, torch.zeros(1, 2), torch.ones(1), torch.ones(1, 2), loss="bapo",
                         bapo=dict(c_low_min=0.6, c_low_max=0.8, step_low=0.1, c_high_min=1.2, c_high_max=1.4,
                                   step_high=0.1))
    loss.backward()
    assert (m["policy/bapo_c_low"], m["policy/bapo_c_high"]) == (0.6, 1.4)
    close(lp.grad, [[-0.65, -0.65]])  # -A rho / 2 on both tokens


def test_advantages_keep_float64():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0]], dtype=torch.float64)
    for name in ("grpo", "dr_grpo", "rloo", "lite_ppo"):
        assert compute_advantages(r, name).dtype == torch.float64, name
    assert compute_advantages(r.long(), "grpo").dtype == torch.float32  # integer rewards become float32


def _lite_ppo_rank(rank: int, path: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=2)
    rewards = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    adv = compute_advantages(rewards[2 * rank:2 * rank + 2], "lite_ppo")  # this rank's half of the batch
    torch.save(adv, f"{out}.{rank}")
    dist.destroy_process_group()


def test_lite_ppo_batch_std_is_the_whole_batch_across_ranks(tmp_path):
    # rewards [[1,0],[1,1]] on rank 0, [[0,0],[1,0]] on rank 1: raw std over all 8 (mean 0.5, unbiased var
    # 8 * 0.25 / 7) = 0.534522; per-rank stds (0.5 and 0.5) would give another objective for the same batch
    import torch.multiprocessing as mp

    out = str(tmp_path / "adv")
    mp.start_processes(_lite_ppo_rank, args=(str(tmp_path / "init"), out), nprocs=2, start_method="spawn")
    both = torch.cat([torch.load(f"{out}.{r}") for r in range(2)])
    single = compute_advantages(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]]), "lite_ppo")
    torch.testing.assert_close(both, single)
    close(both[0], [0.935414, -0.935414])  # centred 0.5 / 0.534522


def test_unknown_declared_input_fails_when_the_algorithm_is_built(tmp_path):
    path = tmp_path / "bad_algos.py"
    path.write_text(textwrap.dedent('''
        from rlvr.algorithms import register_weight

        @register_weight("needs_magic", inputs=["magic"])
        def needs_magic(inp, s, keep):
            return keep.float()
    '''))
    with pytest.raises(ValueError, match="weight 'needs_magic' declares unknown input 'magic'"):
        Algorithm({"modules": [str(path)], "weights": ["needs_magic"]})


# ----------------------------------------------------------------------------------- off-policy corrections

# shared: lp_old (proximal) and lp_behav (sampler) as notes §10.7-10.9; ratio rho = 1 (on-policy update)
PROX = torch.tensor([[-1.0, -2.1, -0.5], [-1.5, -0.35, -2.4]])
BEHAV = torch.tensor([[-1.2, -2.0, -0.5], [-3.5, -0.3, -2.5]])
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
ADV = torch.tensor([1.0, -0.5])


def _offpolicy(**spec):
    lp = PROX.clone().requires_grad_(True)
    loss, m = token_loss(lp, PROX, ADV, MASK, sampler_logprobs=BEHAV, **spec)
    loss.backward()
    return loss, m, lp.grad


def test_decoupled_ppo_masks_tokens_above_the_cap_in_the_denominator():
    # w = exp(prox - behav) = [[1.221403, 0.904837, 1], [7.389056 (> 5: rejected), 0.951229, (1.105171 padding)]]
    # rho = 1: per-token loss -A w -> (-1.221403 - 0.904837 - 1 + 0 + 0.5 * 0.951229) / 5 valid tokens
    loss, m, grad = _offpolicy(weights=["decoupled"])
    close(loss, (-1.221403 - 0.904837 - 1.0 + 0.5 * 0.951229) / 5)  # -0.530061
    close(grad, [[-0.244281, -0.180967, -0.2], [0.0, 0.095123, 0.0]])  # -A w / 5
    loss_t, _, _ = _offpolicy(weights=["decoupled"], decoupled={"mode": "truncate"})
    close(loss_t, (-1.221403 - 0.904837 - 1.0 + 0.5 * 5.0 + 0.5 * 0.951229) / 5)  # rejected -> clamped at 5


def test_icepop_keeps_the_ratio_inside_its_band_only():
    # k = [[1.221403, 0.904837, 1], [7.389056 -> 0, 0.951229]] with [0.5, 5]; band [0.95, 5] also drops 0.904837
    loss, _, _ = _offpolicy(weights=["icepop"], icepop={"low": 0.95, "high": 5.0})
    close(loss, (-1.221403 - 1.0 + 0.5 * 0.951229) / 5)


def test_geo_seq_drops_rows_by_the_geometric_mean_ratio():
    # row 0: mean log k = (0.2 - 0.1 + 0) / 3 = 0.033333 -> g 1.033895 kept; row 1: (2.0 - 0.05) / 2 = 0.975 ->
    # g 2.651 > 2 dropped from the loss and the denominators: loss = -(1.0 * 3) / 3 = -1
    loss, m, grad = _offpolicy(masks=["geo_seq"])
    close(loss, -1.0)
    close(grad[1], [0.0, 0.0, 0.0])
    close(m["policy/masked_frac_geo_seq"], 0.4)
    assert Algorithm({"masks": ["geo_seq"]}).needs_old_pass()  # it shrinks the denominators: old values first


def test_mismatch_kl_metric():
    # k3 of log k over the 5 valid tokens: log k = [0.2, -0.1, 0, 2.0, -0.05]
    _, m, _ = _offpolicy()
    expected = sum(math.exp(x) - 1 - x for x in [0.2, -0.1, 0.0, 2.0, -0.05]) / 5
    close(m["policy/mismatch_kl"], expected)


def test_loop_learner_and_token_loss_name_no_algorithm():
    """Issue 13's "done when": no component or preset name appears as code (a string, name or attribute) in the
    loop, the learner or token_loss.py. `truncated` is both a mask and the rollout's data field: allowed as data."""
    import ast

    from rlvr.algorithms import PRESETS, REGISTRIES
    from rlvr.algorithms.token_loss import INPUT_NAMES

    root = Path(__file__).resolve().parents[2] / "rlvr"
    names = set(PRESETS).union(*(r.names() for r in REGISTRIES.values())) - set(INPUT_NAMES)
    files = [root / "train.py", root / "algorithms" / "token_loss.py", *sorted((root / "learner").glob("*.py"))]
    found = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            word = (node.value if isinstance(node, ast.Constant) and isinstance(node.value, str)
                    else node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute)
                    else None)
            if word in names:
                found.append(f"{f.name}:{node.lineno} {word}")
    assert {"grpo", "ppo_clip", "forking", "cispo"} <= names
    assert not found, found
