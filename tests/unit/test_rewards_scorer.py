"""RewardScorer: weighted parts, DAPO overlong shaping, acc kept apart, user verifiers from a file, gold checks.
One scorer (one pool) for the module."""
from __future__ import annotations

import pytest

from rlvr.config import RewardConfig, load_config
from rlvr.rewards import RewardScorer, check_golds
from rlvr.types import Group, Prompt, Rollout

USER = '''
import time
from rlvr.rewards import register_verifier

@register_verifier("t_polite")
def polite(response, answer, **meta):
    if "hang" in response:
        time.sleep(1e9)
    return 1.0 if "please" in response else 0.0
'''
MAX_LEN, BUF = 10, 4  # L_exp = 10 - 4 = 6


def _group(answer: str, responses: list[tuple[str, int]], pid: str = "p") -> Group:
    rollouts = [Rollout(list(range(n)), text, [0.0] * n, "length" if n >= MAX_LEN else "stop") for text, n in responses]
    return Group(Prompt(id=pid, text="q", answer=answer), rollouts)


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "my_verifiers.py"
    path.write_text(USER)
    cfg = RewardConfig(modules=[str(path)], timeout_s=1.0, workers=2, overlong_buffer=BUF, overlong_penalty=1.0)
    with RewardScorer({"math": 1.0, "format": 0.1, "t_polite": 0.5}, cfg, max_response_len=MAX_LEN) as s:
        yield s


def test_score_groups_hand_computed(scorer):
    g1 = _group("5", [("<think>a</think> \\boxed{5}", 5),            # math 1, format 1, polite 0, len 5 -> 0
                      ("\\boxed{4}", 8),                              # all 0; len 8 -> (6-8)/4 = -0.5
                      ("<think>x</think> \\boxed{5} please", 10)])    # 1, 1, 1; len 10 -> (6-10)/4 = -1.0
    g2 = _group("\\frac12", [("hang \\boxed{0.5}", 3)], pid="q2")    # math 1, format 0, polite TIMEOUT -> 0
    m = scorer.score_groups([g1, g2])
    # rewards = 1*math + 0.1*format + 0.5*polite + overlong
    assert g1.rewards == pytest.approx([1.1, -0.5, 1.0 + 0.1 + 0.5 - 1.0])
    assert g2.rewards == pytest.approx([1.0])
    assert g1.acc == [1.0, 0.0, 1.0] and g2.acc == [1.0]  # acc = math correctness, unshaped
    assert g1.reward_parts == {"math": [1.0, 0.0, 1.0], "format": [1.0, 0.0, 1.0], "t_polite": [0.0, 0.0, 1.0],
                               "overlong": [0.0, -0.5, -1.0]}
    assert g1.extracted == ["5", "4", "5"] and g2.extracted == ["0.5"]
    assert m == pytest.approx({
        "reward/math": 3 / 4, "reward/format": 2 / 4, "reward/t_polite": 1 / 4,
        "reward/total": (1.1 - 0.5 + 0.6 + 1.0) / 4,  # 0.55
        "reward/acc": 3 / 4, "reward/timeouts": 1.0, "reward/errors": 0.0,
        "reward/overlong_frac": 2 / 4, "reward/overlong": (-0.5 - 1.0) / 4,
    })


def test_math_failure_scores_like_a_wrong_answer(scorer):
    scorer.cfg.incorrect_reward = -1.0  # DAPO +1/-1: a hang must not beat a wrong answer (0 > -1)
    try:
        g = _group("1", [("\\boxed{10^{10^{10^{10}}}}", 1), ("\\boxed{2}", 1)])
        m = scorer.score_groups([g])
    finally:
        scorer.cfg.incorrect_reward = 0.0
    assert g.reward_parts["math"] == [-1.0, -1.0] and g.acc == [0.0, 0.0]
    assert m["reward/timeouts"] + m["reward/errors"] == 1.0


def test_check_golds_names_bad_rows(scorer, tmp_path):
    # rows as the data loader reads them: each carries `_source` = "file:line" (regression: the scorer used to
    # look for a key the loader never writes, so errors named only the id)
    from rlvr.data import load_rows

    (tmp_path / "train.jsonl").write_text('{"id": "a", "problem": "q", "answer": "5"}\n'
                                          '{"id": "b", "problem": "q", "answer": "  "}\n')
    rows = load_rows(str(tmp_path / "train.jsonl"))
    prompts = [Prompt(id=r["id"], text="q", answer=r["answer"], meta=r) for r in rows]
    prompts.append(Prompt(id="c", text="q", answer="\\frac{1}{2}"))
    with pytest.raises(ValueError, match=r"(?s)1 gold answer.*train\.jsonl:2 \(id b\): answer '  ': empty answer"):
        scorer.check_golds(prompts)
    scorer.check_golds([prompts[0], prompts[2]])  # good golds pass silently
    assert check_golds(["7", ""], ["f:1", "f:2"], pool=scorer.pool) == ["f:2: answer '': empty answer"]


def test_acc_without_math_and_inline_only_scorer_starts_no_pool():
    with RewardScorer({"format": 1.0}, RewardConfig(), max_response_len=100) as s:
        assert s.pool is None
        g = _group("5", [("<think>r</think> \\boxed{1}", 3), ("\\boxed{1}", 3)])
        m = s.score_groups([g])
    assert g.rewards == [1.0, 0.0] and g.acc == [1.0, 0.0] and m["reward/format"] == 0.5


def test_unknown_verifier_lists_known_names():
    with pytest.raises(KeyError, match="Known:.*math"):
        RewardScorer({"maths": 1.0}, RewardConfig())


def test_recipe_config_reaches_scorer_fields():
    cfg = load_config(overrides=["rewards={math: 1.0, format: 0.1}", "reward.overlong_buffer=4",
                                 "reward.worker_memory_mb=1024"])
    assert cfg.rewards == {"math": 1.0, "format": 0.1} and cfg.reward.overlong_buffer == 4
