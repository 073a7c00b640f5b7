"""The DeepSpeed learner: old/ref log-probs, mini-batch x epoch policy updates, weight export. The only module
of rlvr that imports deepspeed.

One optimizer step (design.md §4): the step's rows are split into token-budget micro-batches (the same count on
every rank, because ZeRO collectives run per forward/backward), the loss denominators are counted once over all
micro-batches and ranks (`rlvr.algorithms.step_normalizers` + all_reduce), and each micro-batch's loss is its
additive share of the step loss, so micro-batching and world size never change the objective.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
import os
import time
from pathlib import Path
from typing import Iterator, Optional

import deepspeed
import torch
import torch.distributed as dist

from rlvr.algorithms import Algorithm
from rlvr.checkpoint import CheckpointError, load_error
from rlvr.config import Config
from rlvr.dtypes import resolve_dtype
from rlvr.learner.batching import (PACKABLE_ATTENTION, make_batch, micro_batch_groups, micro_batch_rows,
                                   select_rows)
from rlvr.learner.policy import PolicyModel
from rlvr.metrics import Sum, combine
from rlvr.types import Batch, Group


class Learner:
    def __init__(self, cfg: Config, algorithm: Optional[Algorithm] = None):
        from transformers import AutoConfig, AutoModelForCausalLM

        self.cfg, lc = cfg, cfg.learner
        self.algo = algorithm or Algorithm(cfg.algorithm)
        # what the active components declare, plus the sampler's needs (adaptive temperature: old entropies)
        self.needs = self.algo.needs | ({"old_entropy"} if cfg.rollout.adaptive_temperature else set())
        self.device = _init_distributed(lc.dist_backend, lc.collective_timeout_s)
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.dtype = resolve_dtype(cfg.model.dtype, self.device)
        hf_cfg = AutoConfig.from_pretrained(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
        self.pad_id = next((i for i in (hf_cfg.pad_token_id, hf_cfg.eos_token_id, 0) if isinstance(i, int)), 0)

        ds_config = self._ds_config(getattr(hf_cfg, "hidden_size", None))

        def load():
            # ZeRO-3: built inside deepspeed.zero.Init (transformers' HfDeepSpeedConfig hook), each parameter
            # partitioned as it is created and its checkpoint slice loaded into the shard, so no rank ever holds
            # the full model (nor, later, its full optimizer state)
            with _zero3_construction(ds_config if lc.zero_stage == 3 else None):
                return AutoModelForCausalLM.from_pretrained(
                    cfg.model.path, dtype=self.dtype, attn_implementation=cfg.model.attn_implementation,
                    trust_remote_code=cfg.model.trust_remote_code)

        hf = load()
        hf.config.use_cache = False
        if cfg.model.gradient_checkpointing:
            hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.packed = lc.packing and hf.config._attn_implementation in PACKABLE_ATTENTION
        self.total_steps = max(1, cfg.max_steps * lc.mini_batches * lc.epochs)
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=PolicyModel(hf), model_parameters=[p for p in hf.parameters() if p.requires_grad],
            optimizer=self._make_optimizer, lr_scheduler=self._make_scheduler, config=ds_config)
        self.engine.train()
        if lc.zero_stage == 0 and self.engine.dp_world_size == 1:
            # Alone, stage 0's all-reduce is a no-op that still flattens and copies every gradient (~4 s a step at
            # 0.5B on CPU); ZeRO 1-3 keep their own reduction, which their optimizers rely on.
            self.engine.enable_backward_allreduce = False
        self.ref = None
        if "ref_logprobs" in self.needs:  # frozen reference, no optimizer; partitioned too under ZeRO-3
            ref = PolicyModel(load()).requires_grad_(False).eval()
            if lc.zero_stage == 3:
                ref_cfg = {k: ds_config[k] for k in ("train_micro_batch_size_per_gpu", "bf16", "fp16")}
                ref_cfg["zero_optimization"] = {"stage": 3}
                self.ref = deepspeed.initialize(model=ref, config=ref_cfg)[0]
            else:
                self.ref = ref.to(self.device)
        self.optimizer_steps = 0
        self.last_sync_bytes = 0

    # ------------------------------------------------------------------------------------------ setup

    def _ds_config(self, hidden: Optional[int] = None) -> dict:
        lc = self.cfg.learner
        zero: dict = {"stage": lc.zero_stage, "stage3_gather_16bit_weights_on_model_save": True}
        if hidden:
            # bucket sizes by model width, as transformers' DeepSpeed integration sizes its "auto" values:
            # DeepSpeed's fixed defaults (5e8-element reduce buckets: 1 GB in bf16) are the largest single
            # buffers on a small model and cost more than the weights of a 0.5B one on each rank
            zero["reduce_bucket_size"] = hidden * hidden
            if lc.zero_stage == 3:
                zero["stage3_prefetch_bucket_size"] = int(0.9 * hidden * hidden)
                zero["stage3_param_persistence_threshold"] = 10 * hidden
                # gathered parameters kept live / fp32 optimizer sub-groups: DeepSpeed's 1e9 defaults would
                # hold a whole 0.5B model gathered and a full-partition fp32 gradient copy at the step
                zero["stage3_max_live_parameters"] = zero["stage3_max_reuse_distance"] = 100 * hidden * hidden
                zero["sub_group_size"] = 100 * hidden * hidden
        if lc.offload_optimizer:
            zero["offload_optimizer"] = {"device": "cpu", "pin_memory": self.device.type == "cuda"}
        if lc.offload_params and lc.zero_stage == 3:
            zero["offload_param"] = {"device": "cpu", "pin_memory": self.device.type == "cuda"}
        return {
            # batch sizes are bookkeeping only: we call backward/step ourselves with explicit boundaries
            "train_micro_batch_size_per_gpu": 1,
            "gradient_accumulation_steps": 1,
            "train_batch_size": self.world,
            "gradient_clipping": lc.grad_clip,
            "zero_optimization": zero,
            "bf16": {"enabled": self.dtype == torch.bfloat16},
            "fp16": {"enabled": self.dtype == torch.float16},
            # DeepSpeedCPUAdam needs compiled ops; a plain torch AdamW works for ZeRO 0-3 without offload
            "zero_force_ds_cpu_optimizer": False,
            "zero_allow_untested_optimizer": True,
            "steps_per_print": 10**9,
            "wall_clock_breakdown": False,
        }

    def _make_optimizer(self, params):
        lc = self.cfg.learner
        kw = dict(lr=lc.lr, betas=tuple(lc.betas), weight_decay=lc.weight_decay)
        if lc.offload_optimizer:  # optimizer states live on the CPU: DeepSpeed's vectorised CPU Adam
            from deepspeed.ops.adam import DeepSpeedCPUAdam

            return DeepSpeedCPUAdam(params, adamw_mode=True, **kw)
        # fused: one vectorised in-place kernel per tensor (CPU and CUDA) instead of per-op temporaries; on CPU
        # the for-loop AdamW's fresh 0.5-2 GB temporaries page-fault at every step (5-12 s of a 0.5B step here)
        fused = self.device.type in ("cpu", "cuda")
        return (_SkipNonFiniteAdamW if lc.zero_stage == 0 else torch.optim.AdamW)(params, fused=fused, **kw)

    def _make_scheduler(self, optimizer):
        lc, total = self.cfg.learner, self.total_steps

        def factor(step: int) -> float:  # multiplier of the peak lr at optimizer step `step`
            if step < lc.warmup_steps:
                return (step + 1) / lc.warmup_steps
            progress = min(1.0, (step - lc.warmup_steps) / max(1, total - lc.warmup_steps))
            if lc.lr_schedule == "cosine":
                return 0.5 * (1.0 + math.cos(math.pi * progress))
            if lc.lr_schedule == "linear":
                return 1.0 - progress
            return 1.0

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    # ---------------------------------------------------------------------------------------- batches

    def make_batch(self, groups: list[Group]) -> Batch:
        """Groups -> Batch (rows group-major), padded with this model's pad id; advantages come later."""
        return make_batch(groups, self.pad_id)

    def _micro_batches(self, batch: Batch, rows: torch.Tensor) -> list[Optional[torch.Tensor]]:
        """Rows of one pass -> micro-batches (index tensors into the batch), the same count on every rank.
        None = a dummy micro-batch (this rank has fewer rows than micro-batches). With prompt sharing
        (`_share_prompts`) whole groups stay together on every rank, else rows are split."""
        lengths = batch.attention_mask[rows].sum(-1).tolist()
        budget = self.cfg.learner.micro_batch_tokens
        gids = batch.group_ids[rows].tolist()
        grouped = micro_batch_groups(gids, lengths, budget) if self._share_prompts() else None
        natural = grouped if grouped is not None else micro_batch_rows(lengths, budget, packed=self.packed)
        n = torch.tensor([len(natural), int(grouped is None)], device=self.device)
        if self.world > 1:
            dist.all_reduce(n, op=dist.ReduceOp.MAX)
        if int(n[1]):  # some rank cannot keep its groups whole: every rank splits rows (same pass count)
            parts = micro_batch_rows(lengths, budget, packed=self.packed, count=int(n[0]))
        else:
            parts = micro_batch_groups(gids, lengths, budget, count=int(n[0]))
        return [rows[torch.tensor(p, dtype=torch.long)] if p else None for p in parts]

    def _share_prompts(self) -> bool:
        """Run each group's prompt once per forward (logprobs.shared_prefix_logprobs): padded micro-batches
        only (packing already removes the padding; sharing there would need varlen block masks)."""
        return not self.packed

    def _kv_cache_sharing(self) -> bool:
        """shared_prefix_logprobs' KV-cache layout (groups too long for its one-pass block mask) needs a decoder
        that does not checkpoint (transformers drops the cache) and is not ZeRO-3 (every layer would be gathered
        twice per forward); otherwise such groups take the plain padded path."""
        return self.cfg.learner.zero_stage < 3 and not self.engine.module.hf.is_gradient_checkpointing

    def _forward(self, model, mb: Batch, *, entropy: bool, stats: dict) -> tuple[torch.Tensor, dict]:
        """-> (logprobs [b, t], {input name: [b, t]}) with the entropy (as `entropy_key`) and the statistics
        `stats` ({input name: (LogitStat, settings, needs_grad)}) the components declared."""
        d = self.device
        specs = tuple((st.fn, settings, grad) for st, settings, grad in stats.values())
        share = mb.group_ids.to(d) if self._share_prompts() else None
        lp, ent, values = model(mb.input_ids.to(d), mb.attention_mask.to(d), mb.loss_mask.to(d),
                                packed=self.packed, temperature=self.cfg.rollout.temperature,
                                chunk=self.cfg.learner.logprob_chunk, with_entropy=entropy, stats=specs,
                                group_ids=share, kv_cache=self._kv_cache_sharing())
        out = dict(zip(stats, values))
        if ent is not None:
            out["entropy"] = ent
        return lp, out

    def _sub(self, batch: Batch, rows: Optional[torch.Tensor]) -> Batch:
        if rows is not None:
            return select_rows(batch, rows)
        dummy = select_rows(batch, torch.tensor([0]))  # runs the collectives, contributes nothing
        return dataclasses.replace(dummy, loss_mask=torch.zeros_like(dummy.loss_mask))

    # ------------------------------------------------------------------------------------ compute_old

    def _on_policy(self) -> bool:
        """One optimizer step per rollout batch: every forward of `update` runs at the behaviour weights, so its
        detached log-probs *are* the old log-probs (ratio 1, gradient intact) and the separate no-grad pass is
        pure cost (13% of a step on a 20M model; TRL skips it too with num_iterations=1). Kept when a component
        (or the sampler) needs behaviour-policy values before the update (old_logprobs, old_entropy, ...)."""
        lc = self.cfg.learner
        return lc.mini_batches == 1 and lc.epochs == 1 and not any(n.startswith("old_") for n in self.needs)

    @torch.no_grad()
    def compute_old(self, batch: Batch) -> Batch:
        """Behaviour-policy log-probs and the old-pass statistics the components declare; reference log-probs."""
        skip_old = self._on_policy()  # old_logprobs stay None: update() uses its own detached log-probs
        if skip_old and self.ref is None:
            return batch
        B, T = batch.input_ids.shape
        stats = {k: (st, s, False) for k, (st, s) in self.algo.logit_stats("old").items()}
        with_entropy = "old_entropy" in self.needs
        names = [*stats, *(["old_entropy"] if with_entropy else [])]
        old = torch.zeros(B, T)
        out = {k: torch.zeros(B, T) for k in names}
        ref = torch.zeros(B, T) if self.ref is not None else None
        for rows in self._micro_batches(batch, torch.arange(B)):
            mb = self._sub(batch, rows)
            lp, vals = (None, {}) if skip_old else self._forward(self.engine, mb, entropy=with_entropy, stats=stats)
            r = self._forward(self.ref, mb, entropy=False, stats={})[0] if self.ref is not None else None
            if rows is None:
                continue
            t = mb.input_ids.shape[1]
            if lp is not None:
                old[rows, :t] = lp.float().cpu()
                for k, v in vals.items():
                    out["old_entropy" if k == "entropy" else k][rows, :t] = v.float().cpu()
            if r is not None:
                ref[rows, :t] = r.float().cpu()
        return dataclasses.replace(batch, old_logprobs=None if skip_old else old, ref_logprobs=ref,
                                   stats={**batch.stats, **({} if skip_old else out)})

    # ----------------------------------------------------------------------------------------- update

    def update(self, batch: Batch) -> dict[str, float]:
        """mini_batches optimizer steps over the batch's groups, `epochs` times -> metrics (mean over the steps,
        plain floats: already reduced over micro-batches and ranks)."""
        if batch.old_logprobs is None and not self._on_policy():
            raise ValueError("Learner.update: batch.old_logprobs is None; call compute_old(batch) first")
        if batch.advantages is None:
            raise ValueError("Learner.update: batch.advantages is None; compute the advantages first")
        lc, t0 = self.cfg.learner, time.perf_counter()
        groups = batch.group_ids.unique()
        steps, tokens, skipped = [], 0, 0
        for _ in range(lc.epochs):
            for part in groups.tensor_split(lc.mini_batches):
                rows = torch.isin(batch.group_ids, part).nonzero().squeeze(-1)  # [b] group-major rows
                m, n_tok = self._optimizer_step(batch, rows)
                steps.append(m)
                tokens += n_tok
                skipped += int(m.pop("loss/skipped"))
        out = {k: sum(s[k] for s in steps if k in s) / sum(k in s for s in steps) for k in dict.fromkeys(
            k for s in steps for k in s)}
        total = torch.tensor([float(tokens)], device=self.device)
        if self.world > 1:
            dist.all_reduce(total)
        out["perf/learner_tokens_per_s"] = float(total) / max(time.perf_counter() - t0, 1e-9)
        out["loss/skipped_steps"] = float(skipped)
        out["learner/lr"] = float(self.scheduler.get_last_lr()[0])
        return out

    def _inputs(self, mb: Batch) -> dict[str, Optional[torch.Tensor]]:
        """The micro-batch's pre-update per-token inputs, by the names components declare (CPU tensors)."""
        return {"advantages": mb.advantages, "old_logprobs": mb.old_logprobs, "ref_logprobs": mb.ref_logprobs,
                "sampler_logprobs": mb.sampler_logprobs, "truncated": mb.truncated, **mb.stats}

    def _optimizer_step(self, batch: Batch, rows: torch.Tensor) -> tuple[dict[str, float], int]:
        algo, d = self.algo, self.device
        micro = [self._sub(batch, r) for r in self._micro_batches(batch, rows)]
        pre = [self._inputs(mb) for mb in micro]
        norm = algo.step_normalizers([mb.loss_mask for mb in micro], **{k: [p[k] for p in pre] for k in pre[0]})
        counts = torch.tensor(list(norm.values()), dtype=torch.float64, device=d)
        if self.world > 1:
            dist.all_reduce(counts)  # global denominators: every rank's share sums to the full-batch loss
        norm = dict(zip(norm, counts.tolist()))
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.optimizer_steps * 101 + self.rank)
        stats = {k: (st, s, k in algo.grad_inputs) for k, (st, s) in algo.logit_stats("current").items()}
        with_entropy = "entropy" in self.needs or self.cfg.learner.log_entropy
        parts, bad, n_tok = [], False, 0
        for i, (mb, inputs) in enumerate(zip(micro, pre)):
            self.engine.set_gradient_accumulation_boundary(i == len(micro) - 1)
            lp, current = self._forward(self.engine, mb, entropy=with_entropy, stats=stats)  # [b, t] with grad
            current = {k: v if k in algo.grad_inputs else v.detach() for k, v in current.items()}
            inputs = {k: v.to(d) for k, v in inputs.items() if v is not None}
            loss, metrics = algo.token_loss(lp, inputs.pop("old_logprobs", None), inputs.pop("advantages"),
                                            mb.loss_mask.to(d), **norm, generator=gen, **inputs, **current)
            if not torch.isfinite(loss):
                # A NaN/inf loss must not update the weights. Backward it scaled by NaN so every gradient is NaN:
                # after the all-reduce every rank sees a non-finite grad norm and DeepSpeed's overflow check
                # (ZeRO 1-3; _SkipNonFiniteAdamW for stage 0) skips the step and zeroes the grads on all ranks.
                bad, loss = True, loss * float("nan")
            # DeepSpeed averages gradients over ranks (divides the sum by world size). `loss` is already this
            # rank's share of the *global* step objective, so multiply by world size to make the averaged
            # gradient equal the gradient of the sum of all shares (= the full-batch loss).
            self.engine.backward(loss * self.world, scale_wrt_gas=False)
            parts.append(metrics)
            n_tok += int(mb.attention_mask.sum()) if mb.loss_mask.any() else 0
        stage0_norm = self._grad_norm() if self.cfg.learner.zero_stage == 0 else None  # DeepSpeed keeps none
        self.engine.step()
        self.optimizer_steps += 1
        out = self._reduce_metrics(parts)
        skipped = bad or not getattr(self.engine, "_step_applied", True)
        gn = stage0_norm if stage0_norm is not None else self.engine.get_global_grad_norm()
        out["policy/grad_norm"] = float(gn) if gn is not None and not skipped else float("nan")
        out["loss/skipped"] = float(skipped)
        return out, n_tok

    def _grad_norm(self) -> float:
        grads = [p.grad.float().norm() for p in self.engine.module.parameters() if p.grad is not None]
        return float(torch.stack(grads).norm()) if grads else 0.0

    def _reduce_metrics(self, parts: list[dict[str, float]]) -> dict[str, float]:
        """Micro-batch metrics -> one step's, reduced as each declares (metrics.py: loss/* shares add up over
        micro-batches and ranks, others are means), then over ranks; plain floats, equal on every rank."""
        local = combine(parts)
        keys = sorted(local)
        kinds = [type(local[k]) for k in keys]
        vals = torch.tensor([float(local[k]) for k in keys], dtype=torch.float64, device=self.device)
        if self.world > 1:
            dist.all_reduce(vals)  # every rank ran the same micro-batch count, so the key sets agree
            is_sum = torch.tensor([kind is Sum for kind in kinds], device=self.device)
            vals = torch.where(is_sum, vals, vals / self.world)
        return dict(zip(keys, vals.tolist()))

    # ------------------------------------------------------------------------------- weights / export

    def named_parameters_for_sync(self, bucket_mb: int = 256) -> Iterator[list[tuple[str, torch.Tensor]]]:
        """Full parameters in HF naming, in buckets of ~bucket_mb, on every rank (ZeRO-3: gathered per bucket).
        Tensors of a bucket are valid until the next bucket is requested."""
        limit = bucket_mb * 2**20
        named = [(n.removeprefix("hf."), p) for n, p in self.engine.module.named_parameters()]
        zero3 = self.cfg.learner.zero_stage == 3
        bucket: list = []
        size = 0
        for name, p in named:
            bucket.append((name, p))
            size += (p.ds_numel if zero3 else p.numel()) * p.element_size()
            if size >= limit:
                yield from self._emit(bucket, zero3)
                bucket, size = [], 0
        if bucket:
            yield from self._emit(bucket, zero3)

    @staticmethod
    def _emit(bucket: list, zero3: bool) -> Iterator[list[tuple[str, torch.Tensor]]]:
        if not zero3:
            yield [(n, p.detach()) for n, p in bucket]
            return
        with deepspeed.zero.GatheredParameters([p for _, p in bucket], modifier_rank=None):
            yield [(n, p.detach().clone()) for n, p in bucket]  # clone: the gathered storage is freed on exit

    def sync_weights(self, engine, bucket_mb: int = 256) -> None:
        """Push the current weights into this rank's colocated rollout engine, bucket by bucket, then let it
        finalize (re-run per-layer post-load processing, reset the prefix cache)."""
        from rlvr.rollout import sync_weights

        moved = 0

        def counted():
            nonlocal moved
            for bucket in self.named_parameters_for_sync(bucket_mb):
                moved += sum(t.numel() * t.element_size() for _, t in bucket)
                yield bucket

        sync_weights(engine, counted())
        self.last_sync_bytes = moved  # what this rank pushed into its engine (full tensors, learner dtype)

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """DeepSpeed state (module, optimizer, lr scheduler); every rank calls it."""
        self.engine.save_checkpoint(str(path), tag="state", client_state={"optimizer_steps": self.optimizer_steps},
                                    save_latest=False)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        self.engine.checkpoint_engine = _WeightsOnlyLoads(self.engine.checkpoint_engine)  # never unpickle code
        _, client = self.engine.load_checkpoint(str(path), tag="state", load_optimizer_states=True,
                                                load_lr_scheduler_states=True)
        if client is None:
            raise FileNotFoundError(f"no DeepSpeed checkpoint (tag 'state') under {path}")
        self.optimizer_steps = int(client.get("optimizer_steps", 0))

    def export_hf(self, path: str | os.PathLike, tokenizer=None) -> None:
        """save_pretrained export (full weights; ZeRO-3 gathered), written by rank 0; every rank calls it."""
        state = {}
        for bucket in self.named_parameters_for_sync(256):
            if self.rank == 0:
                state.update({n: t.detach().to("cpu", copy=True) for n, t in bucket})
        if self.rank == 0:
            Path(path).mkdir(parents=True, exist_ok=True)
            self.engine.module.hf.save_pretrained(str(path), state_dict=state)
            if tokenizer is not None:
                tokenizer.save_pretrained(str(path))
        if self.world > 1:
            dist.barrier()


class _SkipNonFiniteAdamW(torch.optim.AdamW):
    """ZeRO stage 0 has no overflow check for fp32/bf16: skip the step on a non-finite gradient. DeepSpeed's
    engine reads `.overflow` (counts a skipped step, does not advance the lr schedule)."""

    overflow = False

    @torch.no_grad()
    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        self.overflow = bool(grads) and not bool(torch.isfinite(torch.stack([g.float().sum() for g in grads])).all())
        if self.overflow:
            self.zero_grad(set_to_none=True)
            return None
        return super().step(closure)


class _WeightsOnlyLoads:
    """DeepSpeed's checkpoint engine with `load` done by torch.load(weights_only=True): DeepSpeed itself unpickles
    with weights_only=False, so a checkpoint from elsewhere could run code. Its files hold tensors, primitives and
    the four plain DeepSpeed classes allowed here (checked for ZeRO 0-3, fp32 and bf16); a file needing anything
    else fails naming the class instead of running it. Everything but `load` is DeepSpeed's own engine."""

    def __init__(self, inner):
        self._inner = getattr(inner, "_inner", inner)  # idempotent: one wrapper however often we load

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def load(self, path: str, map_location=None):
        from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
        from deepspeed.runtime.zero.config import ZeroStageEnum
        from deepspeed.utils.tensor_fragment import fragment_address

        try:
            allowed = [LossScaler, DynamicLossScaler, ZeroStageEnum, fragment_address]
            with torch.serialization.safe_globals(allowed):
                return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as e:  # a foreign pickle or a damaged file: name it (DeepSpeed's own error would not)
            raise CheckpointError(f"{path}: cannot be loaded as tensors and DeepSpeed state ({load_error(e)}); "
                                  "the file is damaged or was not written by rlvr") from e


@contextlib.contextmanager
def _zero3_construction(ds_config: Optional[dict]) -> Iterator[None]:
    """While active, transformers' from_pretrained builds the model under deepspeed.zero.Init with `ds_config`
    (partitioned at construction; weights loaded shard by shard). A no-op for None (ZeRO 0-2). The hook is
    process-global in transformers, so it is removed on exit: nothing else (rollout engines, exports) sees it."""
    if ds_config is None:
        yield
        return
    from transformers.integrations.deepspeed import HfDeepSpeedConfig, unset_hf_deepspeed_config

    hook = HfDeepSpeedConfig(ds_config)  # registers itself (a weak reference): keep it alive while loading
    try:
        yield
    finally:
        unset_hf_deepspeed_config()
        del hook


def _init_distributed(backend: Optional[str], timeout_s: float = 1800.0) -> torch.device:
    """torch.distributed via DeepSpeed: gloo on CPU, nccl on GPU; single-process runs get rank 0 / world 1.
    timeout_s bounds every collective (gloo and NCCL): a peer that never arrives fails the job, never hangs it."""
    for k, v in (("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", str(29500 + os.getpid() % 1000)), ("RANK", "0"),
                 ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1")):
        os.environ.setdefault(k, v)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=timeout_s)
    # Groups made later with new_group() (DeepSpeed's ZeRO data-parallel group, vLLM's groups) get torch's
    # default timeout (30 min gloo, 10 min NCCL), not the world group's: make ours that default (read at
    # new_group time), so the collectives that actually block on a hung peer are bounded too.
    dist.distributed_c10d.default_pg_timeout = dist.distributed_c10d.default_pg_nccl_timeout = timeout
    if not dist.is_initialized():
        deepspeed.init_distributed(dist_backend=backend or ("nccl" if cuda else "gloo"), timeout=timeout)
    return device
