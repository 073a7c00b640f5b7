"""Worker for tests/integration/test_learner_zero3_init.py (run under torchrun, 2 ranks, gloo).

    python tests/integration/zero3_init_worker.py MODEL_DIR OUT_JSON zero_stage

Records how each model is held the moment from_pretrained returns it inside Learner() (observed by wrapping
transformers' loader: before deepspeed.initialize ever sees it), how the learner holds its parameters after
construction, this rank's peak RSS growth while building, then a sync gather and an export.
"""
from __future__ import annotations

import json
import resource
import sys

import psutil
import torch


def main() -> None:
    model_dir, out, stage = sys.argv[1:]
    import deepspeed  # noqa: F401  (imports outside the measured window)
    import transformers  # noqa: F401

    from rlvr.config import load_config
    from rlvr.learner import Learner

    cfg = load_config(None, [f"model.path={model_dir}", f"learner.zero_stage={stage}",
                             "algorithm.regularizers=[kl]", "rollout.backend=hf"])
    from transformers import AutoModelForCausalLM

    built: list[dict] = []  # per from_pretrained call (policy, then reference)
    load = AutoModelForCausalLM.from_pretrained.__func__

    def observed(cls, *a, **k):
        m = load(cls, *a, **k)
        ps = list(m.parameters())
        built.append({"held": sum(p.numel() for p in ps), "full": sum(getattr(p, "ds_numel", p.numel()) for p in ps),
                      "local": sum(p.ds_tensor.numel() if hasattr(p, "ds_tensor") else p.numel() for p in ps)})
        return m

    AutoModelForCausalLM.from_pretrained = classmethod(observed)
    torch.manual_seed(0)
    before = psutil.Process().memory_info().rss
    learner = Learner(cfg)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    rank, world = learner.rank, learner.world
    params = list(learner.engine.module.parameters())
    ref_params = list(learner.ref.module.parameters()) if stage == "3" else list(learner.ref.parameters())
    full = sum(getattr(p, "ds_numel", p.numel()) for p in params)
    local = sum(p.ds_tensor.numel() if hasattr(p, "ds_tensor") else p.numel() for p in params)
    ref_local = sum(p.ds_tensor.numel() if hasattr(p, "ds_tensor") else p.numel() for p in ref_params)
    held = sum(p.numel() for p in params)  # storage the module holds outside a gather (0 when partitioned)
    shapes = {}
    for bucket in learner.named_parameters_for_sync(bucket_mb=16):
        shapes.update({n: list(t.shape) for n, t in bucket})
    learner.export_hf(f"{out}.hf")
    res = {"rank": rank, "world": world, "peak_growth": max(0, peak - before), "full_numel": full,
           "local_numel": local, "ref_local_numel": ref_local, "held_numel": held, "shapes": shapes, "built": built,
           "element_size": params[0].element_size() if held else 4}
    with open(f"{out}.{rank}", "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
