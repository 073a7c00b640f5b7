"""Eval runner pieces that need no engine: settings resolution, benchmark loading, summaries, the table."""
from __future__ import annotations

import hashlib
import json

import pytest

from rlvr.config import Config, EvalConfig
from rlvr.data import benchmark_path
from rlvr.eval import EvalSettings, default_ks, flat_metrics, load_benchmark
from rlvr.eval.cli import library_versions, markdown_table, parse_args
from rlvr.eval.runner import summarize


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_default_ks():
    assert default_ks(16) == [1, 4, 16]
    assert default_ks(8) == [1, 4, 8]
    assert default_ks(64) == [1, 4, 16, 64]
    assert default_ks(1) == [1]
    assert EvalSettings(n=4, ks=[1, 2, 16]).ks == [1, 2]  # k > n dropped


def test_settings_from_run_config_fall_back_to_data_rollout_and_seed():
    cfg = Config()
    cfg.seed, cfg.data.template, cfg.rollout.max_tokens, cfg.reward.workers = 7, "r1", 333, 1
    s = EvalSettings.from_config(cfg)
    assert (s.seed, s.template, s.max_tokens, s.workers, s.n, s.temperature) == (7, "r1", 333, 1, 4, 0.6)
    cfg.eval = EvalConfig(template="plain", max_tokens=64, seed=3, n=2, ks=[1, 2])
    s = EvalSettings.from_config(cfg)
    assert (s.seed, s.template, s.max_tokens, s.ks) == (3, "plain", 64, [1, 2])
    s = EvalSettings.from_config(EvalConfig(), template="chat", max_tokens=32, seed=5)
    assert (s.template, s.max_tokens, s.seed) == ("chat", 32, 5)


def test_load_benchmark_bundled_named_and_custom_columns(tiny_tokenizer, tmp_path):
    s = EvalSettings(limit=3)
    b = load_benchmark("minerva", tiny_tokenizer, s)
    assert b.name == "minerva" and b.answer_keys == ("answer_mv", "answer") and len(b.prompts) == 3
    assert b.sha256 == hashlib.sha256(benchmark_path("minerva").read_bytes()).hexdigest()
    assert [p.meta["index"] for p in b.prompts] == [0, 1, 2]

    f = tmp_path / "mine.jsonl"
    f.write_text(json.dumps({"q": "What is 2+3?", "gold": "5"}) + "\n")
    s = EvalSettings(prompt_key="q", answer_key="gold")
    b = load_benchmark(str(f), tiny_tokenizer, s)
    assert (b.name, b.prompts[0].answer, b.prompts[0].id) == ("mine", "5", "mine.jsonl:1")
    assert load_benchmark(f"custom={f}", tiny_tokenizer, s).name == "custom"


def _record(pi, si, correct, extracted, length, finish="stop"):
    return {"benchmark": "toy", "problem_id": f"p{pi}", "problem_index": pi, "sample_index": si, "gold": "1/2",
            "response": "", "extracted": extracted, "correct": correct, "score": float(correct), "status": "ok",
            "length": length, "finish_reason": finish}


def test_summarize_and_flat_metrics(tiny_tokenizer):
    bench = load_benchmark("amc23", tiny_tokenizer, EvalSettings(limit=2))
    s = EvalSettings(n=2, ks=[1, 2])
    # gathered out of order (as from two ranks); P0: both right ("\frac12", "0.5"), P1: one right of two, one truncated
    records = [_record(1, 1, False, None, 40, "length"), _record(0, 0, True, "\\frac12", 10),
               _record(1, 0, True, "3", 20), _record(0, 1, True, "0.5", 30)]
    res = summarize(bench, records, s, {"generate_s": 1.0, "verify_s": 0.5, "total_s": 2.0})
    m = res["metrics"]
    # avg@2 = (1 + 0.5) / 2 = 0.75; pass@2 = (1 + 1) / 2 = 1; maj@2: P0 one cluster -> right, P1 only "3" votes -> right
    assert m["avg@2"]["value"] == 0.75 and m["pass@1"]["value"] == 0.75 and m["pass@2"]["value"] == 1.0
    assert m["maj@2"]["value"] == 1.0
    assert res["lengths"]["mean"] == 25.0 and res["lengths"]["truncation_rate"] == 0.25
    assert res["timing"]["s_per_100_samples"] == 50.0  # 2 s for 4 samples
    assert res["no_answer_rate"] == 0.25 and res["num_problems"] == 2
    flat = flat_metrics({"toy": res})
    assert flat["eval/toy/avg@2"] == 0.75 and flat["eval/toy/pass@2"] == 1.0 and flat["eval/toy/truncation_rate"] == 0.25
    table = markdown_table({"toy": res})
    assert table.splitlines()[0].startswith("| benchmark | problems | avg@2 | pass@1 | pass@2 | maj@1 | maj@2 |")
    assert "| toy | 2 | 75.0" in table


def test_cli_args_and_versions():
    a = parse_args(["--model", "m", "--benchmarks", "aime24,gsm8k", "--k", "1,4", "--output", "o",
                    "rollout.batch_size=8"])
    assert (a.n, a.k, a.temperature, a.top_p, a.backend, a.overrides) == (16, [1, 4], 0.6, 0.95, "vllm", ["rollout.batch_size=8"])
    v = library_versions()
    assert "torch" in v and "transformers" in v
