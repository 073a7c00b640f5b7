"""A user's clone has no ../shared: nothing the project ships may read it (the data it needs is bundled)."""
from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_nothing_shipped_reads_the_development_folder_beside_the_checkout():
    files = subprocess.run(["git", "ls-files", "rlvr", "recipes", "scripts", "tests", "README.md"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in files:
        path = REPO / name
        if path.suffix not in (".py", ".yaml", ".sh", ".md", ".toml", "") or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        if "../shared" in text or "shared/data" in text or "RLVR_SHARED_DATA" in text:
            offenders.append(name)
    checks = ("tests/unit/test_self_contained.py", "tests/integration/test_clone.py")  # they test the property
    offenders = [o for o in offenders if o not in checks]
    assert not offenders, f"these read ../shared, which a user's clone does not have: {offenders}"
