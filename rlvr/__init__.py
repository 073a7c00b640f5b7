"""rlvr: post-training language models with reinforcement learning from verifiable rewards.

Importing the package is cheap: vLLM and DeepSpeed are imported only by their leaf modules
(`rlvr.rollout.vllm_engine`, `rlvr.learner.deepspeed_learner`).
"""

__version__ = "0.1.0"
