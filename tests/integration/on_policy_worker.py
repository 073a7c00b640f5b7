"""One process: the on-policy shortcut (no separate old-logprob pass) gives the same update as the full path."""
import dataclasses
import json
import sys

import torch

from learner_worker import hand_batch


def run(model_dir: str, force_old_pass: bool) -> tuple[dict, dict]:
    from rlvr.config import load_config
    from rlvr.learner import Learner

    cfg = load_config(None, [f"model.path={model_dir}", "learner.zero_stage=0", "learner.lr=1e-2",
                             "rollout.temperature=0.9", "algorithm.weights=[tis]", "algorithm.regularizers=[kl]",
                             "algorithm.kl.coef=0.1"])
    learner = Learner(cfg)
    if force_old_pass:
        learner._on_policy = lambda: False
    groups, adv = hand_batch()
    batch = learner.compute_old(learner.make_batch(groups))
    batch = dataclasses.replace(batch, advantages=adv.flatten())
    assert (batch.old_logprobs is None) != force_old_pass
    assert batch.ref_logprobs is not None  # the reference pass still runs: the kl regularizer declares it
    metrics = learner.update(batch)
    params = {n: t.clone() for b in learner.named_parameters_for_sync(1) for n, t in b}
    return metrics, params


if __name__ == "__main__":
    model_dir, out = sys.argv[1:]
    m_fast, p_fast = run(model_dir, force_old_pass=False)
    m_full, p_full = run(model_dir, force_old_pass=True)
    diff = max((p_fast[n] - p_full[n]).abs().max().item() for n in p_fast)
    json.dump({"fast": m_fast, "full": m_full, "max_param_diff": diff}, open(out, "w"))
