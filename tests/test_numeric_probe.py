"""The probe CI uses to show that its second test run takes another numeric code path."""

import os
import subprocess
import sys

from scripts.numeric_probe import digest, enabled_dispatch_features
from tests.conftest import ROOT


def test_digest_is_deterministic_within_a_process():
    assert digest() == digest() and len(digest()) == 16


def test_switching_off_the_dispatched_kernels_changes_the_digest_where_there_are_any():
    features = enabled_dispatch_features()
    # in CI's second run the kernels are already off here: the child keeps them off
    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES") or " ".join(features)
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled}
    code = "from scripts.numeric_probe import digest, enabled_dispatch_features as f; print(digest(), len(f()))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    other, remaining = out.stdout.split()
    assert remaining == "0"  # every dispatched kernel is off in the child
    if any(name.startswith(("X86_V4", "AVX512")) for name in features):
        assert other != digest()  # on AVX-512 machines exp/power/arcsin change in the last bit
