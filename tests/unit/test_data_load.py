"""Data loading: rows from JSONL / JSON / parquet, `_source` = file:line, and errors that name the file and line."""
from __future__ import annotations

import hashlib
import json
import logging

import pytest

from rlvr.data import BENCHMARKS, TRAIN_SETS, DataError, benchmark_path, bundled_path, load_prompts, load_rows


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_jsonl_rows_carry_file_line_and_skip_blank_lines(tmp_path):
    f = _write_jsonl(tmp_path / "d.jsonl", [{"problem": "1+1", "answer": "2"}, "", {"problem": "2+2", "answer": "4"}])
    rows = load_rows(f)
    assert [r["_source"] for r in rows] == ["d.jsonl:1", "d.jsonl:3"]  # line 2 is blank
    assert rows[1]["answer"] == "4"
    assert load_rows(f, limit=1) == rows[:1]


def test_invalid_json_names_file_and_line(tmp_path):
    rows = [{"problem": f"q{i}", "answer": str(i)} for i in range(16)] + ['{"problem": "q16", "answer": ']
    f = _write_jsonl(tmp_path / "data.jsonl", rows)
    with pytest.raises(DataError, match=r"data\.jsonl:17: invalid JSON"):
        load_rows(f)


def test_non_object_row_names_file_and_line(tmp_path):
    f = _write_jsonl(tmp_path / "data.jsonl", [{"problem": "a", "answer": "1"}, "[1, 2]"])
    with pytest.raises(DataError, match=r"data\.jsonl:2: expected a JSON object, got list"):
        load_rows(f)


def test_missing_key_names_file_line_and_key(tmp_path):
    class NoTokenizer:  # never reached: the key check fails first
        pass

    f = _write_jsonl(tmp_path / "data.jsonl", [{"problem": "a", "answer": "1"}, {"question": "b", "answer": "2"}])
    with pytest.raises(DataError, match=r"data\.jsonl:2: missing prompt key 'problem' \(row has: question, answer\)"):
        load_prompts(f, NoTokenizer())
    g = _write_jsonl(tmp_path / "gold.jsonl", [{"problem": "a", "answer": ""}])
    with pytest.raises(DataError, match=r"gold\.jsonl:1: missing answer key 'answer'"):
        load_prompts(g, NoTokenizer())


def test_missing_file_is_an_error_not_a_hub_lookup(tmp_path):
    with pytest.raises(DataError, match=r"nope\.jsonl: no such data file"):
        load_rows(tmp_path / "nope.jsonl")


def test_json_array_and_parquet(tmp_path):
    items = [{"problem": "p1", "answer": "1"}, {"problem": "p2", "answer": "2"}]
    j = tmp_path / "d.json"
    j.write_text(json.dumps(items))
    assert [(r["problem"], r["_source"]) for r in load_rows(j)] == [("p1", "d.json:1"), ("p2", "d.json:2")]

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(items), tmp_path / "d.parquet")
    rows = load_rows(tmp_path / "d.parquet", limit=1)
    assert rows == [{"problem": "p1", "answer": "1", "_source": "d.parquet:1"}]


def test_uncached_hub_id_gives_a_clear_error(monkeypatch):
    import datasets.config
    import huggingface_hub.constants

    # offline mode: fail at once instead of retrying the (unreachable) network
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match=r"nobody-xyz/no-such-set: not a local file .* HF cache"):
        load_rows("nobody-xyz/no-such-set", split="train")


def test_bundled_sets_match_their_recorded_sha256():
    # benchmarks/SOURCES.md lists the first 16 hex digits of each file's sha256; train/SOURCES.md the full digest
    expected = {"aime24": "6e142d008b1e2dbb", "aime25": "fb2e32c3e57f8287", "math500": "2949c2a34b922e4e",
                "amc23": "c41465b80619bf45", "gsm8k": "9f1392f23a84c40c", "minerva": "110b74263317abc7",
                "gsm8k_train": "33cf5f12b240eb86", "math_train": "5bfb07e77479cc05", "code_demo": "7b09afe35ac5375f"}
    counts = {"aime24": 30, "aime25": 30, "math500": 500, "amc23": 40, "gsm8k": 1319, "minerva": 272,
              "gsm8k_train": 7473, "math_train": 7472, "code_demo": 8}
    assert set(BENCHMARKS) | set(TRAIN_SETS) == set(expected)
    train_sources = (bundled_path("gsm8k_train").parent / "SOURCES.md").read_text()
    for name, prefix in expected.items():
        path = bundled_path(name)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest[:16] == prefix, name
        if name in TRAIN_SETS:
            assert digest in train_sources, name
        rows = load_rows(name)  # by name, as recipes write it
        assert len(rows) == counts[name] and rows[0]["_source"] == f"{path.name}:1"
    assert (benchmark_path("math500").parent / "SOURCES.md").is_file()
    with pytest.raises(DataError, match="unknown benchmark 'aime26'"):
        benchmark_path("aime26")


def test_pyproject_ships_the_benchmarks():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["rlvr"]
    assert "data/benchmarks/*.jsonl" in globs and "data/benchmarks/*.md" in globs
    assert "data/train/*.jsonl" in globs and "data/train/*.md" in globs


def test_load_prompts_minerva_gold_and_overlong_drop(tiny_tokenizer, caplog):
    # Minerva row 2 has answer "4.5e33" and the math-verify-friendly answer_mv "4.5 \times 10^{33}"
    ps = load_prompts(benchmark_path("minerva"), tiny_tokenizer, answer_key=("answer_mv", "answer"), limit=2)
    assert ps[1].answer == "4.5 \\times 10^{33}" and ps[1].meta["answer"] == "4.5e33"
    assert ps[0].meta["_source"] == "minerva_math.jsonl:1" and ps[0].id == ps[0].meta["id"]
    assert ps[0].prompt_ids == tiny_tokenizer(ps[0].text, add_special_tokens=True)["input_ids"]
    lengths = sorted(len(p.prompt_ids) for p in load_prompts(benchmark_path("gsm8k"), tiny_tokenizer, limit=10))
    cut = lengths[4]  # keep exactly the prompts with <= cut tokens
    with caplog.at_level(logging.WARNING, logger="rlvr.data"):
        kept = load_prompts(benchmark_path("gsm8k"), tiny_tokenizer, limit=10, max_prompt_len=cut)
    assert len(kept) == sum(n <= cut for n in lengths) and all(len(p.prompt_ids) <= cut for p in kept)
    assert f"dropped {10 - len(kept)} of 10 prompts longer than max_prompt_len={cut}" in caplog.text


def test_load_prompts_from_data_config(tiny_tokenizer):
    from rlvr.config import DataConfig

    cfg = DataConfig(train_files=["math_train"], template="plain", limit=3)
    ps = load_prompts(cfg, tiny_tokenizer)
    assert len(ps) == 3 and ps[0].text.startswith("Question: ") and ps[0].task == "math"


def test_unicode_line_separators_inside_strings_do_not_split_rows(tmp_path):
    # U+2028 / U+0085 are legal inside JSON strings (GSM8K train line 2382 has one); str.splitlines() would cut there
    f = tmp_path / "u.jsonl"
    f.write_text('{"problem": "a\u2028b\u0085c", "answer": "1"}\n{"problem": "d", "answer": "2"}\n', encoding="utf-8")
    rows = load_rows(str(f))
    assert [r["problem"] for r in rows] == ["a\u2028b\u0085c", "d"]
    assert rows[1]["_source"] == "u.jsonl:2"
