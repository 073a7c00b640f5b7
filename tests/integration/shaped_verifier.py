"""A dense test-only verifier: random tiny models are never right, so exact-resume tests need rewards that vary."""
from rlvr.rewards import register_verifier


@register_verifier("digit_frac")
def digit_frac(response: str, answer: str, **meta) -> float:
    """Fraction of characters that are digits (varies across samples, so advantages and updates are non-zero)."""
    return sum(c.isdigit() for c in response) / max(1, len(response))
