"""harness/ground_truth.py: provenance recorded in manifests names no machine's paths."""

from __future__ import annotations

from pathlib import Path

from supernet_bench.core.ground_truth import GroundTruth, portable_path


def test_sources_inside_the_data_folder_are_recorded_relative_to_it(tmp_path: Path):
    data = tmp_path / "data"
    inside = data / "nas-bench-201" / "nb201.csv"
    assert portable_path(str(inside), data) == "nas-bench-201/nb201.csv"
    assert portable_path(str(inside), str(data) + "/") == "nas-bench-201/nb201.csv"
    outside = tmp_path / "elsewhere" / "gt.csv"  # an explicit --gt-source outside the data folder stays as given
    assert portable_path(str(outside), data) == str(outside)
    assert portable_path(str(inside), None) == str(inside)
    assert portable_path("", data) == ""


def test_provenance_with_a_data_folder(tmp_path: Path):
    gt = GroundTruth("nb201", "col", {"a": 1.0}, source=str(tmp_path / "nb" / "t.csv"), source_sha256="x")
    assert gt.provenance(tmp_path)["source"] == "nb/t.csv"
    assert gt.provenance()["source"] == str(tmp_path / "nb" / "t.csv")
