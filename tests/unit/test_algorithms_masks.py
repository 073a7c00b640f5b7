"""Token masks, TIS, KL estimators, entropy bonus and aggregation modes (hand-computed)."""
import math

import pytest
import torch

from rlvr.algorithms import AGGREGATIONS, KL_ESTIMATORS, step_normalizers, token_loss
from rlvr.algorithms.aggregation import ConstantSettings


def close(a, b, tol=1e-5):
    torch.testing.assert_close(torch.as_tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32),
                               atol=tol, rtol=0)


# two rows, 5 valid tokens; reinforce with lp = -1 gives per-token loss -A*lp = A
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
ENT = torch.tensor([[0.1, 0.9, 0.5], [0.8, 0.2, 5.0]])  # 5.0 sits on padding and must be ignored
ADV = torch.tensor([1.0, 2.0])


def _forking(**kw):
    lp = torch.full((2, 3), -1.0, requires_grad=True)
    loss, m = token_loss(lp, lp.detach(), ADV, MASK, entropy=ENT, loss="reinforce", masks=["forking"],
                         forking={"top_frac": 0.4, **kw})
    loss.backward()
    return loss, m, lp.grad


def test_forking_mask_paper_denominator():
    # k = ceil(0.4 * 5) = 2 -> top entropies among valid tokens: (0,1) 0.9 and (1,0) 0.8
    # kept losses 1 + 2 = 3; denominator = all 5 valid tokens -> 0.6; grads -A/5 on kept tokens only
    loss, m, grad = _forking()
    close(loss, 0.6)
    close(grad, [[0.0, -0.2, 0.0], [-0.4, 0.0, 0.0]])
    close(m["policy/masked_frac_forking"], 0.6)  # 3 of 5 valid tokens removed


def test_forking_mask_renorm_divides_by_kept_tokens():
    loss, _, grad = _forking(renorm=True)  # 3 / 2 = 1.5; grads -A/2
    close(loss, 1.5)
    close(grad, [[0.0, -0.5, 0.0], [-1.0, 0.0, 0.0]])


def test_forking_needs_entropy():
    lp = torch.zeros(1, 2, requires_grad=True)
    with pytest.raises(ValueError, match="entropy"):
        token_loss(lp, lp.detach(), torch.ones(1), torch.ones(1, 2), masks=["forking"])


def test_mask_truncated_removes_rows_from_loss_and_denominators():
    lp = torch.full((2, 3), -1.0, requires_grad=True)
    trunc = torch.tensor([False, True])
    loss, m = token_loss(lp, lp.detach(), ADV, MASK, loss="reinforce", masks=["truncated"], truncated=trunc)
    loss.backward()
    # only row 0: 3 tokens of loss 1 -> 3 / 3 = 1; row 1 (2 of 5 tokens) gets no gradient
    close(loss, 1.0)
    close(lp.grad, [[-1 / 3, -1 / 3, -1 / 3], [0.0, 0.0, 0.0]])
    close(m["policy/masked_frac_truncated"], 0.4)
    # seq_mean_token_sum: N counts only row 0 -> 3 / 1
    loss2, _ = token_loss(lp, lp.detach(), ADV, MASK, loss="reinforce", masks=["truncated"], truncated=trunc,
                          aggregation="seq_mean_token_sum")
    close(loss2, 3.0)
    assert step_normalizers(MASK, truncated=trunc, masks=["truncated"]) == \
        {"num_tokens": 3.0, "num_seqs": 1.0, "num_reg_tokens": 3.0}


def test_tis_token_weights_and_sampler_gap():
    lp = torch.full((1, 2), -1.0, requires_grad=True)
    sampler = torch.tensor([[-1.0 - math.log(3.0), -1.0 - math.log(0.5)]])  # old - sampler = [log 3, log .5]
    loss, m = token_loss(lp, lp.detach(), torch.ones(1), torch.ones(1, 2), loss="reinforce",
                         sampler_logprobs=sampler, weights=["tis"], tis={"cap": 2.0})
    loss.backward()
    # w = min([3, 0.5], 2) = [2, 0.5]; per-token loss 1 -> (2 + 0.5)/2 = 1.25; grads -w/2
    close(loss, 1.25)
    close(lp.grad, [[-1.0, -0.25]])
    close(m["policy/sampler_logprob_gap"], (math.log(3.0) + math.log(2.0)) / 2)  # 0.895880


def test_tis_seq_mask_rejects_rows_outside_cap():
    lp = torch.full((2, 2), -1.0, requires_grad=True)
    # row 0: sum(old - sampler) = log 3 -> ratio 3 > 2 rejected; row 1: log 1.5 -> kept
    sampler = torch.tensor([[-1.0 - math.log(3.0), -1.0], [-1.0 - math.log(1.5), -1.0]])
    loss, m = token_loss(lp, lp.detach(), torch.tensor([1.0, 3.0]), torch.ones(2, 2), loss="reinforce",
                         sampler_logprobs=sampler, masks=["tis_seq"], tis_seq={"cap": 2.0})
    loss.backward()
    close(loss, 3.0)  # row 1: (3 + 3)/2
    close(lp.grad, [[0.0, 0.0], [-1.5, -1.5]])
    close(m["policy/masked_frac_tis_seq"], 0.5)


def test_kl_estimators_values():
    lp, ref = torch.zeros(1), torch.tensor([math.log(0.5)])
    # d = ref - lp = -0.693147: k1 = 0.693147, k2 = 0.5 * 0.480453 = 0.240227, k3 = 0.5 + 0.693147 - 1 = 0.193147
    close(KL_ESTIMATORS.get("k1")(lp, ref), [0.693147])
    close(KL_ESTIMATORS.get("k2")(lp, ref), [0.240227])
    close(KL_ESTIMATORS.get("k3")(lp, ref), [0.193147])
    close(KL_ESTIMATORS.get("k3")(torch.zeros(1), torch.tensor([30.0])), [10.0])  # clamped as verl


def test_kl_and_entropy_terms_in_token_loss():
    lp = torch.zeros(1, 2, requires_grad=True)
    ref = torch.full((1, 2), math.log(0.5))
    ent = torch.tensor([[0.4, 0.8]], requires_grad=True)
    loss, m = token_loss(lp, lp.detach(), torch.zeros(1), torch.ones(1, 2), ref_logprobs=ref, entropy=ent,
                         regularizers=["kl", "entropy_bonus"], kl={"coef": 0.1}, entropy_bonus={"coef": 0.5})
    loss.backward()
    # A = 0 -> pg 0; kl: 0.1 * k3 0.193147 = 0.0193147; entropy: -0.5 * mean(0.4, 0.8) = -0.3
    close(m["loss/kl"], 0.0193147)
    close(m["loss/entropy_bonus"], -0.3)
    close(loss, 0.0193147 - 0.3)
    close(m["policy/entropy"], 0.6)
    # d k3 / d lp = 1 - exp(ref - lp) = 0.5 -> 0.1 * 0.5 / 2 = 0.025; d/dH = -0.5 / 2 = -0.25
    close(lp.grad, [[0.025, 0.025]])
    close(ent.grad, [[-0.25, -0.25]])


def test_regularizer_inputs_are_required():
    lp = torch.zeros(1, 2, requires_grad=True)
    with pytest.raises(ValueError, match="ref_logprobs"):
        token_loss(lp, lp.detach(), torch.ones(1), torch.ones(1, 2), regularizers=["kl"])
    with pytest.raises(ValueError, match="sampler_logprobs"):
        token_loss(lp, lp.detach(), torch.ones(1), torch.ones(1, 2), weights=["tis"])


def test_aggregation_modes():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    den = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    rows = torch.tensor([True, True])
    close(AGGREGATIONS.get("token_mean")(x, den, rows), 2.5)  # 10 / 4
    close(AGGREGATIONS.get("seq_mean_token_mean")(x, den, rows), 3.0)  # (6/3 + 4/1) / 2
    close(AGGREGATIONS.get("seq_mean_token_sum")(x, den, rows), 5.0)  # 10 / 2
    close(AGGREGATIONS.get("constant")(x, den, rows, s=ConstantSettings(max_response_len=5)), 1.0)  # 10 / (2 * 5)
    close(AGGREGATIONS.get("token_mean")(x, den, rows, num_tokens=8), 1.25)  # global normalizer: 10 / 8
    with pytest.raises(ValueError, match="max_response_len"):
        AGGREGATIONS.get("constant")(x, den, rows)
