"""Every recipe loads against the schema; tiny recipes are CPU-sized; headers say what they reproduce and how."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rlvr.config import load_config, read_recipe, to_dict

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "recipes" / "demo_cpu.yaml"  # the CPU demo's recipe (scripts/demo.sh), not a paper reproduction
RECIPES = sorted(p for p in (REPO / "recipes").glob("*.yaml") if p != DEMO)
TINY = sorted((REPO / "recipes" / "tiny").glob("*.yaml"))
METHODS = ["grpo", "dr_grpo", "dapo", "bapo", "hapo", "clip_cov", "kl_cov", "forking_tokens", "lite_ppo", "cispo",
           "lp_reg", "siren", "steer", "clip_b", "clip_v", "entropy_adv", "bapo_async", "dapo_async"]
# full recipes run one of these; Qwen2.5-7B-Instruct is the model of the Clip_B / Clip_V paper
MODELS = ("Qwen/Qwen2.5-Math-7B", "Qwen/Qwen3-8B-Base", "Qwen/Qwen2.5-7B-Instruct")


def preset_of(path: Path) -> str:
    """The preset a recipe is named after (`*_async` recipes run their method's preset asynchronously)."""
    return path.stem.removesuffix("_async")


def test_every_method_has_a_recipe_and_a_tiny_variant():
    assert {p.stem for p in RECIPES} >= set(METHODS)
    assert {p.stem for p in TINY} == {p.stem for p in RECIPES}


@pytest.mark.parametrize("path", RECIPES + TINY, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recipe_loads(path):
    cfg = load_config(path)
    assert cfg.algorithm.preset == preset_of(path)  # each recipe applies the preset it is named after
    if path.stem.endswith("_async"):
        assert cfg.rollout.placement == "split" and cfg.async_.max_staleness >= 1


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_full_recipe_header_names_paper_and_launch(path):
    header = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
    assert re.search(r"arXiv \d{4}\.\d{5}", header), "header must cite the paper's arXiv id"
    assert f"torchrun --nproc_per_node 8 -m rlvr.train recipes/{path.name}" in header
    assert "--rdzv_endpoint" in header and "--nnodes" in header  # the multi-node form
    cfg = load_config(path)
    assert cfg.model.path in MODELS
    assert cfg.rollout.backend == "vllm"


@pytest.mark.parametrize("path", TINY, ids=lambda p: p.stem)
def test_tiny_recipe_runs_on_cpu_here(path):
    cfg = load_config(path)
    assert cfg.rollout.backend == "hf" and cfg.max_steps <= 4
    assert cfg.model.path == ".cache/tiny-qwen2" and cfg.output_dir == f"runs/tiny-{path.stem}"
    assert cfg.rollout.num_prompts == 4 and cfg.rollout.group_size == 4 and cfg.rollout.max_tokens == 32
    assert cfg.learner.zero_stage == 2 and cfg.learner.micro_batch_tokens == 2048
    assert cfg.logging.tensorboard and cfg.eval.every == 0
    assert cfg.data.train_files == ["gsm8k_train"]  # bundled: a user's clone has everything it needs
    assert cfg.reward.overlong_buffer < cfg.rollout.max_tokens  # a buffer wider than the budget shapes every row
    assert "rlvr tiny-model .cache/tiny-qwen2" in path.read_text()


@pytest.mark.parametrize("path", TINY, ids=lambda p: p.stem)
def test_tiny_recipe_keeps_the_algorithm_of_its_base(path):
    """The tiny variant changes scale, never the method: every algorithm key equals the full recipe's, except
    the number of generation batches (a cost knob) and the L_max that follows the response budget."""
    raw = read_recipe(path)
    assert raw["algorithm"]["preset"] == preset_of(path)
    tiny, full = (to_dict(load_config(p))["algorithm"] for p in (path, REPO / "recipes" / path.name))
    for section in (tiny, full):
        section.pop("max_gen_batches")
        section.get("constant", {}).pop("max_response_len", None)
    assert tiny == full


def test_demo_recipe_is_dapo_on_cpu_under_the_ten_minute_budget():
    cfg = load_config(DEMO)
    assert cfg.algorithm.preset == "dapo" and cfg.algorithm.filters == ["dynamic_sampling"]
    assert cfg.rollout.backend == "hf" and cfg.learner.zero_stage == 2
    # 120 steps at ~1.3 s/step on 2 cores (README): the budget is 10 minutes of training
    assert cfg.max_steps * cfg.rollout.num_prompts * cfg.rollout.group_size * cfg.rollout.max_tokens <= 120 * 16 * 8 * 48
