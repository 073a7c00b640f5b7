"""Where rollouts come from: every rank generates and trains (colocated), or the first `rollout.ranks` ranks
of the torchrun job only generate while the others only train (split, asynchronous; design in split.py).

    roles = setup(cfg)                         # before anything else: picks this rank's role, builds groups
    if roles.role == "rollout": run_rollout_rank(cfg, roles)
    source = rollout_source(cfg, roles, algo, tokenizer)
    groups, metrics = source.batch(step, timer)   # the step's groups, rewarded and filtered
    source.sync(learner, step)                    # new weights to the engines

The learner ranks' default process group holds the learner ranks only, so DeepSpeed, metric reductions and
checkpoint barriers are the same code in both placements.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Optional

import torch

from rlvr.config import Config


@dataclass
class Roles:
    split: bool  # rollout.placement == "split"
    role: str  # "learner" | "rollout"
    rank: int  # torchrun rank (0..world-1)
    world: int  # torchrun world size
    n_rollout: int = 0  # rollout ranks (split)
    index: int = 0  # this rank among its role's ranks
    store: Any = None  # the job's store (split: orders, versions, start / stop)
    ctl: Any = None  # split, learner rank 0 and the rollout ranks: messages rollout -> learner (gloo)
    meta: Any = None  # ... weight headers learner -> rollout (gloo)
    wts: Any = None  # ... weights learner -> rollout (gloo on CPU, NCCL on GPU)

    @property
    def sample_rank(self) -> int:
        """Rank and count of the prompt shards: rollout ranks in split, all ranks colocated."""
        return self.index if self.split else self.rank


def setup(cfg: Config) -> Roles:
    """This rank's role. Split: re-number the learner ranks 0..L-1 and give them a default process group of their
    own (through the job's store), and connect learner rank 0 with every rollout rank."""
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if cfg.rollout.placement == "colocated":
        return Roles(False, "learner", rank, world)
    n = cfg.rollout.ranks
    if world <= n or "MASTER_ADDR" not in os.environ:
        raise RuntimeError(f"rollout.placement=split with rollout.ranks={n} needs a torchrun job of more than {n} "
                           f"ranks (got WORLD_SIZE={world}): e.g. torchrun --nproc_per_node {n + 1} -m rlvr.train ...")
    import torch.distributed as dist

    from rlvr.placement.transport import Channel, job_store, process_group

    timeout = cfg.learner.collective_timeout_s
    store = job_store("split", timeout)
    learner = rank >= n
    index = rank - n if learner else rank
    if learner:  # DeepSpeed and every collective of the loop run among the learner ranks only
        os.environ.update(RANK=str(index), WORLD_SIZE=str(world - n))
        backend = cfg.learner.dist_backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        delta = datetime.timedelta(seconds=timeout)
        # DeepSpeed's groups made later with new_group() take torch's default timeout: bound them too
        dist.distributed_c10d.default_pg_timeout = dist.distributed_c10d.default_pg_nccl_timeout = delta
        dist.init_process_group(backend, store=dist.PrefixStore("learners/", store), rank=index,
                                world_size=world - n, timeout=delta)
    else:  # each rollout rank runs its own single-process engine (vLLM without external_launcher)
        os.environ.update(RANK="0", WORLD_SIZE="1")
    roles = Roles(True, "learner" if learner else "rollout", rank, world, n, index, store)
    if not learner or index == 0:  # learner rank 0 is member 0, rollout rank r is member 1 + r
        member, size = (0 if learner else 1 + index), n + 1
        weights_backend = "nccl" if torch.cuda.is_available() else "gloo"
        roles.ctl = Channel(process_group(store, "ctl", member, size, "gloo", timeout))
        roles.meta = Channel(process_group(store, "meta", member, size, "gloo", timeout))
        roles.wts = process_group(store, "wts", member, size, weights_backend, timeout)
    return roles


def sample_seed(seed: int, step: int, rank: int, gen_batch: int) -> int:
    """Sampling seed from (run seed, step, prompt-shard rank, generation batch): a resumed run samples alike."""
    return (seed * 1_000_003 + step * 10_007 + rank * 101 + gen_batch) % (2**31 - 1)


def sampling_params(cfg: Config, seed: Optional[int], max_tokens: Optional[int] = None):
    from rlvr.rollout import SamplingParams

    r = cfg.rollout
    return SamplingParams(temperature=r.temperature, top_p=r.top_p, top_k=r.top_k,
                          max_tokens=max_tokens or r.max_tokens, stop=list(r.stop), seed=seed)


def rollout_source(cfg: Config, roles: Roles, algo, tokenizer):
    """The learner's source of rewarded, filtered groups for each step."""
    if roles.split:
        from rlvr.placement.split import StreamedRollouts

        return StreamedRollouts(cfg, roles, algo)
    from rlvr.placement.colocated import ColocatedRollouts

    return ColocatedRollouts(cfg, roles, algo, tokenizer)


__all__ = ["Roles", "rollout_source", "sample_seed", "sampling_params", "setup"]
