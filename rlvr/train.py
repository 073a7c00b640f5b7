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
import time
from pathlib import Path
from typing import Optional

import torch

from rlvr import checkpoint
from rlvr.algorithms import Algorithm, GroupBuffer
from rlvr.config import Config, ConfigError, load_config
from rlvr.data.sampler import PromptSampler
from rlvr.metrics import Max, Sum, combine, combine_ranks
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
    train(cfg)


def train(cfg: Config) -> dict[str, float]:
    from transformers import AutoTokenizer

    from rlvr.data import load_prompts
    from rlvr.learner import Learner
    from rlvr.rewards import RewardScorer
    from rlvr.rollout import SamplingParams, make_engine
    from rlvr.rollout.adaptive_temperature import entropy_stats
    from rlvr.tracking import Timer, Tracker

    algo = Algorithm(cfg.algorithm)
    learner = Learner(cfg, algo)  # initialises torch.distributed (gloo on CPU, nccl on GPU)
    rank, world = _dist_info()
    if cfg.rollout.num_prompts % world:
        raise ValueError(f"rollout.num_prompts={cfg.rollout.num_prompts} must be divisible by world size {world}")
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.path)
    prompts = load_prompts(cfg.data, tokenizer)
    scorer = RewardScorer(weights=cfg.rewards, cfg=cfg.reward, max_response_len=cfg.rollout.max_tokens)
    scorer.check_golds(prompts)  # an unparseable gold is a data error now, never a free reward later
    engine = make_engine(cfg, tokenizer, rank=rank, world_size=world)
    sampler = PromptSampler(prompts, cfg.seed, cfg.data.shuffle, rank, world)
    tracker = Tracker(cfg, rank)
    tracker.write_config(cfg)
    local_prompts = cfg.rollout.num_prompts // world
    budget = cfg.algorithm.max_gen_batches if algo.filters else 1  # without filters one generation batch fills it

    try:
        step = _resume(cfg, learner, engine, sampler, tracker, algo)
        stop = _StopFlag()
        last: dict[str, float] = {}
        while step < cfg.max_steps:
            step += 1
            timer = Timer()
            t0 = time.perf_counter()

            # 1-3. rollout + rewards + group filters (resample until `local_prompts` groups pass them)
            buffer, reward_metrics = GroupBuffer(target=local_prompts, keep=algo.keep_group), []
            while not buffer.full and (budget == 0 or buffer.gen_batches < budget):
                sampling = _sampling(cfg, SamplingParams, seed=_seed(cfg.seed, step, rank, buffer.gen_batches))
                with timer("rollout"):
                    groups = engine.generate(sampler.next(local_prompts), cfg.rollout.group_size, sampling)
                with timer("reward"):
                    reward_metrics.append(scorer.score_groups(groups))
                buffer.add(groups)
            groups = buffer.take()
            engine.sleep()  # frees the KV cache for the learner on GPU; no-op elsewhere

            # 4. learner batch -> behaviour/reference log-probs (only what the components declare) -> advantages
            batch = learner.make_batch(groups)
            with timer("old_logprobs"):
                batch = learner.compute_old(batch)
            batch = _with_advantages(algo, batch)

            # 5. mini-batches x epochs of updates
            with timer("update"):
                update_metrics = learner.update(batch)
            if cfg.rollout.adaptive_temperature:  # the sampler's next temperatures follow this step's entropies
                engine.set_entropy_stats(entropy_stats(batch.stats["old_entropy"], batch.loss_mask,
                                                       cfg.rollout.adaptive_temperature_params))

            # 6. push the new weights into the rollout engine
            with timer("weight_sync"):
                engine.wake()
                learner.sync_weights(engine, cfg.rollout.sync_bucket_mb)

            metrics = {**combine(reward_metrics), **buffer.metrics(), **_rollout_metrics(groups, batch)}
            metrics["perf/step_s"] = time.perf_counter() - t0
            metrics["perf/tokens_per_s"] = Sum(metrics["rollout/tokens"] / metrics["perf/step_s"])

            # 7. periodic eval (every rank evaluates its shard; rank 0 reports)
            if cfg.eval.every and step % cfg.eval.every == 0:
                from rlvr.eval import run_eval

                with timer("eval"):
                    metrics.update(run_eval(engine, tokenizer, cfg, rank=rank, world_size=world))
            metrics.update(timer.metrics())

            last = {**combine_ranks(metrics), **update_metrics}  # the learner's metrics are global already
            tracker.log(step, last)
            tracker.log_samples(step, _samples(groups, batch, cfg.logging.samples))

            # 8. checkpoint (periodic, at the end, or on SIGTERM)
            stopping = stop.any_rank()
            if stopping or step == cfg.max_steps or (cfg.checkpoint.save_every and step % cfg.checkpoint.save_every == 0):
                _save(cfg, step, learner, engine, sampler, tokenizer, rank, algo)
            if stopping:
                log.warning("SIGTERM received: saved step %d and stopping", step)
                break
    finally:  # release verifier workers, flush logs and free the engine even when a step raises
        scorer.close()
        tracker.close()
        engine.close()  # last: vLLM's shutdown also tears down the default process group
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


def _trainer_state(step: int, sampler: PromptSampler, engine, algo: Algorithm) -> dict:
    """Everything besides the DeepSpeed state that the next step depends on: data position, RNGs, the
    components' persistent state and the sampler's entropy statistics (adaptive temperature)."""
    stats = engine.entropy_stats
    return {"step": step, "sampler": sampler.state_dict(), "rng": checkpoint.rng_state(),
            "algorithm": algo.state_dict(), "sampler_entropy_stats": stats.to_dict() if stats is not None else None}


def _save(cfg: Config, step: int, learner, engine, sampler: PromptSampler, tokenizer, rank: int,
          algo: Algorithm) -> None:
    def write(tmp: Path) -> None:
        learner.save_checkpoint(tmp / "deepspeed")
        checkpoint.save_trainer_state(tmp, _trainer_state(step, sampler, engine, algo), rank)
        if cfg.checkpoint.export_hf:
            learner.export_hf(tmp / "hf", tokenizer)

    checkpoint.save(cfg.output_dir, step, write, keep_last=cfg.checkpoint.keep_last, barrier=_barrier, rank=rank)


def _barrier() -> None:
    if _dist_info()[1] > 1:
        torch.distributed.barrier()


def _resume(cfg: Config, learner, engine, sampler: PromptSampler, tracker, algo: Algorithm) -> int:
    path = checkpoint.resolve_resume(cfg)
    if path is None:
        return 0
    learner.load_checkpoint(path / "deepspeed")
    state = checkpoint.load_trainer_state(path, _dist_info()[0])
    sampler.load_state_dict(state["sampler"])
    checkpoint.set_rng_state(state["rng"])
    algo.load_state_dict(state.get("algorithm", {}))
    if state.get("sampler_entropy_stats"):
        from rlvr.rollout import EntropyStats

        engine.set_entropy_stats(EntropyStats(**state["sampler_entropy_stats"]))
    learner.sync_weights(engine, cfg.rollout.sync_bucket_mb)
    tracker.resume(state["step"])
    log.info("resumed from %s at step %d", path, state["step"])
    return state["step"]


if __name__ == "__main__":
    main()
