"""The trainer's own small parts: DAPO group buffer and the resumable prompt sampler."""
from rlvr.algorithms import Algorithm
from rlvr.algorithms.filters import DynamicSamplingSettings, GroupBuffer, dynamic_sampling
from rlvr.data.sampler import PromptSampler
from rlvr.types import Group, Prompt


def _group(i: int, acc: list[float]) -> Group:
    return Group(prompt=Prompt(id=str(i), text="q", answer="1"), rollouts=[], rewards=list(acc), acc=list(acc))


def informative(group, metric="acc"):
    return dynamic_sampling(group, DynamicSamplingSettings(metric=metric))


DAPO = Algorithm({"filters": ["dynamic_sampling"]}).keep_group


def test_informative_groups_are_those_whose_correctness_varies():
    assert informative(_group(0, [1, 0, 1]))
    assert not informative(_group(0, [1, 1, 1]))
    assert not informative(_group(0, [0, 0]))
    assert informative(_group(0, [1]))  # a single sample has nothing to compare: kept (as verl)
    # DAPO filters on correctness, not the shaped reward: an all-correct group whose overlong penalty varies
    g = Group(prompt=Prompt(id="0", text="q", answer="1"), rollouts=[], rewards=[1.0, 0.7], acc=[1.0, 1.0])
    assert not informative(g) and informative(g, metric="reward") and not DAPO(g)


def test_group_buffer_keeps_informative_then_truncates():
    buf = GroupBuffer(target=2, keep=DAPO)
    buf.add([_group(0, [1, 1]), _group(1, [0, 1])])
    assert not buf.full and buf.gen_batches == 1
    buf.add([_group(2, [0, 0]), _group(3, [1, 0]), _group(4, [0, 1])])
    assert buf.full
    assert [g.prompt.id for g in buf.take()] == ["1", "3"]  # first two kept, the third is truncated away
    m = buf.metrics()
    assert m["rollout/groups_kept"] == 2 and m["rollout/groups_dropped"] == 2 and m["rollout/gen_batches"] == 2


def test_group_buffer_tops_up_with_dropped_groups_when_sampling_gives_up():
    buf = GroupBuffer(target=3, keep=DAPO)
    buf.add([_group(0, [1, 1]), _group(1, [0, 1]), _group(2, [0, 0])])
    assert [g.prompt.id for g in buf.take()] == ["1", "0", "2"]
    assert buf.metrics()["rollout/groups_topped_up"] == 2


def test_group_buffer_without_dynamic_sampling_keeps_everything():
    buf = GroupBuffer(target=2, keep=Algorithm({}).keep_group)  # no filters
    buf.add([_group(0, [1, 1]), _group(1, [0, 0])])
    assert buf.full and [g.prompt.id for g in buf.take()] == ["0", "1"]


def _prompts(n):
    return [Prompt(id=str(i), text=f"q{i}", answer=str(i)) for i in range(n)]


def test_sampler_shards_are_disjoint_and_cover_the_data():
    a = PromptSampler(_prompts(10), seed=1, rank=0, world_size=2)
    b = PromptSampler(_prompts(10), seed=1, rank=1, world_size=2)
    ids_a = {p.id for p in a.next(5)}
    ids_b = {p.id for p in b.next(5)}
    assert not ids_a & ids_b and len(ids_a | ids_b) == 10


def test_sampler_resumes_exactly_across_epochs():
    ref = PromptSampler(_prompts(7), seed=3)
    stream = [p.id for p in ref.next(20)]
    first = PromptSampler(_prompts(7), seed=3)
    head = [p.id for p in first.next(9)]
    resumed = PromptSampler(_prompts(7), seed=3)
    resumed.load_state_dict(first.state_dict())
    assert head + [p.id for p in resumed.next(11)] == stream
    assert sorted(stream[:7]) == sorted(str(i) for i in range(7))  # one epoch = a permutation
