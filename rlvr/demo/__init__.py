"""The CPU demo: a synthetic verifiable arithmetic task (task.py) and a locally built base policy (policy.py)
whose held-out accuracy RLVR raises measurably in minutes on 2 CPU cores. Imports stay light (no torch here)."""
