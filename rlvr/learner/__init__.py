"""The learner: chunked log-probs (logprobs.py), batches and packing (batching.py), the DeepSpeed engine
(deepspeed_learner.py — imported lazily, so `import rlvr.learner` never imports deepspeed).

    from rlvr.learner import Learner, make_batch
"""
from rlvr.learner.batching import make_batch, micro_batch_rows
from rlvr.learner.logprobs import chunked_logprobs, token_logprobs

__all__ = ["Learner", "chunked_logprobs", "make_batch", "micro_batch_rows", "token_logprobs"]


def __getattr__(name: str):
    if name == "Learner":
        from rlvr.learner.deepspeed_learner import Learner

        return Learner
    raise AttributeError(f"module 'rlvr.learner' has no attribute {name!r}")
