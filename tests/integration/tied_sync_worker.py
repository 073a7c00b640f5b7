"""Subprocess of test_rollout_vllm.py::test_weight_sync_with_tied_embeddings: a second vLLM engine cannot
share the session engine's process. Prints `gap_new gap_old` (max |sampler - transformers| log-prob)."""
import sys

import torch
from transformers import AutoModelForCausalLM

from rlvr.config import Config
from rlvr.rollout import SamplingParams, make_engine, sync_weights
from test_rollout_vllm import PROMPTS, max_gap

model_dir = sys.argv[1]
cfg = Config()
cfg.model.path, cfg.rollout.backend = model_dir, "vllm"
engine = make_engine(cfg)
sp = SamplingParams(temperature=0.7, max_tokens=8, seed=3)
old = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
new = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
assert new.config.tie_word_embeddings and "lm_head.weight" not in dict(new.named_parameters())
torch.manual_seed(0)
with torch.no_grad():
    for p in new.parameters():
        p.add_(torch.randn_like(p) * 0.05)
sync_weights(engine, [list(new.named_parameters())])
after = engine.generate(PROMPTS, 2, sp)
print(f"{max_gap(after, new, engine.tokenizer, 0.7)} {max_gap(after, old, engine.tokenizer, 0.7)}")
engine.close()
