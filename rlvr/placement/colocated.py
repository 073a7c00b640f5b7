"""Colocated placement: every rank owns a rollout engine and its prompt shard, generates, scores, filters,
then trains; the new weights go straight into its own engine (vLLM sleeps while the learner trains on GPU)."""
from __future__ import annotations

from typing import Optional

from rlvr.algorithms import GroupBuffer
from rlvr.config import Config
from rlvr.metrics import combine
from rlvr.placement import Roles, sample_seed, sampling_params
from rlvr.tracking import release_memory


class ColocatedRollouts:
    def __init__(self, cfg: Config, roles: Roles, algo, tokenizer):
        import torch.distributed as dist

        from rlvr.data import load_prompts
        from rlvr.data.sampler import PromptSampler
        from rlvr.rewards import RewardScorer
        from rlvr.rollout import make_engine

        self.cfg, self.algo, self.tokenizer = cfg, algo, tokenizer
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        if cfg.rollout.num_prompts % self.world:
            raise ValueError(f"rollout.num_prompts={cfg.rollout.num_prompts} must be divisible by world size "
                             f"{self.world}")
        prompts = load_prompts(cfg.data, tokenizer)
        self.scorer = RewardScorer(weights=cfg.rewards, cfg=cfg.reward, max_response_len=cfg.rollout.max_tokens)
        self.scorer.check_golds(prompts)  # an unparseable gold is a data error now, never a free reward later
        self.engine = make_engine(cfg, tokenizer, rank=self.rank, world_size=self.world)
        self.sampler = PromptSampler(prompts, cfg.seed, cfg.data.shuffle, self.rank, self.world)
        self.local = cfg.rollout.num_prompts // self.world
        # without filters one generation batch fills the batch
        self.budget = cfg.algorithm.max_gen_batches if algo.filters else 1

    def batch(self, step: int, timer) -> tuple[list, dict]:
        """This rank's groups for `step`: generate, reward, filter; resample until `local` groups pass."""
        buffer, rewards = GroupBuffer(target=self.local, keep=self.algo.keep_group), []
        while not buffer.full and (self.budget == 0 or buffer.gen_batches < self.budget):
            sampling = sampling_params(self.cfg, sample_seed(self.cfg.seed, step, self.rank, buffer.gen_batches))
            with timer("rollout"):
                groups = self.engine.generate(self.sampler.next(self.local), self.cfg.rollout.group_size, sampling)
            with timer("reward"):
                rewards.append(self.scorer.score_groups(groups))
            buffer.add(groups)
        self.engine.sleep()  # frees the KV cache for the learner on GPU; no-op elsewhere
        release_memory()
        return buffer.take(), {**combine(rewards), **buffer.metrics()}

    def sync(self, learner, step: int) -> None:
        """Push the learner's new weights into this rank's engine."""
        release_memory()  # the update's activations and gradients, before the engine's cache comes back
        self.engine.wake()
        learner.sync_weights(self.engine, self.cfg.rollout.sync_bucket_mb)
        release_memory()  # ZeRO-3's gathered buckets

    def set_entropy_stats(self, stats) -> None:
        self.engine.set_entropy_stats(stats)

    def eval(self, step: int) -> dict:
        from rlvr.eval import run_eval

        return run_eval(self.engine, self.tokenizer, self.cfg, rank=self.rank, world_size=self.world)

    def records(self) -> list[dict]:
        return []  # every sample is on-policy: no versions to record

    def state_dict(self) -> dict:
        stats = self.engine.entropy_stats
        return {"sampler": self.sampler.state_dict(), "sampler_entropy_stats": stats.to_dict() if stats else None}

    def start(self, learner, step: int, state: Optional[dict]) -> None:
        """Resumed at `step` with this rank's saved `state` (None: a fresh run, nothing to restore)."""
        from rlvr.rollout import EntropyStats

        if not state:
            return
        self.sampler.load_state_dict(state["sampler"])
        if state.get("sampler_entropy_stats"):
            self.engine.set_entropy_stats(EntropyStats(**state["sampler_entropy_stats"]))
        learner.sync_weights(self.engine, self.cfg.rollout.sync_bucket_mb)

    def close(self, error: Optional[BaseException] = None) -> None:
        self.scorer.close()
        self.engine.close()  # last: vLLM's shutdown also tears down the default process group
