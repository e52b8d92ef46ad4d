"""NDS ground truth from generated sweep files in the official schema: columns, duplicates, seeds, errors,
the evaluation population (archs with ground truth) and `data check`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from supernet_bench import fetch
from supernet_bench.archsample import select_archs
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import GroundTruth
from supernet_bench.spaces import get_space
from supernet_bench.spaces.nds.ground_truth import load_nds_ground_truth

from tests.spaces.nds_helpers import make_record, make_sweep, nds_data_dir, write_sweep


@pytest.fixture(params=["nds-resnet", "nds-resnexta"])
def space(request):
    return get_space(request.param)


def test_columns_from_the_data_folder(space, tmp_path):
    archs, records = make_sweep(space, 30, duplicates=0)
    write_sweep(tmp_path / "nds" / space.design.file, records)
    gt = space.ground_truth("test_acc", tmp_path)
    assert len(gt) == 30 and gt.space == space.label and gt.higher_is_better
    for a, rec in zip(archs, records):
        assert gt.value(space.encode(a)) == pytest.approx(100 - rec["min_test_top1"])
    final = space.ground_truth("final_test_acc", tmp_path)
    assert final.value(space.encode(archs[0])) == pytest.approx(100 - records[0]["test_ep_top1"][-1])
    prov = gt.provenance()
    assert prov["source"] == str(tmp_path / "nds" / space.design.file) and len(prov["source_sha256"]) == 64
    assert prov["definition"].startswith("100 - min_test_top1") and prov["notes"]["params_mismatched"] == 0
    assert prov["notes"]["records"] == 30 and prov["notes"]["params_checked"] == 30


def test_unzipped_folder_one_level_down_and_explicit_sources(tmp_path):
    sp = get_space("nds-resnexta")
    nds_data_dir(tmp_path, "nds-resnexta", n=10, sub="data")  # <data>/nds/data/ResNeXt-A.json
    via_dir = sp.ground_truth("test_acc", tmp_path)
    path = tmp_path / "nds" / "data" / "ResNeXt-A.json"
    via_file = load_nds_ground_truth(sp, "test_acc", None, source=path)
    via_folder = load_nds_ground_truth(sp, "test_acc", None, source=tmp_path / "nds")
    assert via_dir.values == via_file.values == via_folder.values and len(via_dir) == 10
    other = tmp_path / "nds" / "copy"
    other.mkdir()
    (other / "ResNeXt-A.json").write_bytes(path.read_bytes())
    with pytest.raises(DataError, match="several copies of NDS file ResNeXt-A.json"):
        sp.ground_truth("test_acc", tmp_path)


def test_missing_file_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError, match=r"NDS file ResNet.json not found in .*nds.*data.zip"):
        get_space("nds-resnet").ground_truth("test_acc", tmp_path)
    with pytest.raises(UnknownNameError, match="Unknown nds-resnexta ground-truth column 'test_acc_3seed'"):
        get_space("nds-resnexta").ground_truth("test_acc_3seed", tmp_path)


def test_duplicates_are_averaged_with_a_note(tmp_path):
    sp = get_space("nds-resnet")
    archs, records = make_sweep(sp, 8, duplicates=3)
    write_sweep(tmp_path / "nds" / "ResNet.json", records)
    gt = sp.ground_truth("test_acc", tmp_path)
    assert len(gt) == 8
    for i in range(3):
        assert gt.value(sp.encode(archs[i])) == pytest.approx(
            100 - (records[i]["min_test_top1"] + records[8 + i]["min_test_top1"]) / 2
        )
    assert gt.provenance()["notes"]["archs_with_duplicate_records_averaged"] == 3


def test_three_seed_column(tmp_path):
    sp = get_space("nds-resnet")
    archs, _ = make_sweep(sp, 6)
    rng = np.random.default_rng(5)
    per_seed = []
    for k, name in enumerate(sp.design.seed_files):
        keep = archs if k < 2 else archs[:5]  # the last arch is missing from rng3
        recs = [make_record(sp, a, rng, rng_seed=k + 1) for a in keep]
        write_sweep(tmp_path / "nds" / name, recs)
        per_seed.append({sp.encode(a): 100 - r["min_test_top1"] for a, r in zip(keep, recs)})
    gt = sp.ground_truth("test_acc_3seed", tmp_path)
    assert len(gt) == 5 and gt.provenance()["notes"]["archs_not_in_all_seed_files_dropped"] == 1
    key = sp.encode(archs[0])
    assert gt.value(key) == pytest.approx(np.mean([s[key] for s in per_seed]))
    with pytest.raises(DataError, match="give their folder, not one file"):
        sp.ground_truth("test_acc_3seed", None, source=tmp_path / "nds" / "ResNet_rng1.json")


def test_record_params_mismatch_is_counted_and_warned(tmp_path):
    sp = get_space("nds-resnet")
    archs, records = make_sweep(sp, 4)
    records[2]["params"] += 7
    write_sweep(tmp_path / "nds" / "ResNet.json", records)
    with pytest.warns(UserWarning, match="1 of 4 records' params differ"):
        gt = sp.ground_truth("test_acc", tmp_path)
    assert gt.provenance()["notes"]["params_mismatched"] == 1


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda r: r.pop("min_test_top1"), "record 3: record lacks field.s. min_test_top1"),
        (lambda r: r.update(min_test_top1="7.5"), "record 3: min_test_top1 must be a finite number"),
        (lambda r: r.update(min_test_top1=130.0), r"record 3: min_test_top1 must be in \[0, 100\]"),
        (lambda r: r["net"].update(ws=[16, 16, 17, 16]), "record 3: bad net: NDS ResNet ws 17 is not in the design"),
        (lambda r: r["net"].update(block_type="res_bottleneck_block"), "record 3: bad net: net is a 'res_bottleneck"),
        (lambda r: r.update(test_ep_top1=[]), "record 3: test_ep_top1 must be a non-empty list"),
        (lambda r: r.update(params=None, net="ResNet-20"), "record 3: bad net: net must be a dict, got str"),
    ],
)
def test_a_malformed_record_is_one_clear_error(tmp_path, mutate, pattern):
    sp = get_space("nds-resnet")
    _, records = make_sweep(sp, 5)
    mutate(records[3])
    path = write_sweep(tmp_path / "nds" / "ResNet.json", records)
    with pytest.raises(DataError, match=f"NDS file {path}, {pattern}"):
        sp.ground_truth("test_acc", tmp_path)


def test_not_a_list_and_not_json(tmp_path):
    sp = get_space("nds-resnet")
    path = tmp_path / "nds" / "ResNet.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"net": {}}))
    with pytest.raises(DataError, match="must hold a non-empty JSON list of records"):
        sp.ground_truth("test_acc", tmp_path)
    path.write_text("[{")
    with pytest.raises(DataError, match="cannot read NDS file"):
        sp.ground_truth("final_test_acc", tmp_path)


def test_parquet_round_trip_keeps_values(tmp_path):
    sp = get_space("nds-resnexta")
    gt = sp.ground_truth("test_acc", nds_data_dir(tmp_path, "nds-resnexta", n=6))
    gt.to_parquet(tmp_path / "gt.parquet")
    back = GroundTruth.from_parquet(tmp_path / "gt.parquet")
    assert back.values == gt.values and back.space == "nds-resnexta" and back.column == "test_acc"


# --- the evaluation population ----------------------------------------------------------------------------------
def test_random_and_all_draw_from_the_archs_with_ground_truth(space, tmp_path):
    archs, records = make_sweep(space, 40, seed=3)
    write_sweep(tmp_path / "nds" / space.design.file, records)
    fresh = get_space(space.label)  # no ground truth read yet: population from the data folder's file
    picked = select_archs(fresh, "random:10", 0, tmp_path)
    assert len(set(picked)) == 10 and set(picked) <= set(archs)
    assert picked == select_archs(get_space(space.label), "random:10", 0, tmp_path)  # seeded
    assert picked != select_archs(get_space(space.label), "random:10", 1, tmp_path)
    assert sorted(select_archs(fresh, "all", 0, tmp_path)) == sorted(archs)
    with pytest.raises(BenchError, match="asks for 100 architectures but space .* has 40 to draw from"):
        select_archs(fresh, "random:100", 0, tmp_path)  # more than the population: refused, not silently all


def test_population_follows_the_ground_truth_read(tmp_path):
    sp = get_space("nds-resnet")
    archs, records = make_sweep(sp, 12)
    source = write_sweep(tmp_path / "elsewhere" / "ResNet.json", records[:7])  # eval.gt_source
    sp.ground_truth("test_acc", tmp_path, source=source)
    assert sorted(select_archs(sp, "all", 0, tmp_path)) == sorted(archs[:7])  # no file in the data folder needed


def test_subset_population_is_filtered(tmp_path):
    full = get_space("nds-resnexta")
    archs, records = make_sweep(full, 200, seed=4)
    write_sweep(tmp_path / "nds" / "ResNeXt-A.json", records)
    nogroups = get_space("nds-resnexta:no-groups")
    expected = sorted(a for a in archs if all(g == 0 for g in a[9:]))
    assert len(expected) >= 2  # a sample must hold 2+ architectures to rank
    assert select_archs(nogroups, "all", 0, tmp_path) == expected
    grouped = [r for a, r in zip(archs, records) if a[9] != 0]
    write_sweep(tmp_path / "nds" / "ResNeXt-A.json", grouped)
    with pytest.raises(BenchError, match="no architecture of space nds-resnexta:no-groups has ground truth"):
        select_archs(get_space("nds-resnexta:no-groups"), "random:4", 0, tmp_path)


# --- data check ----------------------------------------------------------------------------------------------
def test_data_check_reports_nds_files(tmp_path):
    nds_data_dir(tmp_path, "nds-resnet", n=5, sub="data")
    nds_data_dir(tmp_path, "nds-resnexta", n=5, sub="data")
    (tmp_path / "nds" / "data" / "DARTS.json").write_text("[]")
    rec = {r["name"]: r for r in fetch.check(tmp_path)}["nds"]
    assert rec["status"] == "present"
    assert set(rec["files"]) == {f"nds/data/{n}.json" for n in ("ResNet", "ResNeXt-A", "DARTS")}
    assert all(len(sha) == 64 for sha in rec["files"].values())
    assert rec["version"] == (
        "3 JSON file(s); nds-resnet: ResNet.json; nds-resnexta: ResNeXt-A.json; other design spaces: DARTS"
    )
