"""Worker for tests/integration/test_learner_deepspeed.py (run under torchrun or as one process).

    python tests/integration/learner_worker.py MODEL_DIR OUT_JSON zero_stage micro_batch_tokens [key=value ...]

Each rank takes its half of a fixed hand-built batch (8 groups x 2 rollouts), runs compute_old + one update and
writes (rank 0) a JSON with the loss, a parameter fingerprint, sync shapes and metrics.
"""
from __future__ import annotations

import dataclasses
import json
import sys

import torch


def hand_batch(n_groups: int = 8, G: int = 2):
    from rlvr.types import Group, Prompt, Rollout

    g = torch.Generator().manual_seed(0)
    groups = []
    for i in range(n_groups):
        p = torch.randint(10, 900, (int(torch.randint(3, 9, (1,), generator=g)),), generator=g).tolist()
        rolls = []
        for j in range(G):
            L = int(torch.randint(2, 20, (1,), generator=g))
            ids = torch.randint(10, 900, (L,), generator=g).tolist()
            rolls.append(Rollout(ids, "", [-1.0] * L, "length" if j == 1 and i % 3 == 0 else "stop"))
        groups.append(Group(Prompt(f"p{i}", "", "", prompt_ids=p), rolls, rewards=[1.0, 0.0], acc=[1.0, 0.0]))
    adv = torch.tensor([[1.0, -1.0]] * n_groups) * torch.linspace(0.5, 1.5, n_groups)[:, None]  # [N, G]
    return groups, adv


def main() -> None:
    model_dir, out, stage, mbt, *over = sys.argv[1:]
    from rlvr.config import load_config
    from rlvr.learner import Learner

    cfg = load_config(None, [f"model.path={model_dir}", f"learner.zero_stage={stage}",
                             f"learner.micro_batch_tokens={mbt}", "learner.lr=1e-2", "learner.logprob_chunk=8",
                             "rollout.temperature=0.9",
                             "learner.epochs=2",  # PPO epochs: old log-probs are a real pass, reused by both updates
                             *over])
    learner = Learner(cfg)
    rank, world = learner.rank, learner.world
    groups, adv = hand_batch()
    per = len(groups) // world
    batch = learner.compute_old(learner.make_batch(groups[rank * per:(rank + 1) * per]))
    batch = dataclasses.replace(batch, advantages=adv[rank * per:(rank + 1) * per].flatten())
    before = {n: t.clone() for b in learner.named_parameters_for_sync(1) for n, t in b}
    m1 = learner.update(batch)
    m2 = learner.update(batch)  # same old log-probs: the surrogate loss must now be lower
    after = {n: t.clone() for b in learner.named_parameters_for_sync(1) for n, t in b}
    delta = {n: (after[n] - before[n]).double() for n in after}
    # a NaN advantage on rank 0 only: every rank must skip the step and keep its weights
    bad = batch if rank else dataclasses.replace(batch, advantages=batch.advantages.clone().fill_(float("nan")))
    m3 = learner.update(bad)
    nan_kept = all(torch.equal(t, after[n]) for b in learner.named_parameters_for_sync(1) for n, t in b)
    res = {"m1": m1, "m2": m2, "m3": m3, "nan_kept": nan_kept, "shapes": {n: list(t.shape) for n, t in after.items()},
           "delta_sum": {n: float(d.sum()) for n, d in delta.items()},
           "delta_abs": {n: float(d.abs().sum()) for n, d in delta.items()}}
    # checkpoint round trip and HF export (every rank calls; rank 0 writes the export)
    import os
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ckpt = os.path.join(os.path.dirname(out), f"ckpt_{stage}")
    learner.save_checkpoint(os.path.join(ckpt, "deepspeed"))
    learner.export_hf(os.path.join(ckpt, "hf"), AutoTokenizer.from_pretrained(model_dir))
    learner.update(batch)  # move away, then restore
    learner.load_checkpoint(os.path.join(ckpt, "deepspeed"))
    restored = {n: t.clone() for b in learner.named_parameters_for_sync(1) for n, t in b}
    res["ckpt_restored"] = all(torch.equal(restored[n], after[n]) for n in after)
    if rank == 0:
        hf = AutoModelForCausalLM.from_pretrained(os.path.join(ckpt, "hf"), dtype=torch.float32)
        res["export_equal"] = all(torch.equal(t, after[n]) for n, t in hf.named_parameters())
    gathered = [None] * world
    if world > 1:
        torch.distributed.all_gather_object(gathered, res["delta_sum"])
    else:
        gathered = [res["delta_sum"]]
    res["ranks_equal"] = all(g == gathered[0] for g in gathered)
    if rank == 0:
        with open(out, "w") as f:
            json.dump(res, f)


if __name__ == "__main__":
    main()
