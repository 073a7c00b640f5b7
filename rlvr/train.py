"""The training loop, top to bottom.

    torchrun --nproc_per_node N -m rlvr.train RECIPE.yaml [key=value ...]
    rlvr train RECIPE.yaml [key=value ...]            # one process

One step on every rank: sample prompts -> rollout -> rewards -> group filters (resampling until the batch is
full) -> old-pass log-probs -> advantages -> learner updates (mini-batches x epochs) -> weight sync -> log ->
periodic eval -> checkpoint. What each stage computes comes from the algorithm's components (rlvr.algorithms),
never from algorithm names here.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Optional

import torch

from rlvr import checkpoint, run_guard
from rlvr.algorithms import Algorithm
from rlvr.config import Config, ConfigError, load_config
from rlvr.metrics import Max, Sum, combine_ranks
from rlvr.types import Batch, Group

log = logging.getLogger("rlvr.train")


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(prog="rlvr train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", help="YAML recipe (a delta over the defaults in rlvr/config.py)")
    p.add_argument("overrides", nargs="*", help="key.path=value overrides, e.g. max_steps=3 learner.lr=1e-6")
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.recipe, args.overrides)  # fails here, before any model loads, on a bad key or name
    except ConfigError as e:
        raise SystemExit(f"rlvr train: config error: {e}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        train(cfg)
    except run_guard.CLEAN_ERRORS as e:  # an expected fault: its message says what happened and what to do
        sys.exit(run_guard.report(e))


def train(cfg: Config) -> dict[str, float]:
    guard = run_guard.RunGuard(cfg)  # locks output_dir before anything is written (a second run refuses)
    from transformers import AutoTokenizer

    from rlvr import placement
    from rlvr.learner import Learner
    from rlvr.rollout.adaptive_temperature import entropy_stats
    from rlvr.tracking import Timer, Tracker

    roles = placement.setup(cfg)  # split: rollout ranks only generate (rlvr/placement/split.py)
    guard.start(roles.rank, roles.world)  # rank liveness over the whole job: a lost rank ends every rank, named
    if roles.role == "rollout":
        from rlvr.placement.split import run_rollout_rank

        try:
            return run_rollout_rank(cfg, roles)
        finally:
            guard.close()
    algo = Algorithm(cfg.algorithm)
    learner = Learner(cfg, algo)  # initialises torch.distributed among the learner ranks (gloo CPU, nccl GPU)
    rank, world = _dist_info()
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
    source = placement.rollout_source(cfg, roles, algo, tokenizer)
    tracker = Tracker(cfg, rank)
    error: Optional[BaseException] = None

    try:
        step, state = _resume(cfg, learner, tracker, algo, rank)
        tracker.write_config(cfg)  # after _resume: a refused resume leaves the run's config.yaml as it was
        source.start(learner, step, state)
        stop = _StopFlag()
        last: dict[str, float] = {}
        while step < cfg.max_steps:
            step += 1
            timer = Timer()
            t0 = time.perf_counter()

            # 1-3. rollout + rewards + group filters: this rank's groups for the step
            groups, rollout_metrics = source.batch(step, timer)

            # 4. learner batch -> behaviour/reference log-probs (only what the components declare) -> advantages
            batch = learner.make_batch(groups)
            with timer("old_logprobs"):
                batch = learner.compute_old(batch)
            batch = _with_advantages(algo, batch)

            # 5. mini-batches x epochs of updates
            with timer("update"):
                update_metrics = learner.update(batch)
            if cfg.rollout.adaptive_temperature:  # the sampler's next temperatures follow this step's entropies
                source.set_entropy_stats(entropy_stats(batch.stats["old_entropy"], batch.loss_mask,
                                                       cfg.rollout.adaptive_temperature_params))

            # 6. the new weights (version `step`) to the rollout engines
            with timer("weight_sync"):
                source.sync(learner, step)
            synced = getattr(learner, "last_sync_bytes", 0)  # colocated: bytes this rank pushed to its engine

            metrics = {**rollout_metrics, **_rollout_metrics(groups, batch)}
            metrics["perf/step_s"] = time.perf_counter() - t0
            if synced:
                metrics["perf/weight_sync_gb"] = Max(synced / 1e9)
            metrics["perf/tokens_per_s"] = Sum(metrics["rollout/tokens"] / metrics["perf/step_s"])

            # 7. periodic eval (every rank evaluates its shard; rank 0 reports)
            if cfg.eval.every and step % cfg.eval.every == 0:
                with timer("eval"):
                    metrics.update(source.eval(step))
            metrics.update(timer.metrics())

            last = {**combine_ranks(metrics), **update_metrics}  # the learner's metrics are global already
            tracker.log(step, last)
            tracker.log_lines("samples.jsonl", step, _samples(groups, batch, cfg.logging.samples))
            tracker.log_lines("versions.jsonl", step, source.records())
            guard.after_step(step, last)  # stops after cfg.max_skipped_steps all-skipped steps in a row

            # 8. checkpoint (periodic, at the end, or on SIGTERM)
            stopping = stop.any_rank()
            if stopping or step == cfg.max_steps or (cfg.checkpoint.save_every and step % cfg.checkpoint.save_every == 0):
                _save(cfg, step, learner, source, tokenizer, rank, algo)
            if stopping:
                log.warning("SIGTERM received: saved step %d and stopping", step)
                break
    except BaseException as e:
        error = e
        raise
    finally:  # release verifier workers, rollout ranks, logs and engines even when a step raises
        tracker.close()
        source.close(error)  # vLLM's shutdown also tears down the default process group
        guard.close()  # last: an error caused by a lost rank is re-raised naming that rank
    return last


# --------------------------------------------------------------------------------------------- helpers


def _dist_info() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _with_advantages(algo: Algorithm, batch: Batch) -> Batch:
    """The advantage estimator on the batch's groups: [N, G] -> [B] rows, or per token [N, G, T] -> [B, T]."""
    g = batch.grouped
    inputs = {"lengths": g(batch.lengths.float()), "acc": g(batch.acc), "loss_mask": g(batch.loss_mask),
              "truncated": g(batch.truncated), "sampler_logprobs": g(batch.sampler_logprobs),
              **{k: g(v) for k, v in batch.stats.items()}}
    if batch.old_logprobs is not None:
        inputs["old_logprobs"] = g(batch.old_logprobs)
    adv = algo.advantages(g(batch.rewards), **inputs)  # [N, G] or [N, G, T]
    return dataclasses.replace(batch, advantages=adv.reshape(batch.input_ids.shape[0], *adv.shape[2:]))


def _samples(groups: list[Group], batch: Batch, n: int) -> list[dict]:
    """The first rollout of the first `n` groups: prompt, response, each reward part and what the verifier read."""
    adv = batch.advantages if batch.advantages.dim() == 1 else batch.advantages.sum(-1) / batch.lengths.clamp(min=1)
    out = []
    for gi, g in enumerate(groups[:n]):
        out.append({"prompt_id": g.prompt.id, "prompt": g.prompt.text, "answer": g.prompt.answer,
                    "response": g.rollouts[0].response_text, "reward": g.rewards[0],
                    "reward_parts": {k: v[0] for k, v in g.reward_parts.items()}, "extracted": g.extracted[0],
                    "advantage": float(adv[gi * batch.group_size]), "finish_reason": g.rollouts[0].finish_reason})
    return out


def _rollout_metrics(groups: list[Group], batch: Batch) -> dict[str, float]:
    lens = torch.tensor([float(len(r.response_ids)) for g in groups for r in g.rollouts])
    trunc = torch.tensor([float(r.truncated) for g in groups for r in g.rollouts])
    adv = batch.advantages if batch.advantages.dim() == 1 else batch.advantages[batch.loss_mask.bool()]
    return {
        "rollout/response_len_mean": lens.mean().item(),
        "rollout/response_len_max": Max(lens.max().item()),
        "rollout/truncated_frac": trunc.mean().item(),
        "rollout/tokens": Sum(lens.sum().item()),
        "adv/mean": adv.mean().item(),
        "adv/std": adv.std().item() if adv.numel() > 1 else 0.0,
        "adv/abs_max": Max(adv.abs().max().item()),
        "adv/zero_frac": (adv == 0).float().mean().item(),
    }


class _StopFlag:
    """SIGTERM sets a flag; the loop finishes the step, checkpoints and exits (all ranks agree via all-reduce)."""

    def __init__(self) -> None:
        self.flag = False
        signal.signal(signal.SIGTERM, self._handler)

    def _handler(self, *_):
        self.flag = True

    def any_rank(self) -> bool:
        if _dist_info()[1] == 1:
            return self.flag
        t = torch.tensor([float(self.flag)])
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())


def _trainer_state(cfg: Config, step: int, source, algo: Algorithm) -> dict:
    """Everything besides the DeepSpeed state that the next step depends on: the rollout source's position
    (prompt streams, sampler statistics), RNGs and the components' persistent state; plus what resume checks
    (config, world size: changed keys are listed, impossible ones refused)."""
    return {"step": step, "source": source.state_dict(), "rng": checkpoint.rng_state(),
            "algorithm": algo.state_dict(), **run_guard.resume_facts(cfg)}


def _save(cfg: Config, step: int, learner, source, tokenizer, rank: int, algo: Algorithm) -> None:
    def write(tmp: Path) -> None:
        learner.save_checkpoint(tmp / "deepspeed")
        checkpoint.save_trainer_state(tmp, _trainer_state(cfg, step, source, algo), rank)
        if cfg.checkpoint.export_hf:
            learner.export_hf(tmp / "hf", tokenizer)

    checkpoint.save(cfg.output_dir, step, write, keep_last=cfg.checkpoint.keep_last, barrier=_barrier, rank=rank,
                    checksum=cfg.checkpoint.checksum)


def _barrier() -> None:
    if _dist_info()[1] > 1:
        torch.distributed.barrier()


def _resume(cfg: Config, learner, tracker, algo: Algorithm, rank: int) -> tuple[int, Optional[dict]]:
    """-> (step to continue after, the source's saved state); (0, None) for a fresh run."""
    path = run_guard.resume_path(cfg, rank)  # newest intact checkpoint (damaged ones skipped with a warning)
    if path is None:
        return 0, None
    state = checkpoint.load_trainer_state(path, rank)
    run_guard.check_resume(cfg, state, path, rank)  # world size / ZeRO stage changed: fail; other keys: warn
    learner.load_checkpoint(path / "deepspeed")
    checkpoint.set_rng_state(state["rng"])
    algo.load_state_dict(state.get("algorithm", {}))
    tracker.resume(state["step"])
    log.info("resumed from %s at step %d", path, state["step"])
    return state["step"], state["source"]


if __name__ == "__main__":
    main()
