"""Worker of `bench_scale.py --learner-only` (one torchrun rank): the DeepSpeed learner alone at real scale.

    torchrun --nproc_per_node 2 scripts/bench/scale_learner_worker.py MODEL_DIR OUT_PREFIX STAGE STEPS [key=value]

Builds the Learner (ZeRO-STAGE), then runs STEPS updates on a fixed batch shaped like the rehearsal's share of
one rank (4 prompts x 4 samples, 200 prompt + 128 response tokens) and a sync gather; records this rank's peak
RSS / RssAnon (rlvr.tracking.MemoryWatch) and seconds for each, in OUT_PREFIX.RANK.json.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time

import torch


def main() -> None:
    model_dir, out, stage, steps, *over = sys.argv[1:]
    from rlvr.config import load_config
    from rlvr.learner import Learner
    from rlvr.tracking import MemoryWatch
    from rlvr.types import Group, Prompt, Rollout

    watch = MemoryWatch.shared()
    cfg = load_config(None, [f"model.path={model_dir}", f"learner.zero_stage={stage}", *over])
    res: dict = {}
    watch.reset()
    t0 = time.perf_counter()
    learner = Learner(cfg)
    res["build"] = {**watch.peak(), "s": time.perf_counter() - t0}
    g = torch.Generator().manual_seed(learner.rank)
    groups = [Group(Prompt(f"p{i}", "", "", prompt_ids=torch.randint(10, 9000, (200,), generator=g).tolist()),
                    [Rollout(torch.randint(10, 9000, (128,), generator=g).tolist(), "", [-1.0] * 128, "length")
                     for _ in range(4)], rewards=[1.0, 0.0, 0.0, 1.0], acc=[1.0, 0.0, 0.0, 1.0]) for i in range(4)]
    batch = learner.compute_old(learner.make_batch(groups))
    batch = dataclasses.replace(batch, advantages=torch.tensor([1.0, -1.0, -1.0, 1.0] * 4))
    for s in range(int(steps)):
        watch.reset()
        t0 = time.perf_counter()
        m = learner.update(batch)
        res[f"update{s + 1}"] = {**watch.peak(), "s": time.perf_counter() - t0, "skipped": m["loss/skipped_steps"]}
    watch.reset()
    t0 = time.perf_counter()
    moved = 0
    for bucket in learner.named_parameters_for_sync(cfg.rollout.sync_bucket_mb):
        moved += sum(t.numel() * t.element_size() for _, t in bucket)
    res["sync_gather"] = {**watch.peak(), "s": time.perf_counter() - t0, "gb": moved / 1e9}
    with open(f"{out}.{learner.rank}.json", "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
