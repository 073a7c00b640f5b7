"""Clip_B / Clip_V (arXiv 2602.03392, Trinity-RFT): entropy-discriminator masks on pre-update inputs (notes §10.5)."""
import pytest
import torch

from rlvr.algorithms import MASKS, Algorithm, step_normalizers, token_loss
from rlvr.algorithms.entropy_clip import expected_disc
from rlvr.algorithms.pipeline import as_inputs
from rlvr.learner.logprobs import chunked_logprobs

D = torch.float64
LOGITS = torch.tensor([[[3.0, 0.0, -1.0], [4.0, 0.5, 0.0], [3.0, 0.0, -1.0]],
                       [[2.0, 2.0, -1.0], [2.0, 2.0, -1.5], [3.0, 0.0, -1.0]]], dtype=D)
IDS = torch.tensor([[0, 0, 0], [2, 2, 0]])
LOGP = torch.log_softmax(LOGITS, -1)
OLD = LOGP.gather(-1, IDS[..., None])[..., 0]  # [[-.065884, -.047373, -.065884], [-3.717736, -4.208133, -.065884]]
H = -(LOGP.exp() * LOGP).sum(-1)  # [[.274313, .218047, .274313], [.790603, .760192, .274313]]
ADV = torch.tensor([0.7, -0.7], dtype=D)
MASK = torch.ones(2, 3, dtype=D)


E_S = expected_disc(LOGITS.reshape(6, 3), IDS.reshape(6)).view(2, 3)


def _keep(mask_name, adv=ADV, sampler=None, **settings):
    """The mask's kept tokens and the on-policy PPO loss with it (per-token value -A, the kept tokens' mean)."""
    lp = OLD.clone().requires_grad_(True)
    loss, _ = token_loss(lp, None, adv, MASK, masks=[mask_name], **{mask_name: settings}, old_entropy=H,
                         sampler_logprobs=sampler, inputs={"old_expected_disc": E_S})
    comp = MASKS.get(mask_name)
    inp = as_inputs(None, OLD, adv, MASK, {"old_entropy": H, "sampler_logprobs": sampler,
                                           "old_expected_disc": E_S})
    return comp(MASK.bool(), inp, comp.settings(**settings)).to(D), loss.item()


def test_expected_disc_stat_and_its_chunked_path():
    e = expected_disc(LOGITS.reshape(6, 3), IDS.reshape(6)).view(2, 3)
    p = LOGP.exp()
    direct = (p * p * (H[..., None] + LOGP)).sum(-1)  # E_{k~pi}[S_k] = sum_k p_k * p_k (H + log p_k)
    torch.testing.assert_close(e, direct)
    torch.testing.assert_close(e, torch.tensor([[0.175517, 0.151315, 0.175517], [0.032958, 0.024498, 0.175517]],
                                               dtype=D), atol=1e-6, rtol=0)
    g = torch.Generator().manual_seed(1)
    hidden, weight = torch.randn(5, 4, generator=g), torch.randn(9, 4, generator=g)
    t = torch.randint(0, 9, (5,), generator=g)
    _, _, (got,) = chunked_logprobs(hidden, weight, t, temperature=1.3, chunk=2, stats=((expected_disc, None, False),))
    torch.testing.assert_close(got, expected_disc((hidden @ weight.t()) / 1.3, t))


def test_clip_b_worked_example():
    # S = p (H + lp) = [[.195140, .162777, .195140], [-.071097, -.051285, .195140]]; population mean .104302,
    # std .117718. mu = 1: A < 0 tokens with S - mean < -.117718: (1,0) -.175399, (1,1) -.155587 -> dropped
    keep, loss = _keep("clip_b", mu=1.0)
    torch.testing.assert_close(keep, torch.tensor([[1, 1, 1], [0, 0, 1]], dtype=D))
    # they leave the denominator (Trinity rewrites response_mask): loss = (-.7 * 3 + .7) / 4 = -.35
    assert loss == pytest.approx(-0.35)
    # mu = 2.5 (the default) cannot drop anything from 6 tokens: max |z| <= sqrt(n - 1) = 2.24
    keep, _ = _keep("clip_b", mu=2.5)
    assert keep.all()


def test_clip_b_keeps_zero_advantage_tokens_and_can_read_the_sampler():
    keep, _ = _keep("clip_b", adv=torch.tensor([0.7, 0.0], dtype=D), mu=1.0)
    assert keep.all()  # A = 0 tokens are never tested
    # the code's choice, the engine's log-probs: the engine saw (1,0) / (1,1) as likely (lp -.1), so their S is
    # high, not an outlier below the mean; with the trainer's old log-probs they are dropped
    sampler = OLD.clone()
    sampler[1, :2] = -0.1
    keep, _ = _keep("clip_b", sampler=sampler, mu=1.0, logprobs="sampler")
    assert keep.all()


def test_clip_v_worked_example():
    # D = E[S] - S = [[-.019622, -.011461, -.019622], [.104055, .075783, -.019622]]; sigma_D = .0514106.
    # mu = 1: violators (A <= 0, D > .0514106): (1,0), (1,1). 2 / 6 > max_frac and 2 > cap = max(int(6e-4), 1) = 1
    # -> only the largest D, (1,0), is dropped
    keep, _ = _keep("clip_v", mu=1.0, max_frac=1e-4)
    torch.testing.assert_close(keep, torch.tensor([[1, 1, 1], [0, 1, 1]], dtype=D))
    # max_frac .5: 2 / 6 <= .5 -> every violator is dropped
    keep, loss = _keep("clip_v", mu=1.0, max_frac=0.5)
    torch.testing.assert_close(keep, torch.tensor([[1, 1, 1], [0, 0, 1]], dtype=D))
    assert loss == pytest.approx(-0.35)


def test_clip_v_tests_zero_advantage_tokens():
    # A = 0 on row 1: its violators are dropped (no negative-advantage cap applies to them), unlike Clip_B
    keep, _ = _keep("clip_v", adv=torch.tensor([0.7, 0.0], dtype=D), mu=1.0, max_frac=1e-4)
    torch.testing.assert_close(keep, torch.tensor([[1, 1, 1], [0, 0, 1]], dtype=D))


def test_denominators_are_counted_before_the_update():
    # step_normalizers runs the masks on the same pre-update inputs token_loss sees
    for name, settings, kept in (("clip_b", {"mu": 1.0}, 4.0), ("clip_v", {"mu": 1.0}, 5.0)):
        norm = step_normalizers(MASK, old_logprobs=OLD, advantages=ADV, old_entropy=H, masks=[name],
                                **{name: settings}, inputs={"old_expected_disc": E_S})
        assert norm == {"num_tokens": kept, "num_seqs": 2.0, "num_reg_tokens": 6.0}  # gates only the PG term
    algo = Algorithm({"masks": ["clip_v"]})
    assert algo.needs_old_pass() and set(algo.logit_stats("old")) == {"old_expected_disc"}
    assert not algo.logit_stats("current")


def test_counting_without_the_pre_update_inputs_is_an_error():
    # token_loss falls back to the current log-probs when old ones are missing; counting cannot, so it must say so
    with pytest.raises(ValueError, match="old_logprobs"):
        step_normalizers(MASK, advantages=ADV, old_entropy=H, masks=["clip_b"])
    with pytest.raises(ValueError, match="advantages"):
        step_normalizers(MASK, old_logprobs=OLD, old_entropy=H, masks=["clip_v"], inputs={"old_expected_disc": E_S})
