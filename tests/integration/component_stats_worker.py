"""Worker for tests/integration/test_learner_component_stats.py (one process or under torchrun).

    python tests/integration/component_stats_worker.py MODEL_DIR OUT_JSON

A learner with components that declare every kind of statistic input: Lp-Reg (old-pass LogitStat
`old_proxy_logprobs`), Clip_V (old-pass `old_expected_disc`, `old_entropy`), STEER (`old_entropy`) and SIREN
(training-forward `topp_entropy:grad`, anchor state). Each rank takes its share of a hand-built batch, runs
compute_old and one update in 64-token micro-batches; it compares the old-pass statistics with a direct
computation from the HF model's full logits and writes (per rank) the differences, metrics and the anchor.
"""
from __future__ import annotations

import dataclasses
import json
import sys

import torch

from learner_worker import hand_batch

TEMPERATURE = 0.9


def main() -> None:
    model_dir, out = sys.argv[1:]
    from rlvr.algorithms.entropy_clip import expected_disc
    from rlvr.algorithms.lp_reg import proxy_logprobs
    from rlvr.config import load_config
    from rlvr.learner import Learner

    cfg = load_config(None, [f"model.path={model_dir}", "learner.zero_stage=0", "learner.lr=1e-2",
                             "learner.micro_batch_tokens=64", "learner.logprob_chunk=8",
                             f"rollout.temperature={TEMPERATURE}", "algorithm.loss=lp_reg",
                             "algorithm.lp_reg.neg_frac=1.0", "algorithm.lp_reg.kappa=0.5",
                             "algorithm.masks=[clip_v]", "algorithm.clip_v.mu=0.5", "algorithm.clip_v.max_frac=0.5",
                             "algorithm.weights=[steer]", "algorithm.regularizers=[siren]",
                             "algorithm.siren.top_k=50", "algorithm.siren.coef=1.0"])
    learner = Learner(cfg)
    rank, world = learner.rank, learner.world
    groups, adv = hand_batch()
    per = len(groups) // world
    batch = learner.compute_old(learner.make_batch(groups[rank * per:(rank + 1) * per]))
    # direct: the HF model's full [B, T, V] logits; position t is predicted by t - 1
    with torch.no_grad():
        logits = learner.engine.module.hf(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    z = (logits[:, :-1].float() / TEMPERATURE)  # [B, T-1, V]
    m = batch.loss_mask[:, 1:].bool()  # [B, T-1]
    zs, ys = z[m], batch.input_ids[:, 1:][m]  # [K, V], [K]
    logp = torch.log_softmax(zs, -1)
    direct = {"old_logprobs": logp.gather(-1, ys[:, None]).squeeze(-1),
              "old_entropy": -(logp.exp() * logp).sum(-1),
              "old_proxy_logprobs": proxy_logprobs(zs, ys, cfg.algorithm.lp_reg),
              "old_expected_disc": expected_disc(zs, ys)}
    got = {"old_logprobs": batch.old_logprobs, **batch.stats}
    diffs = {k: float((got[k][:, 1:][m] - v).abs().max()) for k, v in direct.items()}
    batch = dataclasses.replace(batch, advantages=adv[rank * per:(rank + 1) * per].flatten())
    metrics = learner.update(batch)
    res = {"diffs": diffs, "stats": sorted(got), "metrics": metrics,
           "anchor": learner.algo.state_dict().get("siren", {}).get("anchor")}
    with open(f"{out}.{rank}", "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
