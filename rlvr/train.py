"""The training loop, top to bottom.

    torchrun --nproc_per_node N -m rlvr.train RECIPE.yaml [key=value ...]
    rlvr train RECIPE.yaml [key=value ...]            # one process

One step on every rank: sample prompts -> rollout -> rewards -> dynamic sampling -> advantages -> learner
updates (mini-batches x epochs) -> weight sync -> log -> periodic eval -> checkpoint.
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
from rlvr.algorithms import compute_advantages
from rlvr.algorithms.filters import GroupBuffer
from rlvr.config import Config, load_config
from rlvr.data.sampler import PromptSampler
from rlvr.types import Group

log = logging.getLogger("rlvr.train")


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(prog="rlvr train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", help="YAML recipe (a delta over the defaults in rlvr/config.py)")
    p.add_argument("overrides", nargs="*", help="key.path=value overrides, e.g. max_steps=3 learner.lr=1e-6")
    args = p.parse_args(argv)
    cfg = load_config(args.recipe, args.overrides)  # fails here, before any work, on a bad key or type
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        train(cfg)
    except run_guard.CLEAN_ERRORS as e:  # an expected fault: its message says what happened and what to do
        sys.exit(run_guard.report(e))


def train(cfg: Config) -> dict[str, float]:
    guard = run_guard.RunGuard(cfg)  # locks output_dir before anything is written (a second run refuses)
    from transformers import AutoTokenizer

    from rlvr.data import load_prompts
    from rlvr.learner import Learner
    from rlvr.rewards import RewardScorer
    from rlvr.rollout import EntropyStats, SamplingParams, make_engine
    from rlvr.tracking import Timer, Tracker

    learner = Learner(cfg)  # initialises torch.distributed (gloo on CPU, nccl on GPU)
    rank, world = _dist_info()
    guard.start(rank, world)  # rank liveness: a lost rank ends every rank with its name, never a hang
    if cfg.rollout.num_prompts % world:
        raise ValueError(f"rollout.num_prompts={cfg.rollout.num_prompts} must be divisible by world size {world}")
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
    prompts = load_prompts(cfg.data, tokenizer)
    scorer = RewardScorer(weights=cfg.rewards, cfg=cfg.reward, max_response_len=cfg.rollout.max_tokens)
    scorer.check_golds(prompts)  # an unparseable gold is a data error now, never a free reward later
    engine = make_engine(cfg, tokenizer, rank=rank, world_size=world)
    sampler = PromptSampler(prompts, cfg.seed, cfg.data.shuffle, rank, world)
    tracker = Tracker(cfg, rank)
    local_prompts = cfg.rollout.num_prompts // world

    try:
        step = _resume(cfg, learner, engine, sampler, tracker, rank)
        tracker.write_config(cfg)  # after _resume: a refused resume leaves the run's config.yaml as it was
        stop = _StopFlag()
        last: dict[str, float] = {}
        while step < cfg.max_steps:
            step += 1
            timer = Timer()
            t0 = time.perf_counter()

            # 1-3. rollout + rewards + DAPO dynamic sampling (keep groups whose correctness varies)
            buffer, reward_metrics = GroupBuffer(target=local_prompts), []
            while not buffer.full and (cfg.algorithm.max_gen_batches == 0 or buffer.gen_batches < cfg.algorithm.max_gen_batches):
                sampling = _sampling(cfg, SamplingParams, seed=_seed(cfg.seed, step, rank, buffer.gen_batches))
                with timer("rollout"):
                    groups = engine.generate(sampler.next(local_prompts), cfg.rollout.group_size, sampling)
                with timer("reward"):
                    reward_metrics.append(scorer.score_groups(groups))
                buffer.add(groups, cfg.algorithm.dynamic_sampling)
                if not cfg.algorithm.dynamic_sampling:
                    break
            groups = buffer.take()
            engine.sleep()  # frees the KV cache for the learner on GPU; no-op elsewhere

            # 4. advantages [N, G] -> learner batch
            rewards = torch.tensor([g.rewards for g in groups], dtype=torch.float32)  # [N, G]
            lengths = torch.tensor([[len(r.response_ids) for r in g.rollouts] for g in groups], dtype=torch.float32)
            advantages = compute_advantages(rewards, name=cfg.algorithm.advantage, lengths=lengths,
                                            eps=cfg.algorithm.adv_eps, lite_ppo_std=cfg.algorithm.lite_ppo_std)
            batch = learner.make_batch(groups, advantages)

            # 5. learner: behaviour/reference log-probs, then mini-batches x epochs of updates
            with timer("old_logprobs"):
                batch = learner.compute_old(batch)
            with timer("update"):
                update_metrics = learner.update(batch)
            if cfg.rollout.adaptive_temperature:  # HAPO (algorithms.md 5.1): next step's sampler uses this step's entropy
                engine.set_entropy_stats(EntropyStats.from_entropy(batch.entropy, batch.loss_mask, pivot_q=_pivot_q(cfg)))

            # 6. push the new weights into the rollout engine
            with timer("weight_sync"):
                engine.wake()
                learner.sync_weights(engine, cfg.rollout.sync_bucket_mb)

            metrics = {**_merge_reward_metrics(reward_metrics), **buffer.metrics(), **_rollout_metrics(groups, advantages), **update_metrics}
            metrics["perf/step_s"] = time.perf_counter() - t0
            metrics["perf/tokens_per_s"] = metrics["rollout/tokens"] / metrics["perf/step_s"]

            # 7. periodic eval (every rank evaluates its shard; rank 0 reports)
            if cfg.eval.every and step % cfg.eval.every == 0:
                from rlvr.eval import run_eval

                with timer("eval"):
                    metrics.update(run_eval(engine, tokenizer, cfg, rank=rank, world_size=world))
            metrics.update(timer.metrics())

            last = _mean_over_ranks(metrics)
            tracker.log(step, last)
            guard.after_step(step, last)  # stops after cfg.max_skipped_steps all-skipped steps in a row

            # 8. checkpoint (periodic, at the end, or on SIGTERM)
            stopping = stop.any_rank()
            if stopping or step == cfg.max_steps or (cfg.checkpoint.save_every and step % cfg.checkpoint.save_every == 0):
                _save(cfg, step, learner, engine, sampler, tokenizer, rank)
            if stopping:
                log.warning("SIGTERM received: saved step %d and stopping", step)
                break
    finally:  # release verifier workers, flush logs and free the engine even when a step raises
        scorer.close()
        tracker.close()
        engine.close()  # vLLM's shutdown also tears down the default process group
        guard.close()  # last: an error caused by a lost rank is re-raised naming that rank
    return last


# --------------------------------------------------------------------------------------------- helpers


def _dist_info() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _seed(seed: int, step: int, rank: int, gen_batch: int) -> int:
    """Sampling seed derived from (run seed, step, rank, generation batch): a resumed run samples identically."""
    return (seed * 1_000_003 + step * 10_007 + rank * 101 + gen_batch) % (2**31 - 1)


def _sampling(cfg: Config, SamplingParams, seed: int):
    r = cfg.rollout
    return SamplingParams(temperature=r.temperature, top_p=r.top_p, top_k=r.top_k, max_tokens=r.max_tokens,
                          stop=list(r.stop), seed=seed)


def _pivot_q(cfg: Config) -> float:
    from rlvr.rollout.adaptive_temperature import hapo_params

    return hapo_params(cfg.rollout.adaptive_temperature_params)["entropy_pivot"]


def _merge_reward_metrics(per_batch: list[dict[str, float]]) -> dict[str, float]:
    """Reward metrics over every generation batch (before dynamic sampling, so reward/acc is the policy's own)."""
    counts = ("reward/timeouts", "reward/errors")
    return {k: (sum if k in counts else lambda v: sum(v) / len(v))([m[k] for m in per_batch if k in m])
            for k in per_batch[0]}


def _rollout_metrics(groups: list[Group], advantages: torch.Tensor) -> dict[str, float]:
    lens = torch.tensor([float(len(r.response_ids)) for g in groups for r in g.rollouts])
    trunc = torch.tensor([float(r.truncated) for g in groups for r in g.rollouts])
    return {
        "rollout/response_len_mean": lens.mean().item(),
        "rollout/response_len_max": lens.max().item(),
        "rollout/truncated_frac": trunc.mean().item(),
        "rollout/tokens": lens.sum().item(),
        "adv/mean": advantages.mean().item(),
        "adv/std": advantages.std().item() if advantages.numel() > 1 else 0.0,
        "adv/abs_max": advantages.abs().max().item(),
        "adv/zero_frac": (advantages == 0).float().mean().item(),
    }


def _mean_over_ranks(metrics: dict[str, float]) -> dict[str, float]:
    """Average each metric over ranks (counts such as rollout/tokens are summed)."""
    rank, world = _dist_info()
    if world == 1:
        return metrics
    gathered: list = [None] * world
    torch.distributed.all_gather_object(gathered, metrics)
    summed = ("rollout/tokens", "rollout/groups_kept", "rollout/groups_dropped", "reward/timeouts", "reward/errors",
              "perf/tokens_per_s")
    out = {}
    for k in gathered[0]:
        vals = [float(m[k]) for m in gathered if k in m]
        out[k] = sum(vals) if k in summed else sum(vals) / len(vals)
    return out


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


def _trainer_state(cfg: Config, step: int, sampler: PromptSampler, engine) -> dict:
    """Everything besides the DeepSpeed state that the next step depends on (HAPO: the sampler's entropy stats)."""
    stats = engine.entropy_stats
    return {"step": step, "sampler": sampler.state_dict(), "rng": checkpoint.rng_state(),
            "hapo_entropy_stats": stats.to_dict() if stats is not None else None,
            **run_guard.resume_facts(cfg)}  # config + world size: resume lists changed keys, refuses impossible ones


def _save(cfg: Config, step: int, learner, engine, sampler: PromptSampler, tokenizer, rank: int) -> None:
    def write(tmp: Path) -> None:
        learner.save_checkpoint(tmp / "deepspeed")
        checkpoint.save_trainer_state(tmp, _trainer_state(cfg, step, sampler, engine), rank)
        if cfg.checkpoint.export_hf:
            learner.export_hf(tmp / "hf", tokenizer)

    checkpoint.save(cfg.output_dir, step, write, keep_last=cfg.checkpoint.keep_last, barrier=_barrier, rank=rank,
                    checksum=cfg.checkpoint.checksum)


def _barrier() -> None:
    if _dist_info()[1] > 1:
        torch.distributed.barrier()


def _resume(cfg: Config, learner, engine, sampler: PromptSampler, tracker, rank: int) -> int:
    path = run_guard.resume_path(cfg, rank)  # newest intact checkpoint (damaged ones skipped with a warning)
    if path is None:
        return 0
    state = checkpoint.load_trainer_state(path, rank)
    run_guard.check_resume(cfg, state, path, rank)  # world size / ZeRO stage changed: fail; other keys: warn
    learner.load_checkpoint(path / "deepspeed")
    sampler.load_state_dict(state["sampler"])
    checkpoint.set_rng_state(state["rng"])
    if state.get("hapo_entropy_stats"):
        from rlvr.rollout import EntropyStats

        engine.set_entropy_stats(EntropyStats(**state["hapo_entropy_stats"]))
    learner.sync_weights(engine, cfg.rollout.sync_bucket_mb)
    tracker.resume(state["step"])
    log.info("resumed from %s at step %d", path, state["step"])
    return state["step"]


if __name__ == "__main__":
    main()
