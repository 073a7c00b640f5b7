"""`rlvr verify`: rows kept in order with all fields, verdict fields added, clear file:line errors."""
from __future__ import annotations

import json

import pytest

from rlvr.cli import main as rlvr_main


def test_verify_cli_round_trip(tmp_path):
    rows = [{"id": 1, "response": "so \\boxed{\\frac12}", "answer": "0.5", "extra": [1, 2]},
            {"id": 2, "response": "no answer here, 12", "answer": "12"},
            {"id": 3, "response": "\\boxed{10^{10^{10^{10}}}}", "answer": "3", "finish_reason": "stop"},
            {"id": 4, "response": "#### 1,000", "answer": 1000}]
    inp, out = tmp_path / "in.jsonl", tmp_path / "sub" / "out.jsonl"
    inp.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    rlvr_main(["verify", "--reward", "math", "--input", str(inp), "--output", str(out), "--timeout", "1",
               "--workers", "2"])
    got = [json.loads(line) for line in out.open()]
    assert [g["id"] for g in got] == [1, 2, 3, 4] and got[0]["extra"] == [1, 2] and got[2]["finish_reason"] == "stop"
    assert [g["correct"] for g in got] == [True, False, False, True]
    assert [g["score"] for g in got] == [1.0, 0.0, 0.0, 1.0]
    assert got[0]["extracted"] == "\\frac12" and got[1]["extracted"] is None
    assert got[0]["status"] == "ok" and got[2]["status"] in ("timeout", "error", "ok")


@pytest.mark.parametrize("content, msg", [
    ('{"response": "x", "answer": "1"}\n{not json\n', r"in\.jsonl:2: invalid JSON"),
    ('{"response": "x"}\n', r"in\.jsonl:1: missing field 'answer'"),
    ('[1, 2]\n', r"in\.jsonl:1: expected a JSON object"),
])
def test_verify_cli_bad_input_names_file_and_line(tmp_path, content, msg):
    inp = tmp_path / "in.jsonl"
    inp.write_text(content)
    with pytest.raises(SystemExit, match=msg):
        rlvr_main(["verify", "--input", str(inp), "--output", str(tmp_path / "o.jsonl")])


def test_verify_cli_missing_file(tmp_path):
    with pytest.raises(SystemExit, match="nope.jsonl: no such file"):
        rlvr_main(["verify", "--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o.jsonl")])
