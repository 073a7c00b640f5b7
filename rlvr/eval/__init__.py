"""Evaluation: pass@k / avg@n / maj@k metrics and the benchmark runner shared by `rlvr eval` and the trainer."""
from rlvr.eval.metrics import bootstrap_ci, cluster_answers, length_stats, maj_at_k, pass_at_k, score_problems
from rlvr.eval.runner import EvalSettings, default_ks, evaluate, flat_metrics, load_benchmark, run_eval

__all__ = ["EvalSettings", "bootstrap_ci", "cluster_answers", "default_ks", "evaluate", "flat_metrics", "length_stats",
           "load_benchmark", "maj_at_k", "pass_at_k", "run_eval", "score_problems"]
