"""harness/reproducibility.py: which recorded versions a rerun must match."""

from __future__ import annotations

from supernet_bench.reproducibility import version_drift


def test_version_drift_names_what_differs():
    recorded = {"git_sha": "aaa", "torch": "2.13.0+cpu", "numpy": "2.4.6", "python": "3.11.7"}
    assert version_drift(recorded, dict(recorded)) == []
    assert version_drift(recorded, dict(recorded, git_sha="bbb", python="3.12.0")) == ["git_sha: aaa -> bbb"]
    assert version_drift(recorded, dict(recorded, torch="2.14.0")) == ["torch: 2.13.0+cpu -> 2.14.0"]
    assert version_drift(dict(recorded, git_sha="unknown"), dict(recorded, git_sha="bbb")) == []
    assert version_drift({}, recorded) == []
    # same code on another vector ISA: other oneDNN kernels, other rounding
    assert version_drift(dict(recorded, cpu_capability="AVX512"), dict(recorded, cpu_capability="AVX2")) == [
        "cpu_capability: AVX512 -> AVX2"
    ]
