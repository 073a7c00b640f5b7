"""The rollout-engine protocol, sampling parameters and the backend factory.

An engine turns a shard of prompts into groups of G sampled responses, each with the log-probs of the sampled
tokens under the distribution the engine actually sampled from (see `SamplingParams`), and accepts new weights
from the learner after every update:

    engine = make_engine(cfg, rank=rank, world_size=world)
    groups = engine.generate(prompts, cfg.rollout.group_size, SamplingParams(temperature=1.0, max_tokens=512, seed=7))
    engine.sleep()                       # GPU vLLM: free KV cache / weights for the learner; no-op elsewhere
    ...learner update...
    engine.wake()
    for bucket in buckets:               # full (gathered) tensors in HF naming, any dtype (cast to the engine's)
        engine.load_weights(bucket)
    engine.finish_sync()                 # finalize kernels, reset the prefix cache (stale KV otherwise)

Nothing here imports vLLM: `make_engine` imports the backend module lazily.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Optional, Protocol, runtime_checkable

import torch

from rlvr.registry import Registry
from rlvr.types import Group, Prompt

if TYPE_CHECKING:
    from rlvr.config import Config
    from rlvr.rollout.adaptive_temperature import EntropyStats

ENGINES = Registry("rollout backend")


@dataclass
class SamplingParams:
    """Per-call sampling settings (backend independent).

    Sampler log-probs: every engine returns, per sampled token, log p(token) under the distribution it sampled
    from: softmax(logits / temperature), then restricted to the top-k / top-p set and renormalized (vLLM
    `logprobs_mode="processed_logprobs"`; HF: log_softmax of the scores after the warpers). With top_k = -1 and
    top_p = 1 (the RL default) this equals the learner's full-vocabulary log_softmax(logits / T); with a
    truncated sampler the learner's value is lower by log(mass kept) — that is the true behaviour policy, which
    is what TIS needs. temperature = 0 is greedy decoding and returns log-probs at T = 1. With HAPO adaptive
    temperature the per-token temperature T_t is used (algorithms.md 5.1).
    """

    temperature: float = 1.0  # 0 = greedy
    top_p: float = 1.0  # nucleus sampling (1 = off)
    top_k: int = -1  # -1 = off
    max_tokens: int = 1024  # response budget (finish_reason "length" when hit)
    stop: list[str] = field(default_factory=list)  # stop strings (kept in the response); EOS always stops
    seed: Optional[int] = None  # same seed + same prompts -> same samples (per backend); None = unseeded

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"SamplingParams.temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"SamplingParams.top_p must be in (0, 1], got {self.top_p}")
        if self.top_k == 0 or self.top_k < -1:
            raise ValueError(f"SamplingParams.top_k must be -1 (off) or >= 1, got {self.top_k}")
        if self.max_tokens < 1:
            raise ValueError(f"SamplingParams.max_tokens must be >= 1, got {self.max_tokens}")


@runtime_checkable
class Engine(Protocol):
    """What the trainer and the evaluator need from a rollout backend."""

    def generate(self, prompts: list[Prompt], group_size: int, sampling: SamplingParams) -> list[Group]:
        """G = group_size samples for each prompt; groups in prompt order, rollouts with sampler log-probs."""

    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load one bucket of full tensors (HF parameter names); may be called several times per sync."""

    def finish_sync(self) -> None:
        """End of a weight sync: finalize the loaded weights and drop cached KV computed with the old ones."""

    def sleep(self) -> None:
        """Release rollout memory while the learner trains (no-op where unsupported)."""

    def wake(self) -> None:
        """Undo `sleep` before the next weight sync / generate (no-op where unsupported)."""

    def set_entropy_stats(self, stats: Optional["EntropyStats"]) -> None:
        """HAPO adaptive temperature: statistics of the previous step's old-policy entropies (None = fixed T)."""

    def close(self) -> None:
        """Release the engine (idempotent); call last (vLLM: also destroys the default process group)."""


def sync_weights(engine: Engine, buckets: Iterable[Iterable[tuple[str, torch.Tensor]]]) -> None:
    """Convenience for callers that hold all buckets: load each, then finish the sync."""
    for bucket in buckets:
        engine.load_weights(bucket)
    engine.finish_sync()


def prompt_seed(seed: Optional[int], index: int, group_size: int) -> Optional[int]:
    """Seed of prompt `index` in a call: decorrelated across prompts, stable across runs (no Python hash())."""
    if seed is None:
        return None
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % (2**31 - 1 - group_size)  # vLLM adds the sample index


def prompt_token_ids(prompt: Prompt, tokenizer) -> list[int]:
    """The prompt's ids (filled by the data loader), or the tokenized text when they are missing."""
    if prompt.prompt_ids:
        return list(prompt.prompt_ids)
    if not prompt.text:
        raise ValueError(f"prompt {prompt.id!r} has neither prompt_ids nor text")
    return tokenizer(prompt.text, add_special_tokens=False)["input_ids"]


def make_engine(cfg: "Config", tokenizer_or_path=None, *, rank: int = 0, world_size: int = 1) -> Engine:
    """Build the rollout engine named by `cfg.rollout.backend` for this rank.

    Every rank owns its own engine and generates for the prompt shard the caller hands it (data-parallel
    rollout); `rank` / `world_size` are used for device placement and logging, not to shard prompts here.
    `tokenizer_or_path`: a tokenizer object or path; defaults to cfg.model.path.
    """
    import rlvr.rollout.hf_engine  # noqa: F401  (registers "hf"; imports no vLLM)

    backend = cfg.rollout.backend
    if backend == "vllm":
        import rlvr.rollout.vllm_engine  # noqa: F401  (the only module that imports vllm)
    factory = ENGINES.get(backend)
    return factory(cfg, tokenizer_or_path, rank=rank, world_size=world_size)


def load_tokenizer(tokenizer_or_path, cfg: "Config"):
    if tokenizer_or_path is None or isinstance(tokenizer_or_path, (str, bytes)) or hasattr(tokenizer_or_path, "__fspath__"):
        from transformers import AutoTokenizer

        path = str(tokenizer_or_path or cfg.model.path)
        return AutoTokenizer.from_pretrained(path, trust_remote_code=cfg.model.trust_remote_code)
    return tokenizer_or_path


def finish_reason(stopped: bool) -> str:
    return "stop" if stopped else "length"
