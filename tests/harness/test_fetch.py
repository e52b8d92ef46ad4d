"""`data fetch` / `data check` against a local HTTP server on 127.0.0.1 (started and stopped here)."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np
import pytest
from supernet_bench import fetch as F
from supernet_bench.cli import main
from supernet_bench.core.errors import DataError, UnknownNameError
from supernet_bench.datasets_catalog import CATALOG, Benchmark, Resource

FAKE_HOST = "https://data.example.org"  # never contacted: every test passes base_url=<local server>


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection; closing it ends the body

    def do_GET(self) -> None:
        srv = self.server
        rng = self.headers.get("Range")
        srv.requests.append((self.path, rng))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start, status = 0, 200
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and not srv.ignore_range:
            start = int(m.group(1))
            if start >= len(body):
                self.send_error(416)
                return
            status = 206
        data = body[start:]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        drop = srv.drop_after.get(self.path)
        if drop is not None and (srv.drop_always or len(srv.requests) == 1):
            self.wfile.write(data[:drop])  # then the connection closes: a dropped transfer
            self.wfile.flush()
            return
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.files, srv.requests, srv.drop_after = {}, [], {}
    srv.ignore_range = srv.drop_always = False
    srv.base_url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def _blob(n: int = 300_000, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _catalog(path: str, data: bytes, target: str = "blobs/blob.bin", post=(), **kw) -> dict[str, Benchmark]:
    res = Resource(url=f"{FAKE_HOST}{path}", target=target, sha256=hashlib.sha256(data).hexdigest(), post=post, **kw)
    return {"blob": Benchmark(name="blob", description="test", resources=(res,), expect=(("file", target),), probe="")}


def _fetch(name, data_dir, catalog, server, **kw):
    lines: list[str] = []
    kw = {"tries": 3, "backoff": 0.0, "timeout": 5.0, "progress": False, **kw}
    out = F.fetch(name, data_dir, base_url=server.base_url, catalog=catalog, log=lines.append, **kw)
    return out, lines


def test_good_download_verifies_and_lands_atomically(tmp_path, server):
    data = _blob()
    server.files["/pub/blob.bin"] = data
    cat = _catalog("/pub/blob.bin", data)
    out, _ = _fetch("blob", tmp_path, cat, server)
    dest = tmp_path / "blobs" / "blob.bin"
    assert dest.read_bytes() == data
    assert not (tmp_path / "blobs" / "blob.bin.part").exists()
    assert out[0]["status"] == "downloaded" and out[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert server.requests == [("/pub/blob.bin", None)]  # the mirror kept the path, replaced the host
    out, lines = _fetch("blob", tmp_path, cat, server)  # second fetch: verified, nothing downloaded
    assert out[0]["status"] == "present" and len(server.requests) == 1
    assert any("checksum verified" in line for line in lines)


def test_corrupted_download_is_refused_and_valid_files_untouched(tmp_path, server):
    good = _blob()
    bad = bytearray(good)
    bad[1234] ^= 0xFF
    server.files["/pub/blob.bin"] = bytes(bad)
    cat = _catalog("/pub/blob.bin", good)
    with pytest.raises(DataError) as err:
        _fetch("blob", tmp_path, cat, server)
    msg = str(err.value)
    assert "blob.bin" in msg and hashlib.sha256(good).hexdigest() in msg and hashlib.sha256(bad).hexdigest() in msg
    assert not (tmp_path / "blobs" / "blob.bin").exists()
    assert not (tmp_path / "blobs" / "blob.bin.part").exists()
    # a file already in place that fails its checksum is only replaced by a verified download
    stale = tmp_path / "blobs" / "blob.bin"
    stale.write_bytes(b"old")
    with pytest.raises(DataError, match="checksum mismatch"):
        _fetch("blob", tmp_path, cat, server)
    assert stale.read_bytes() == b"old"


def test_dropped_connection_is_resumed_with_range(tmp_path, server):
    data = _blob()
    server.files["/pub/blob.bin"] = data
    server.drop_after["/pub/blob.bin"] = 100_000
    out, lines = _fetch("blob", tmp_path, _catalog("/pub/blob.bin", data), server)
    assert (tmp_path / "blobs" / "blob.bin").read_bytes() == data
    assert server.requests == [("/pub/blob.bin", None), ("/pub/blob.bin", "bytes=100000-")]
    assert any("resuming" in line for line in lines)


def test_server_ignoring_range_restarts_cleanly(tmp_path, server):
    data = _blob()
    server.files["/pub/blob.bin"] = data
    server.drop_after["/pub/blob.bin"] = 70_000
    server.ignore_range = True
    part = tmp_path / "blobs" / "blob.bin.part"
    _fetch("blob", tmp_path, _catalog("/pub/blob.bin", data), server)
    assert (tmp_path / "blobs" / "blob.bin").read_bytes() == data and not part.exists()
    assert [r for _, r in server.requests] == [None, "bytes=70000-"]
    # a stale .part (wrong bytes) from another run: the 200 answer replaces it, not appended to
    (tmp_path / "blobs" / "blob.bin").unlink()
    part.write_bytes(b"garbage" * 10)
    _fetch("blob", tmp_path, _catalog("/pub/blob.bin", data), server)
    assert (tmp_path / "blobs" / "blob.bin").read_bytes() == data


def test_retries_are_bounded(tmp_path, server):
    data = _blob(50_000)
    server.files["/pub/blob.bin"] = data
    server.drop_after["/pub/blob.bin"] = 10
    server.drop_always = server.ignore_range = True
    with pytest.raises(DataError, match="failed after 3 tries"):
        _fetch("blob", tmp_path, _catalog("/pub/blob.bin", data), server)
    assert len(server.requests) == 3
    assert not (tmp_path / "blobs" / "blob.bin").exists()


def test_unknown_name_suggests(tmp_path, capsys):
    with pytest.raises(UnknownNameError, match="Did you mean: cifar10"):
        F.get_benchmark("cifar-10")
    assert main(["data", "fetch", "nb-201", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Unknown benchmark 'nb-201'") and "Did you mean: nb201" in err


def test_mirror_replaces_host_only():
    url = "https://ndownloader.figshare.com/files/24992018?private_link=x"
    assert F.apply_mirror(url, "http://127.0.0.1:8/m/") == "http://127.0.0.1:8/m/files/24992018?private_link=x"
    assert F.apply_mirror(url, None) == url


def test_path_traversal_is_refused(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tf:
        for name in ("ok/fine.txt", "../escaped.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tf.addfile(info, io.BytesIO(b"hi"))
    dest = tmp_path / "out"
    with pytest.raises(DataError, match=r"refusing to extract .*'\.\./escaped\.txt'"):
        F.safe_extract(evil, dest)
    assert not (tmp_path / "escaped.txt").exists() and not (dest / "ok").exists()  # nothing written
    link = tmp_path / "link.tar.gz"
    with tarfile.open(link, "w:gz") as tf:
        info = tarfile.TarInfo("x")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(DataError, match="link"):
        F.safe_extract(link, dest)
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("/abs.txt", "x")
    with pytest.raises(DataError, match="outside"):
        F.safe_extract(zpath, dest)


def _cifar_pickle(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    obj = {
        b"batch_label": b"fake",
        b"labels": rng.integers(0, 10, n).tolist(),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
    }
    return pickle.dumps(obj, protocol=2)


def _cifar_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
            payload = _cifar_pickle(4, i)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


MACRO = {"00000000": [90.0, 90.2, 90.1], "11111111": [92.0, 92.4, 92.2], "22222222": [93.1, 93.0, 93.2]}


def _macro_json() -> bytes:
    return json.dumps(
        {k: {"test_acc": v, "mean_acc": sum(v) / 3, "std": 0.1, "params": 1, "flops": 1} for k, v in MACRO.items()}
    ).encode()


def test_fetch_extracts_and_converts_then_check_reports(tmp_path, server, monkeypatch, capsys):
    tar, macro = _cifar_tar(), _macro_json()
    cifar_url = CATALOG["cifar10"].resources[0].url
    macro_url = CATALOG["macro"].resources[0].url
    server.files[urlsplit(cifar_url).path] = tar  # same paths as the catalog, on the local server
    server.files[urlsplit(macro_url).path] = macro
    cifar_res = Resource(
        url=cifar_url, target="cifar-10-python.tar.gz", md5=hashlib.md5(tar).hexdigest(), post=("extract:.",)
    )
    cat = dict(CATALOG)
    cat["cifar10"] = Benchmark(**{**CATALOG["cifar10"].__dict__, "resources": (cifar_res,)})
    monkeypatch.setattr(F, "CATALOG", cat)
    monkeypatch.setenv(F.MIRROR_ENV, server.base_url)
    for name in ("cifar10", "macro"):
        assert main(["data", "fetch", name, "--data-dir", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "cifar-10-batches-py" / "test_batch").is_file()
    parquet = tmp_path / "nas-bench-macro" / "nas-bench-macro_cifar10.mean_acc.parquet"
    from supernet_bench.core.ground_truth import GroundTruth

    gt = GroundTruth.from_parquet(parquet)
    assert len(gt) == 3 and gt.space == "macro"
    out = capsys.readouterr().out
    assert "no published checksum; sha256 " + hashlib.sha256(macro).hexdigest() in out

    assert main(["data", "check", "--data-dir", str(tmp_path), "--json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(records) == set(CATALOG)
    assert records["cifar10"]["status"] == "present"
    assert records["cifar10"]["version"] == "train 20 rows in 5 batches, test 4 rows"
    assert records["cifar10"]["files"]["cifar-10-python.tar.gz"] == hashlib.sha256(tar).hexdigest()
    assert records["macro"]["status"] == "present" and records["macro"]["version"] == "3 archs"
    for name in ("cifar100", "imagenet16-120", "nb201", "nb301", "nds"):
        assert records[name]["status"] == "missing" and records[name]["files"] == {}
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(CATALOG)
    assert any(line.startswith("cifar100: missing") for line in lines)


def test_check_on_hand_placed_files(tmp_path, capsys):
    root = tmp_path / "cifar-10-subset" / "cifar-10-batches-py"  # one folder down, as the loaders allow
    root.mkdir(parents=True)
    for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        (root / name).write_bytes(_cifar_pickle(3, i))
    (tmp_path / "nas-bench-macro").mkdir()
    (tmp_path / "nas-bench-macro" / "nas-bench-macro_cifar10.json").write_bytes(_macro_json())
    records = {r["name"]: r for r in F.check(tmp_path)}
    assert records["cifar10"]["status"] == "present" and len(records["cifar10"]["files"]) == 6
    assert records["macro"]["version"] == "3 archs"
    assert records["cifar100"]["status"] == "missing"
    (root / "test_batch").write_bytes(b"not a pickle")
    assert F.check(tmp_path)[0]["status"] == "damaged"


def test_manual_entry_explains(tmp_path):
    with pytest.raises(DataError, match="must be downloaded by hand: .*ImageNet16"):
        F.fetch("imagenet16-120", tmp_path, log=lambda _: None)


def test_read_only_folder_is_never_written(tmp_path):
    folder = tmp_path / "nas-bench-macro"
    folder.mkdir()
    (folder / "nas-bench-macro_cifar10.json").write_bytes(_macro_json())
    folder.chmod(0o555)
    try:
        with pytest.raises(DataError, match="read-only"):
            F.fetch("macro", tmp_path, log=lambda _: None)
        assert sorted(p.name for p in folder.iterdir()) == ["nas-bench-macro_cifar10.json"]
    finally:
        folder.chmod(0o755)
