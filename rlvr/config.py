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
    dtype: Literal["auto", "float32", "fp32", "bfloat16", "bf16", "float16", "fp16"] = "auto"  # auto = bf16 GPU, fp32 CPU
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
    dtype: Optional[Literal["auto", "float32", "fp32", "bfloat16", "bf16", "float16", "fp16"]] = None  # engine dtype; None = model.dtype
    max_model_len: Optional[int] = None  # vLLM context length (prompt + response); None = the model's maximum
    sync_bucket_mb: int = 256  # weight sync streams parameters in buckets of this size
    batch_size: int = 64  # HF engine: sequences generated per generate() call
    placement: Literal["colocated", "split"] = "colocated"  # split: ranks 0..ranks-1 only generate, the rest train
    ranks: int = 1  # placement=split: number of rollout ranks (the first `ranks` ranks of the torchrun job)
    adaptive_temperature: bool = False  # HAPO adaptive temperature sampling (algorithms.md 5.1)
    adaptive_temperature_params: dict[str, float] = field(default_factory=dict)  # HAPO sampler knobs: tau (0.05), entropy_pivot (0.8), code_compat (0/1); see rlvr/rollout/adaptive_temperature.py


@dataclass
class CodeRewardConfig:
    """Settings of the sandboxed code verifiers (code_stdout, code_tests; rlvr/rewards/sandbox.py)."""

    pass_mode: Literal["all", "fraction"] = "all"  # code_tests: 1 only if every case passes, or the passed fraction
    budget_s: float = 0.0  # code_tests: stop starting new cases after this long (0 = no budget; < reward.timeout_s)
    wall_s: float = 5.0  # wall-clock limit of one sandboxed run (its whole process tree is killed)
    cpu_s: int = 5  # CPU seconds per process
    memory_mb: int = 512  # address space per process
    file_mb: int = 16  # largest file it may write (stdout / stderr included)
    disk_mb: int = 32  # size of its throwaway working directory (memory-backed)
    processes: int = 16  # processes and threads inside the sandbox
    interpreter: str = ""  # Python to run the code with ("" = this Python's base interpreter)


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
    code: CodeRewardConfig = field(default_factory=CodeRewardConfig)  # sandboxed code verifiers


@dataclass
class AlgorithmConfig:
    """The active algorithm components (`rlvr algorithms` lists them) and, under each component's own name, its
    settings: `algorithm: {loss: cispo, cispo: {eps_high: 5.0}}`. Presets, recipes and `algorithm.<name>.<key>=v`
    overrides all write that one shape; names and settings are checked when the config loads."""

    preset: Optional[str] = None  # named preset applied under the recipe (grpo, dr_grpo, dapo, bapo, hapo, ...)
    modules: list[str] = field(default_factory=list)  # user files (path.py) or module names that register components
    advantage: str = "grpo"  # advantage estimator
    filters: list[str] = field(default_factory=list)  # group filters (e.g. dynamic_sampling): resample until full
    max_gen_batches: int = 10  # with filters: give up after this many generation batches (0 = unlimited)
    masks: list[str] = field(default_factory=list)  # token masks, in order (truncated, tis_seq, forking, ...)
    weights: list[str] = field(default_factory=list)  # per-token weights on the policy gradient (tis, ...)
    loss: str = "ppo_clip"  # policy loss
    regularizers: list[str] = field(default_factory=list)  # extra loss terms (kl, entropy_bonus, ...)
    aggregation: str = "token_mean"  # token_mean | seq_mean_token_mean | seq_mean_token_sum | constant
    settings: dict[str, Any] = field(default_factory=dict)  # component name -> its settings (written as algorithm.<name>)

    def __getattr__(self, name: str) -> Any:  # cfg.algorithm.ppo_clip -> that component's settings
        settings = self.__dict__.get("settings")
        if settings is not None and name in settings:
            return settings[name]
        raise AttributeError(f"AlgorithmConfig has no field or configured component {name!r}")

    def active(self) -> list[str]:
        """Names of the active components, in stage order."""
        return [self.advantage, *self.filters, *self.masks, *self.weights, self.loss, *self.regularizers,
                self.aggregation]

    @classmethod
    def _from_dict(cls, data: dict, prefix: str) -> "AlgorithmConfig":
        return algorithm_from_dict(data, prefix)


STRUCTURE = {"advantage": "advantage", "filters": "filter", "masks": "mask", "weights": "weight", "loss": "loss",
             "regularizers": "regularizer", "aggregation": "aggregation"}  # field -> component kind


def algorithm_from_dict(data: dict, prefix: str = "algorithm.") -> AlgorithmConfig:
    """Validate an `algorithm:` section: structural keys by the schema, every other key must name a registered
    component whose settings dataclass accepts its mapping. User modules are imported first."""
    from rlvr.algorithms import components  # registers the built-in components (pure torch, no I/O)

    fields_ = {f.name for f in dataclasses.fields(AlgorithmConfig)} - {"settings"}
    plain = {k: v for k, v in data.items() if k in fields_}
    sections = {k: v for k, v in data.items() if k not in fields_}
    base = _plain_from_dict(AlgorithmConfig, plain, prefix)
    try:
        components.load_modules(base.modules)
    except (ImportError, FileNotFoundError, SyntaxError) as e:
        raise ConfigError(f"{prefix}modules: cannot import {e}") from None
    for fname, kind in STRUCTURE.items():
        value = getattr(base, fname)
        for name in ([value] if isinstance(value, str) else value):
            if name not in components.REGISTRIES[kind]:
                known = components.REGISTRIES[kind].names()
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ConfigError(f"{prefix}{fname}: unknown {components.REGISTRIES[kind].label} {name!r}{hint}; "
                                  f"known: {', '.join(known)}")
    settings = {}
    for name, raw in sections.items():
        comp = components.component(name)
        if comp is None:
            raise _unknown_algorithm_key(prefix + str(name), base)
        if comp.settings is None:
            if raw:
                raise ConfigError(f"{prefix}{name}: {comp.kind} {name!r} takes no settings, got {raw!r}")
            continue
        settings[name] = from_dict(comp.settings, {} if raw is None else raw, f"{prefix}{name}.")
    for name in base.active():  # active components without a section run with their defaults
        comp = components.component(name)
        if name not in settings and comp.settings is not None:
            settings[name] = comp.settings()
    base.settings = settings
    return base


def _unknown_algorithm_key(key: str, cfg: AlgorithmConfig) -> ConfigError:
    """Unknown `algorithm.X`: the closest field or component, or the active component that has setting X."""
    from rlvr.algorithms import components

    leaf = key.rsplit(".", 1)[-1]
    names = [f.name for f in dataclasses.fields(AlgorithmConfig) if f.name != "settings"]
    names += [c.name for reg in components.REGISTRIES.values() for c in reg]
    close = difflib.get_close_matches(leaf, names, n=1, cutoff=0.6)
    if close:
        return ConfigError(f"unknown config key {key!r} (did you mean {key.rsplit('.', 1)[0]}.{close[0]}?)")
    owners = [n for n in cfg.active() if (c := components.component(n)) and c.settings
              and leaf in {f.name for f in dataclasses.fields(c.settings)}]
    hint = f" (did you mean {key.rsplit('.', 1)[0]}.{owners[0]}.{leaf}?)" if owners else ""
    return ConfigError(f"unknown config key {key!r}{hint}; component settings go under the component's name")


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
    log_entropy: bool = True  # compute current-policy entropy values for policy/entropy even if no component needs them
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
    samples: int = 4  # rollouts per step written to output_dir/samples.jsonl (prompt, response, rewards); 0 = off


@dataclass
class CheckpointConfig:
    save_every: int = 0  # checkpoint every K steps (0 = only at the end / on SIGTERM)
    keep_last: int = 2  # complete checkpoints kept on disk
    export_hf: bool = True  # also write a save_pretrained export (loadable by transformers and vLLM)
    checksum: bool = True  # manifest.json also records sha256 (~1 s/GB at save and resume); sizes always


@dataclass
class AsyncConfig:
    """Asynchronous off-policy training (rollout.placement=split): rollout ranks generate with the newest weights
    they have while the learner trains; a sample is at most max_staleness policy versions behind."""

    max_staleness: int = 1  # k: train on samples <= k policy versions old (0 = synchronous on split ranks)
    partial_rollouts: bool = False  # in-flight generations continue on new weights (per-token versions)
    segment_tokens: int = 256  # partial rollouts: tokens generated between checks for new weights
    poll_s: float = 0.01  # how often an idle rank looks for new orders / weights / samples


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
    async_: AsyncConfig = field(default_factory=AsyncConfig, metadata={"key": "async"})  # `async:` in YAML


# ----------------------------------------------------------------------------------------------- loading


def _yaml_keys(cls: type) -> dict[str, str]:
    """YAML key -> field name (a field may be spelled differently in YAML: `async` is a Python keyword)."""
    return {f.metadata.get("key", f.name): f.name for f in dataclasses.fields(cls)}


def all_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every dotted key of the schema (sections and leaves; under algorithm, every registered component's
    settings)."""
    keys = []
    spelled = {v: k for k, v in _yaml_keys(cls).items()}
    for name, tp in _hints(cls).items():
        if cls is AlgorithmConfig and name == "settings":
            from rlvr.algorithms import components

            for reg in components.REGISTRIES.values():
                for comp in reg:
                    keys.append(prefix + comp.name)
                    if comp.settings is not None:
                        keys += [f"{prefix}{comp.name}.{f.name}" for f in dataclasses.fields(comp.settings)]
            continue
        keys.append(prefix + spelled[name])
        if dataclasses.is_dataclass(tp):
            keys += all_keys(tp, prefix + spelled[name] + ".")
    return keys


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown_key(key: str, cls: type, prefix: str) -> ConfigError:
    """Name the key and the closest valid one: the same leaf in its right section first (the default
    components' settings before other components'), else the closest spelling."""
    leaf = key.rsplit(".", 1)[-1]
    active = [f"algorithm.{n}." for n in AlgorithmConfig().active()]
    same_leaf = sorted((k for k in all_keys() if k.rsplit(".", 1)[-1] == leaf and k != key),
                       key=lambda k: not any(k.startswith(a) for a in active))
    close = same_leaf[:1] or difflib.get_close_matches(key, all_keys(cls, prefix), n=1, cutoff=0.5)
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
    if hasattr(cls, "_from_dict"):  # a section with keys of its own making (algorithm: component names)
        return cls._from_dict(data, prefix)
    return _plain_from_dict(cls, data, prefix)


def _plain_from_dict(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = _hints(cls)
    names = _yaml_keys(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise _unknown_key(prefix + str(key), cls, prefix)
        tp = hints[names[key]]
        if dataclasses.is_dataclass(tp):
            # an empty section (`rollout:`) is None; any other non-mapping (0, [], a string) is an error
            kwargs[names[key]] = from_dict(tp, {} if value is None else value, prefix + key + ".")
        else:
            kwargs[names[key]] = _check_type(prefix + key, value, tp)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:  # a settings dataclass's own check (__post_init__)
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {e}") from None


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
    r, lr = cfg.rollout, cfg.learner
    _fill_default_from(cfg)
    checks = [
        (r.group_size >= 1, "rollout.group_size must be >= 1"),
        (r.num_prompts >= 1, "rollout.num_prompts must be >= 1"),
        (r.max_tokens >= 1, "rollout.max_tokens must be >= 1"),
        (0 <= lr.zero_stage <= 3, "learner.zero_stage must be 0, 1, 2 or 3"),
        (lr.mini_batches >= 1 and r.num_prompts % lr.mini_batches == 0,
         "rollout.num_prompts must be a multiple of learner.mini_batches"),
        (cfg.max_steps >= 0, "max_steps must be >= 0"),
        (r.placement == "colocated" or r.ranks >= 1, "rollout.ranks must be >= 1 with rollout.placement=split"),
        (r.placement == "colocated" or r.num_prompts % r.ranks == 0,
         "rollout.num_prompts must be a multiple of rollout.ranks (each rollout rank generates its share)"),
        (r.placement == "colocated" or not cfg.eval.every,
         "eval.every is not supported with rollout.placement=split yet: evaluate checkpoints with `rlvr eval`"),
        (cfg.async_.max_staleness >= 0, "async.max_staleness must be >= 0"),
        (cfg.async_.segment_tokens >= 1, "async.segment_tokens must be >= 1"),
        (bool(cfg.rewards), "rewards: name at least one verifier"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)
    return cfg


def _fill_default_from(cfg: Config) -> None:
    """A component setting declared `field(default=None, metadata={"default_from": "rollout.max_tokens"})` takes
    that config value when left unset (Dr. GRPO's L_max = the generation budget)."""
    for name, settings in cfg.algorithm.settings.items():
        for f in dataclasses.fields(settings):
            source = f.metadata.get("default_from")
            if source and getattr(settings, f.name) is None:
                value: Any = cfg
                for part in source.split("."):
                    value = getattr(value, part)
                setattr(settings, f.name, value)


def to_dict(cfg: Any) -> dict:
    """Plain nested dict; algorithm component settings appear under their names (`algorithm.<name>`), as in
    recipes, so a saved config.yaml loads back as a recipe."""
    out = dataclasses.asdict(cfg)
    if isinstance(cfg, Config):
        out = {f.metadata.get("key", f.name): out[f.name] for f in dataclasses.fields(cfg)}
    section = out.get("algorithm") if isinstance(cfg, Config) else out if isinstance(cfg, AlgorithmConfig) else None
    if isinstance(section, dict) and "settings" in section:
        section.update(section.pop("settings"))
    return out


def to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
