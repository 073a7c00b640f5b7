"""vLLM (V1) rollout engine — the only module in rlvr that imports vllm.

One engine per rank, colocated with the learner (data-parallel rollout: each rank generates for the prompt
shard its caller hands it). Under torchrun (WORLD_SIZE > 1) the engine uses
`distributed_executor_backend="external_launcher"`: vLLM joins the torchrun world instead of spawning workers,
runs in-process (V1 multiprocessing off), and each tensor-parallel block of ranks is one engine; with
tensor_parallel_size > 1 the ranks of a block all-gather their shards (vLLM requires identical requests
inside a TP group) and each keeps its own slice of the outputs.

Weight sync (`load_weights` per bucket, then `finish_sync`): uses vLLM's layer-wise reload
(`initialize_layerwise_reload` -> `model.load_weights` -> `finalize_layerwise_reload`), which re-runs each
layer's `process_weights_after_loading`. Plain `model.load_weights` is not enough on CPU: for fp32 the CPU
linear layers repack their weights for oneDNN and drop the original `Parameter` (hence "'Parameter' object has
no attribute 'weight_loader'"), and a repacked kernel would not see copied weights anyway. Incoming tensors are
cast to the engine dtype by the weight loaders (learner fp32 -> engine bf16).

Sampler log-probs: `logprobs_mode="processed_logprobs"` (after temperature / top-k / top-p; see SamplingParams).
HAPO adaptive temperature: a V1 argmax-invariant logits processor (`HapoTemperatureProcessor`), which vLLM
applies after the request temperature and before top-k/top-p; per-request statistics travel in
`SamplingParams.extra_args`, so it also works with V1 multiprocessing.
"""
from __future__ import annotations

import logging
import os
import random
import time
from typing import Iterable, Optional

import torch

from rlvr.dtypes import dtype_name, resolve_dtype
from rlvr.rollout.adaptive_temperature import EntropyStats, hapo_params, normalized_entropy
from rlvr.rollout.base import ENGINES, SamplingParams, load_tokenizer, prompt_seed, prompt_token_ids
from rlvr.types import Group, Prompt, Rollout

log = logging.getLogger("rlvr.rollout.vllm")
HAPO_KEY = "rlvr_hapo"  # SamplingParams.extra_args key carrying the adaptive-temperature state


def _prepare_env(cpu_kvcache_gb: int) -> None:
    """Must run before vllm is imported: KV-cache size on CPU, in-process engine core (collective_rpc with
    tensors, colocated weight sync)."""
    if not torch.cuda.is_available():
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(cpu_kvcache_gb))
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


# -------------------------------------------------------------------- worker-side functions (collective_rpc)


def _begin_reload(worker) -> None:
    from vllm.model_executor.model_loader.reload import initialize_layerwise_reload

    initialize_layerwise_reload(worker.model_runner.get_model())


def _load_bucket(worker, named_tensors: list[tuple[str, torch.Tensor]]) -> int:
    return len(worker.model_runner.get_model().load_weights(weights=iter(named_tensors)))


def _end_reload(worker) -> None:
    from vllm.model_executor.model_loader.reload import finalize_layerwise_reload

    model = worker.model_runner.get_model()
    finalize_layerwise_reload(model, worker.model_runner.model_config)
    _reprocess_tied(model)


def _reprocess_tied(model) -> None:
    """Tied embeddings (Qwen2.5-0.5B/1.5B/3B, Qwen2.5-Math-1.5B, Llama-3.2-1B/3B: `lm_head.weight` *is*
    `embed_tokens.weight`): the learner's parameters name only the embedding, so the layer-wise reload
    processes that module and puts the head's old kernel tensors back as "not loaded" ("ParallelLMHead: Failed
    to load weights"). The shared weight holds the new values, but on CPU the head samples from a oneDNN-packed
    copy made by its post-load processing, which would keep the *old* embedding (measured: sampler vs learner
    log-prob gap 1.75 after a sync). Re-run that processing for every module whose weight is shared with one
    met before it."""
    owners: dict[int, object] = {}
    for module in model.modules():
        weight, method = getattr(module, "weight", None), getattr(module, "quant_method", None)
        if not isinstance(weight, torch.Tensor) or weight.is_meta or method is None:
            continue
        if weight.data_ptr() in owners:
            method.process_weights_after_loading(module)
        else:
            owners[weight.data_ptr()] = module


# ----------------------------------------------------------------------------- HAPO logits processor (V1)


def _hapo_processor_class():
    from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
    from vllm.v1.sample.logits_processor.builtin import process_dict_updates

    class HapoTemperatureProcessor(LogitsProcessor):
        """Rescales the (already 1/T_req-scaled) logits of rows carrying HAPO state by 1 / (1 + tau * h_hat),
        so the row samples at T_t = T_req (1 + tau h_hat) with h_hat from the raw-logit entropy (5.1)."""

        def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
            self.rows: dict[int, tuple] = {}  # batch row -> (T_req, pivot, sigma, h_pos_max, h_neg_min, tau, compat)

        def is_argmax_invariant(self) -> bool:
            return True  # a positive per-row scale never changes the argmax

        def update_state(self, batch_update: Optional[BatchUpdate]) -> None:
            def state(params, _prompt, _out):
                extra = (params.extra_args or {}).get(HAPO_KEY)
                return None if extra is None else (params.temperature, *extra)

            process_dict_updates(self.rows, batch_update, state)

        def apply(self, logits: torch.Tensor) -> torch.Tensor:
            if not self.rows:
                return logits
            idx = torch.tensor(list(self.rows), device=logits.device)  # [R]
            cols = torch.tensor(list(self.rows.values()), dtype=torch.float32, device=logits.device)  # [R, 7]
            raw = logits[idx] * cols[:, 0:1]  # [R, V] undo 1/T_req: entropy is taken at T = 1
            logp = torch.log_softmax(raw, dim=-1)  # [R, V]
            entropy = -(logp.exp() * logp).sum(-1)  # [R]
            stats = EntropyStats(cols[:, 1], cols[:, 2], cols[:, 3], cols[:, 4])  # tensor fields broadcast
            compat = cols[:, 6] > 0
            h_hat = torch.where(compat, normalized_entropy(entropy, stats, True), normalized_entropy(entropy, stats))
            logits[idx] = logits[idx] / (1.0 + cols[:, 5] * h_hat)[:, None]  # [R, V]
            return logits

    return HapoTemperatureProcessor


# ------------------------------------------------------------------------------------------------ engine


class VLLMEngine:
    """Colocated vLLM engine (see module docstring). Build with `make_engine` or directly."""

    def __init__(self, model_path: str, tokenizer, *, dtype: str = "auto", seed: int = 0,
                 tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.5, enable_sleep_mode: bool = True,
                 enable_prefix_caching: bool = True, enforce_eager: bool = False, cpu_kvcache_gb: int = 1,
                 max_model_len: Optional[int] = None, adaptive_temperature: bool = False,
                 adaptive_temperature_params: Optional[dict] = None, trust_remote_code: bool = False):
        _prepare_env(cpu_kvcache_gb)
        from vllm import LLM

        on_gpu = torch.cuda.is_available()
        world = int(os.environ.get("WORLD_SIZE", "1"))
        self.tokenizer = tokenizer
        self.tp = tensor_parallel_size
        self.sleep_enabled = on_gpu and enable_sleep_mode
        self.asleep = False
        self.adaptive = hapo_params(adaptive_temperature_params or {}) if adaptive_temperature else None
        self.entropy_stats: Optional[EntropyStats] = None
        self._reloading = False
        self._warned_unfinished = False
        kwargs = dict(
            model=model_path, tokenizer=model_path, dtype=dtype_name(resolve_dtype(dtype, "cuda" if on_gpu else "cpu")),
            seed=seed,
            tensor_parallel_size=tensor_parallel_size, enable_prefix_caching=enable_prefix_caching,
            enforce_eager=enforce_eager or not on_gpu, logprobs_mode="processed_logprobs",
            max_model_len=max_model_len, trust_remote_code=trust_remote_code,
        )
        if on_gpu:
            kwargs.update(gpu_memory_utilization=gpu_memory_utilization, enable_sleep_mode=self.sleep_enabled)
        if world > 1 or tensor_parallel_size > 1:
            kwargs["distributed_executor_backend"] = "external_launcher"
        if self.adaptive is not None:
            kwargs["logits_processors"] = [_hapo_processor_class()]
        t0 = time.perf_counter()
        with _preserve_rng():  # LLM(seed=...) reseeds the global RNGs, which belong to the learner
            self.llm = LLM(**kwargs)
        self.start_s = time.perf_counter() - t0
        log.info("vLLM engine up in %.1fs (%s, tp=%d, world=%d)", self.start_s, kwargs["dtype"], self.tp, world)

    # ------------------------------------------------------------------------------------------ generate

    def generate(self, prompts: list[Prompt], group_size: int, sampling: SamplingParams) -> list[Group]:
        if self._reloading:  # a caller loaded buckets but never called finish_sync(): close the sync now
            if not self._warned_unfinished:
                log.warning("VLLMEngine: load_weights() was not followed by finish_sync(); finishing it in generate()")
                self._warned_unfinished = True
            self.finish_sync()
        local = len(prompts)
        prompts, offset = self._gather_tp(prompts)
        requests = [{"prompt_token_ids": prompt_token_ids(p, self.tokenizer)} for p in prompts]
        n = 1 if sampling.temperature == 0 else group_size  # vLLM rejects n > 1 for greedy: decode once, copy
        params = [self._params(sampling, n, prompt_seed(sampling.seed, i, group_size)) for i in range(len(prompts))]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        groups = [Group(prompt=p, rollouts=[_rollout(c) for c in out.outputs for _ in range(group_size // n)])
                  for p, out in zip(prompts, outputs)]
        return groups[offset:offset + local]

    def _params(self, s: SamplingParams, n: int, seed: Optional[int]):
        from vllm import SamplingParams as VSP

        extra = None
        if self.adaptive is not None and self.entropy_stats is not None and s.temperature > 0:
            st = self.entropy_stats
            extra = {HAPO_KEY: [st.pivot, st.sigma, st.h_pos_max, st.h_neg_min, self.adaptive["tau"],
                                self.adaptive["code_compat"]]}
        return VSP(n=n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k, max_tokens=s.max_tokens,
                   stop=list(s.stop) or None, include_stop_str_in_output=True, seed=seed, logprobs=0,
                   extra_args=extra)

    def _gather_tp(self, prompts: list[Prompt]) -> tuple[list[Prompt], int]:
        """TP > 1: every rank of a TP group must submit the same requests; concatenate the group's shards."""
        if self.tp == 1:
            return prompts, 0
        from vllm.distributed.parallel_state import get_tp_group

        group = get_tp_group()
        shards: list = [None] * group.world_size
        torch.distributed.all_gather_object(shards, prompts, group=group.cpu_group)
        offset = sum(len(s) for s in shards[: group.rank_in_group])
        return [p for s in shards for p in s], offset

    # ------------------------------------------------------------------------------------------ weights

    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load one bucket (HF names, full tensors, any dtype); call `finish_sync` after the last bucket."""
        if self.asleep:
            raise RuntimeError("VLLMEngine.load_weights while asleep: call engine.wake() first")
        if not self._reloading:
            self.llm.collective_rpc(_begin_reload)
            self._reloading = True
        self.llm.collective_rpc(_load_bucket, args=(list(named_tensors),))

    def finish_sync(self) -> None:
        if self._reloading:
            self.llm.collective_rpc(_end_reload)
            self._reloading = False
        self.llm.reset_prefix_cache()  # cached prefixes hold KV computed with the old weights

    # ------------------------------------------------------------------------------------------ memory

    def sleep(self) -> None:
        """GPU: offload weights to CPU and free the KV cache (level 1) while the learner trains."""
        if self.sleep_enabled and not self.asleep:
            self.llm.sleep(level=1)
            self.asleep = True

    def wake(self) -> None:
        if self.asleep:
            self.llm.wake_up()
            self.asleep = False

    def set_entropy_stats(self, stats: Optional[EntropyStats]) -> None:
        self.entropy_stats = stats

    def close(self) -> None:
        """Shut the engine down (idempotent); call it last. vLLM's shutdown also destroys torch.distributed's
        default process group (`cleanup_dist_env_and_memory`), so finish all collectives first and guard a
        later `destroy_process_group()` with `is_initialized()`. Without close(), vLLM's exit hook does the same
        at interpreter exit and raises if the default group was destroyed before it."""
        self.llm.llm_engine.engine_core.shutdown()


def _rollout(c) -> Rollout:
    ids = list(c.token_ids)
    logprobs = [float(d[t].logprob) for d, t in zip(c.logprobs or [], ids)]
    if len(logprobs) != len(ids):
        raise RuntimeError(f"vLLM returned {len(logprobs)} log-probs for {len(ids)} tokens")
    return Rollout(response_ids=ids, response_text=c.text, sampler_logprobs=logprobs,
                   finish_reason="length" if c.finish_reason == "length" else "stop")


class _preserve_rng:
    """Restore the global RNG states and torch thread count that building an in-process LLM changes."""

    def __enter__(self):
        import numpy as np

        self.py, self.np = random.getstate(), np.random.get_state()
        self.threads = torch.get_num_threads()  # vLLM-cpu drops the process to 1 thread "for serving"
        self.torch = torch.random.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None

    def __exit__(self, *exc):
        import numpy as np

        torch.set_num_threads(self.threads)  # the colocated learner shares this process's thread pool
        random.setstate(self.py)
        np.random.set_state(self.np)
        torch.random.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


@ENGINES.register("vllm")
def make_vllm_engine(cfg, tokenizer_or_path=None, *, rank: int = 0, world_size: int = 1) -> VLLMEngine:
    r = cfg.rollout
    return VLLMEngine(
        cfg.model.path, load_tokenizer(tokenizer_or_path, cfg), dtype=r.dtype or cfg.model.dtype, seed=cfg.seed + rank,
        tensor_parallel_size=r.tensor_parallel_size, gpu_memory_utilization=r.gpu_memory_utilization,
        enable_sleep_mode=r.enable_sleep_mode, enable_prefix_caching=r.enable_prefix_caching,
        enforce_eager=r.enforce_eager, cpu_kvcache_gb=r.cpu_kvcache_gb, max_model_len=r.max_model_len,
        adaptive_temperature=r.adaptive_temperature, adaptive_temperature_params=r.adaptive_temperature_params,
        trust_remote_code=cfg.model.trust_remote_code,
    )
