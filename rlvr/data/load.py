"""Prompt loading: local JSONL / JSON / parquet files or hub datasets -> rows -> templated, tokenized `Prompt`s.

Every row carries `_source = "file:line"` (1-based line for JSONL, 1-based row for parquet / hub data) so an error
or an odd sample can be traced back to the exact record. Bad rows fail loudly with that location.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from rlvr.config import DataConfig
from rlvr.data.templates import render
from rlvr.types import Prompt

log = logging.getLogger("rlvr.data")

DATA_DIR = Path(__file__).resolve().parent
BENCHMARK_DIR = DATA_DIR / "benchmarks"
# Bundled evaluation sets: name -> (file under benchmarks/, gold columns in order of preference). Minerva golds
# are often e-notation or python-ish; `answer_mv` is the math-verify-friendly rewrite (benchmarks/SOURCES.md).
BENCHMARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aime24": ("aime24.jsonl", ("answer",)),
    "aime25": ("aime25.jsonl", ("answer",)),
    "math500": ("math500.jsonl", ("answer",)),
    "amc23": ("amc23.jsonl", ("answer",)),
    "gsm8k": ("gsm8k_test.jsonl", ("answer",)),
    "minerva": ("minerva_math.jsonl", ("answer_mv", "answer")),
}
# Bundled RL training prompts (train/SOURCES.md: provenance, sha256): `data.train_files: [gsm8k_train]`.
TRAIN_SETS: dict[str, str] = {"gsm8k_train": "gsm8k_train.jsonl", "math_train": "math_train.jsonl",
                              "code_demo": "code_demo.jsonl"}  # code_demo: stdin/stdout tasks for `code_tests`
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet")

AnswerKey = Union[str, Sequence[str]]


class DataError(ValueError):
    """A data file or row that cannot be used; the message names the file and line."""


def benchmark_path(name: str) -> Path:
    """Path of a bundled benchmark (aime24, aime25, math500, amc23, gsm8k, minerva)."""
    if name not in BENCHMARKS:
        raise DataError(f"unknown benchmark {name!r}; bundled: {', '.join(BENCHMARKS)} (or pass a JSONL/parquet path)")
    return BENCHMARK_DIR / BENCHMARKS[name][0]


def bundled_path(name: str) -> Optional[Path]:
    """Path of a bundled data set named `name` (a training set or a benchmark), or None if it is no such name."""
    if name in TRAIN_SETS:
        return DATA_DIR / "train" / TRAIN_SETS[name]
    return BENCHMARK_DIR / BENCHMARKS[name][0] if name in BENCHMARKS else None


# ----------------------------------------------------------------------------------------------- rows


def load_rows(source: str | Path, *, split: str = "train", limit: Optional[int] = None) -> list[dict]:
    """Rows of a bundled set by name (`gsm8k_train`, `math_train`, `math500`, ...), a local JSONL / JSON-list /
    parquet file, or a hub dataset id (`owner/name` or `owner/name:config`).

    Bundled names win, then local paths; a path-looking source (known suffix) that does not exist is an error
    rather than a hub lookup. Hub datasets load through `datasets` and work offline only when already cached.
    """
    path = bundled_path(str(source)) or Path(source).expanduser()
    if path.exists() or str(source).endswith(LOCAL_SUFFIXES):
        if not path.is_file():
            raise DataError(f"{source}: no such data file")
        if path.suffix == ".parquet":
            return _parquet_rows(path, limit)
        return _json_rows(path, limit)
    return _hub_rows(str(source), split, limit)


def _json_rows(path: Path, limit: Optional[int]) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json" and text.lstrip().startswith("["):  # one JSON array of objects
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
        items = items[:limit] if limit is not None else items
        return [_check_row(r, path, f"item {i}", f"{path.name}:{i + 1}") for i, r in enumerate(items)]
    rows = []
    # split on "\n" only: str.splitlines() also splits on U+2028 / U+0085, which JSON strings may contain
    for lineno, line in enumerate(text.split("\n"), 1):
        if limit is not None and len(rows) >= limit:
            break
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
        rows.append(_check_row(row, path, str(lineno), f"{path.name}:{lineno}"))
    return rows


def _check_row(row: Any, path: Path, where: str, source: str) -> dict:
    if not isinstance(row, dict):
        raise DataError(f"{path}:{where}: expected a JSON object, got {type(row).__name__}")
    return {**row, "_source": source}


def _parquet_rows(path: Path, limit: Optional[int]) -> list[dict]:
    import pyarrow.parquet as pq  # comes with `datasets`

    table = pq.read_table(path)
    if limit is not None:
        table = table.slice(0, limit)
    return [{**row, "_source": f"{path.name}:{i + 1}"} for i, row in enumerate(table.to_pylist())]


def _hub_rows(source: str, split: str, limit: Optional[int]) -> list[dict]:
    import datasets  # lazy: heavy import

    name, _, config = source.partition(":")
    try:
        ds = datasets.load_dataset(name, config or None, split=split)
    except Exception as e:  # noqa: BLE001 -- any failure here means "not loadable"; say why and what to do
        raise DataError(
            f"{source}: not a local file and could not load it as a hub dataset (split {split!r}): "
            f"{type(e).__name__}: {e}. Without network the dataset must already be in the HF cache "
            f"(HF_HOME / HF_DATASETS_CACHE); otherwise pass a local .jsonl/.parquet path."
        ) from None
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    return [{**row, "_source": f"{name}[{split}]:{i + 1}"} for i, row in enumerate(ds)]


# ----------------------------------------------------------------------------------------------- prompts


def row_field(row: dict, keys: AnswerKey, what: str) -> str:
    """First present, non-empty column among `keys`, as a string; a clear error naming file:line otherwise."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    for k in keys:
        v = row.get(k)
        if v is not None and str(v).strip() != "":
            return str(v)
    have = ", ".join(k for k in row if k != "_source")
    raise DataError(f"{row.get('_source', '?')}: missing {what} key {' / '.join(map(repr, keys))} (row has: {have})")


def rows_to_prompts(
    rows: list[dict],
    tokenizer: Any,
    *,
    prompt_key: str = "problem",
    answer_key: AnswerKey = "answer",
    template: str = "qwen_math",
    max_prompt_len: Optional[int] = None,
    task: str = "math",
) -> list[Prompt]:
    """Template + tokenize rows; prompts longer than `max_prompt_len` tokens are dropped with a warning."""
    problems = [row_field(r, prompt_key, "prompt") for r in rows]
    answers = [row_field(r, answer_key, "answer") for r in rows]
    texts = [render(template, p, tokenizer) for p in problems]
    # The chat template writes BOS/specials into the text itself; the raw-text templates need the tokenizer's
    # own special tokens (e.g. a Llama BOS). Qwen adds none either way.
    ids = tokenizer(texts, add_special_tokens=template != "chat")["input_ids"] if texts else []
    prompts, dropped = [], 0
    for row, problem, answer, text, prompt_ids in zip(rows, problems, answers, texts, ids):
        if max_prompt_len is not None and len(prompt_ids) > max_prompt_len:
            dropped += 1
            continue
        meta = {k: v for k, v in row.items() if k != prompt_key and _small(v)}  # keeps _source = "file:line"
        meta["problem"] = problem
        pid = str(row["id"]) if row.get("id") is not None else row["_source"]
        prompts.append(Prompt(id=pid, text=text, answer=answer, prompt_ids=list(prompt_ids), task=task, meta=meta))
    if dropped:
        log.warning("dropped %d of %d prompts longer than max_prompt_len=%d tokens", dropped, len(rows), max_prompt_len)
    return prompts


def _small(v: Any) -> bool:  # keep short scalar metadata (level, subject, year); skip full solutions
    return isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) <= 200)


def load_prompts(
    files: "Sequence[str | Path] | str | Path | DataConfig",
    tokenizer: Any,
    *,
    prompt_key: str = "problem",
    answer_key: AnswerKey = "answer",
    template: str = "qwen_math",
    max_prompt_len: Optional[int] = None,
    limit: Optional[int] = None,
    split: str = "train",
    task: str = "math",
) -> list[Prompt]:
    """Load every file (or hub id), concatenate, keep the first `limit` rows, and build `Prompt`s.

    `load_prompts(cfg.data, tokenizer)` takes every setting from a `DataConfig` (what the trainer does).
    """
    if isinstance(files, DataConfig):
        d = files
        return load_prompts(d.train_files, tokenizer, prompt_key=d.prompt_key, answer_key=d.answer_key,
                            template=d.template, max_prompt_len=d.max_prompt_len, limit=d.limit, split=split, task=task)
    files = [files] if isinstance(files, (str, Path)) else list(files)
    rows: list[dict] = []
    for f in files:
        remaining = None if limit is None else limit - len(rows)
        if remaining is not None and remaining <= 0:
            break
        rows += load_rows(f, split=split, limit=remaining)
    if not rows:
        raise DataError(f"no rows in {', '.join(map(str, files))}")
    return rows_to_prompts(rows, tokenizer, prompt_key=prompt_key, answer_key=answer_key, template=template,
                           max_prompt_len=max_prompt_len, task=task)
