"""rlvr/config.py: validated loading, clear errors, YAML quirks, base: inheritance, overrides, presets."""
from __future__ import annotations

import dataclasses
import textwrap

import pytest

from rlvr.algorithms.presets import PRESETS
from rlvr.config import Config, ConfigError, load_config, parse_override, read_recipe, to_yaml, from_dict


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def test_defaults_load_and_finalize_fills_the_constant_normalizer():
    cfg = load_config()
    assert cfg == load_config(None, [])
    constant = load_config(None, ["algorithm.aggregation=constant"]).algorithm.constant
    assert constant.max_response_len == cfg.rollout.max_tokens == 1024  # Dr. GRPO's L_max = the budget
    assert load_config(None, ["algorithm.aggregation=constant", "algorithm.constant.max_response_len=7"]
                       ).algorithm.constant.max_response_len == 7
    assert cfg.rewards == {"math": 1.0}


@pytest.mark.parametrize("override, hint", [
    ("rollout.tempreature=0.5", "did you mean rollout.temperature?"),
    ("max_step=3", "did you mean max_steps?"),
    ("eps_high=0.3", "did you mean algorithm.ppo_clip.eps_high?"),  # right leaf, wrong section
    ("algorithm.eps_high=0.3", "did you mean algorithm.ppo_clip.eps_high?"),  # a setting outside its component
    ("algorithm.ppo_clip.eps_hgh=0.3", "did you mean algorithm.ppo_clip.eps_high?"),
    ("algorithm.loss=ppo_clp", "did you mean ppo_clip?"),  # component names are checked at load
    ("algorithm.masks=[forkng]", "did you mean forking?"),
    ("algorithm.cispoo.eps_high=1", "unknown config key 'algorithm.cispoo'"),
    ("rollout.backend=vlm", "did you mean vllm?"),
    ("algorithm.preset=dpo", "did you mean dapo?"),
])
def test_unknown_keys_and_values_suggest_the_closest(override, hint):
    with pytest.raises(ConfigError, match=hint.replace("?", r"\?")):
        load_config(None, [override])


def test_unknown_key_in_a_recipe_names_the_full_dotted_key(tmp_path):
    recipe = _write(tmp_path / "r.yaml", """
        learner:
          lr: 1.0e-6
          warmup_step: 10
    """)
    with pytest.raises(ConfigError, match=r"'learner.warmup_step' \(did you mean learner.warmup_steps\?\)"):
        load_config(recipe)


@pytest.mark.parametrize("override, message", [
    ("rollout.group_size=2.5", "rollout.group_size: expected an integer, got 2.5"),
    ("rollout.group_size=true", "rollout.group_size: expected an integer, got True"),  # bool is not an int here
    ("learner.lr=fast", "learner.lr: expected a number, got 'fast'"),
    ("logging.wandb=1", "logging.wandb: expected true/false, got 1"),
    ("data.train_files=a.jsonl", "data.train_files: expected a list"),
    ("model.path=3", "model.path: expected a string, got 3"),
    ("rollout=3", "rollout: expected a mapping, got 3"),
    ("rollout=0", "rollout: expected a mapping, got 0"),  # was silently read as an empty section
    ("algorithm=dapo", "algorithm: expected a mapping, got 'dapo'"),  # was an AttributeError
    ("learner.zero_stage=4", "learner.zero_stage must be 0, 1, 2 or 3"),
    ("learner.mini_batches=3", "multiple of learner.mini_batches"),  # 64 prompts do not split into 3
])
def test_wrong_types_and_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(None, [override])


def test_yaml_1_1_exponent_strings_are_floats(tmp_path):
    # PyYAML (YAML 1.1) reads `1e-6` without a dot as the string "1e-6"; float fields accept it.
    recipe = _write(tmp_path / "r.yaml", """
        learner: {lr: 1e-6, betas: [0.9, 1e-2]}
        algorithm: {ppo_clip: {dual_clip: 1e1}, clip_cov: {ratio: 2e-4}}
        rewards: {math: 1e0}
    """)
    cfg = load_config(recipe, ["algorithm.grpo.eps=1e-4"])
    assert cfg.learner.lr == 1e-6 and isinstance(cfg.learner.lr, float)
    assert cfg.learner.betas == [0.9, 0.01]
    assert cfg.algorithm.ppo_clip.dual_clip == 10.0  # Optional[float]
    assert cfg.algorithm.clip_cov.ratio == 2e-4 and cfg.algorithm.grpo.eps == 1e-4
    assert cfg.rewards == {"math": 1.0}  # dict[str, float]
    assert cfg.max_steps == 100 and isinstance(cfg.rollout.num_prompts, int)  # ints stay ints


def test_int_is_accepted_for_a_float_field():
    cfg = load_config(None, ["rollout.temperature=1"])
    assert cfg.rollout.temperature == 1.0 and isinstance(cfg.rollout.temperature, float)


def test_base_inheritance_chain_and_lists(tmp_path):
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "common.yaml", """
        max_steps: 7
        rollout: {group_size: 16, num_prompts: 32}
        data: {train_files: [a.jsonl, b.jsonl]}
        rewards: {math: 1.0, format: 0.1}
    """)
    _write(tmp_path / "mid.yaml", """
        base: common.yaml
        rollout: {group_size: 8}
        learner: {lr: 2.0e-6}
    """)
    child = _write(tmp_path / "sub" / "child.yaml", """
        base: [../mid.yaml]
        rollout: {max_tokens: 64}
        data: {train_files: [c.jsonl]}
        rewards: {format: 1.0}
    """)
    cfg = load_config(child)
    assert (cfg.max_steps, cfg.learner.lr) == (7, 2e-6)  # inherited from two levels up
    assert (cfg.rollout.group_size, cfg.rollout.num_prompts, cfg.rollout.max_tokens) == (8, 32, 64)  # merged
    assert cfg.data.train_files == ["c.jsonl"]  # lists replace
    assert cfg.rewards == {"format": 1.0}  # a recipe's rewards: is the whole verifier set (replaces)
    assert "base" not in read_recipe(child)


def test_base_errors(tmp_path):
    _write(tmp_path / "a.yaml", "base: b.yaml\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError, match="includes itself"):
        load_config(tmp_path / "a.yaml")
    _write(tmp_path / "c.yaml", "base: missing.yaml\n")
    with pytest.raises(ConfigError, match="recipe not found: .*missing.yaml"):
        load_config(tmp_path / "c.yaml")
    _write(tmp_path / "d.yaml", "base: 3\n")
    with pytest.raises(ConfigError, match="base: must be a recipe path"):
        load_config(tmp_path / "d.yaml")
    _write(tmp_path / "e.yaml", "rollout: {group_size: [\n")
    with pytest.raises(ConfigError, match="e.yaml: invalid YAML"):
        load_config(tmp_path / "e.yaml")
    _write(tmp_path / "f.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(tmp_path / "f.yaml")


def test_overrides_win_over_the_recipe_and_parse_as_yaml(tmp_path):
    recipe = _write(tmp_path / "r.yaml", "rollout: {group_size: 16}\nrewards: {math: 1.0, format: 0.1}\n")
    cfg = load_config(recipe, ["rollout.group_size=4", "rollout.stop=['</answer>']", "eval.limit=null",
                               "rewards.format=0.5"])
    assert cfg.rollout.group_size == 4 and cfg.rollout.stop == ["</answer>"] and cfg.eval.limit is None
    assert cfg.rewards == {"math": 1.0, "format": 0.5}  # a dotted override sets one weight, keeps the rest
    assert load_config(None, ["rewards.format=0.2"]).rewards == {"math": 1.0, "format": 0.2}
    assert load_config(None, ["rewards={format: 1}"]).rewards == {"format": 1.0}  # a mapping replaces
    assert parse_override("a.b.c=[1, 2]") == {"a": {"b": {"c": [1, 2]}}}
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_override("max_steps")


def test_preset_sits_between_defaults_and_recipe(tmp_path):
    recipe = _write(tmp_path / "r.yaml", "algorithm: {preset: dapo, ppo_clip: {eps_high: 0.3}}\n")
    a = load_config(recipe).algorithm
    c = a.ppo_clip
    assert (c.eps_low, c.eps_high, c.dual_clip, a.filters) == (0.2, 0.3, 10.0, ["dynamic_sampling"])  # recipe wins
    c = load_config(recipe, ["algorithm.ppo_clip.eps_low=0.1"]).algorithm.ppo_clip
    assert (c.eps_low, c.eps_high) == (0.1, 0.3)  # overrides beat both
    a = load_config(recipe, ["algorithm.preset=grpo"]).algorithm  # switching preset from the command line
    assert (a.aggregation, a.kl.coef, a.ppo_clip.eps_high) == ("seq_mean_token_mean", 0.04, 0.3)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_applies_exactly_its_values(name):
    a = load_config(None, [f"algorithm.preset={name}"]).algorithm
    for key, value in PRESETS[name].items():
        got = getattr(a, key)
        if isinstance(value, dict):  # a component section: exactly the preset's settings, defaults elsewhere
            defaults = type(got)()
            for field, v in dataclasses.asdict(got).items():
                assert v == value.get(field, getattr(defaults, field)), f"{key}.{field}"
        else:
            assert got == value, key


def test_resolved_config_round_trips_through_yaml():
    import yaml

    cfg = load_config(None, ["algorithm.preset=hapo", "learner.lr=3e-7", "rollout.adaptive_temperature=true"])
    assert from_dict(Config, yaml.safe_load(to_yaml(cfg))) == cfg
