"""Download the benchmarks' official files (``supernet-bench data fetch``) and report what a data folder
holds (``supernet-bench data check``).

Downloads use only the standard library (urllib). A file is streamed to ``<target>.part``; an existing
``.part`` is resumed with an HTTP Range request (a server that answers 200 instead of 206 gets a clean
restart). A dropped connection is retried a bounded number of times with exponential backoff. The
finished file is checked against the published md5/sha256 (a mismatch removes the download and raises a
DataError naming the file, the expected and the actual checksum; a valid file already in place is never
touched) and only then renamed into place. Archives are unpacked after refusing any member that would
land outside the target folder (absolute paths, ``..``, links, special files). The sha256 of a file
without a published checksum is printed so the user can pin it.

``--base-url`` (or ``$SUPERNET_BENCH_MIRROR``) replaces the scheme and host of every catalog URL, so a
mirror (or a test's local server) serves the same paths.
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import os
import re
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from supernet_bench.core.catalog import Log, PostStep, Probe
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import sha256_file
from supernet_bench.datasets_catalog import CATALOG, Benchmark, Resource
from supernet_bench.spaces import space_catalogs

MIRROR_ENV = "SUPERNET_BENCH_MIRROR"
CHUNK = 1 << 16


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Names and URLs
# ----------------------------------------------------------------------------------------------


def get_benchmark(name: str, catalog: dict[str, Benchmark] | None = None) -> Benchmark:
    catalog = CATALOG if catalog is None else catalog
    if name in catalog:
        return catalog[name]
    close = difflib.get_close_matches(name, list(catalog), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownNameError(f"Unknown benchmark {name!r}.{hint} Available: {', '.join(sorted(catalog))}")


def apply_mirror(url: str, base_url: str | None) -> str:
    """``url`` with its scheme and host replaced by ``base_url`` (whose path, if any, is a prefix)."""
    if not base_url:
        return url
    base, orig = urlsplit(base_url), urlsplit(url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise BenchError(f"bad mirror URL {base_url!r}: expected http(s)://host[:port][/prefix]")
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + orig.path, orig.query, ""))


# ----------------------------------------------------------------------------------------------
# Checksums and the download itself
# ----------------------------------------------------------------------------------------------


def file_digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file in one pass."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def checksum_problem(path: Path, md5: str | None, sha256: str | None) -> tuple[str | None, str]:
    """(None or "expected <algo> X, got Y", sha256 of the file)."""
    got_md5, got_sha = file_digests(path)
    if sha256 and got_sha != sha256.lower():
        return f"expected sha256 {sha256}, got {got_sha}", got_sha
    if md5 and got_md5 != md5.lower():
        return f"expected md5 {md5}, got {got_md5}", got_sha
    return None, got_sha


class _Dropped(ConnectionError):
    """The transfer ended before the announced length."""


class _Restart(Exception):
    """The .part file cannot be resumed: start again from zero (does not count as a try)."""


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _progress_bar(total: int | None, initial: int, label: str, enabled: bool | None):
    from tqdm import tqdm

    disable = not sys.stderr.isatty() if enabled is None else not enabled
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=label, disable=disable)


def _transfer(url: str, part: Path, size: int | None, timeout: float, progress: bool | None, log: Log) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "supernet-bench"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # range not satisfiable: the .part is stale or already oversized
            e.close()
            part.unlink()
            raise _Restart() from None
        raise
    with resp:
        ctype = resp.headers.get("Content-Type", "") or ""
        if "text/html" in ctype.lower() and not part.name.endswith((".html.part", ".htm.part")):
            raise DataError(
                f"{url} answered with an HTML page instead of the file (a login or confirmation page?); "
                f"download it in a browser and put it at {part.with_suffix('')}"
            )
        if have and resp.status == 206:
            m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", "") or "")
            if m is None or int(m.group(1)) != have:
                part.unlink()
                raise _Restart()
            mode = "ab"
            log(f"resuming {part.name[:-5]} at byte {have}")
        else:
            if have:
                log(f"server ignored the Range request for {part.name[:-5]}; restarting from the beginning")
            have, mode = 0, "wb"
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        try:
            f = open(part, mode)
        except OSError as e:
            raise DataError(f"cannot write {part}: {e}") from None
        with f, _progress_bar(total, have, part.name[:-5], progress) as bar:
            while block := resp.read(CHUNK):
                try:
                    f.write(block)
                except OSError as e:
                    raise DataError(f"cannot write {part}: {e}") from None
                bar.update(len(block))
            f.flush()
            os.fsync(f.fileno())
    got = part.stat().st_size
    if total is not None and got < total:
        raise _Dropped(f"connection closed after {got} of {total} bytes")


def download(
    url: str,
    dest: Path,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    tries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: bool | None = None,
    log: Log = _stderr,
) -> str:
    """Download ``url`` to ``dest`` via ``dest.part`` (resumed if present), verify, rename into place.

    Returns the sha256 of the file. A failed checksum removes the download and raises DataError; a
    connection that keeps failing raises DataError after ``tries`` attempts.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create {dest.parent}: {e}") from None
    part = dest.with_name(dest.name + ".part")
    tries = max(1, int(tries))
    attempt, restarts = 1, 0
    while True:
        try:
            _transfer(url, part, size, timeout, progress, log)
            break
        except _Restart:
            restarts += 1
            if restarts > tries:
                raise DataError(f"cannot resume the download of {url}: the server keeps rejecting the range") from None
            continue
        except urllib.error.HTTPError as e:
            if e.code < 500 and e.code != 429:
                raise DataError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
            problem = f"HTTP {e.code} {e.reason}"
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, resets, _Dropped
            problem = f"{type(e).__name__}: {getattr(e, 'reason', None) or e}"
        if attempt >= tries:
            kept = f"; the partial file {part} is kept and resumed by the next fetch" if part.exists() else ""
            raise DataError(f"download of {url} failed after {tries} tries: {problem}{kept}")
        delay = backoff * 2 ** (attempt - 1)
        log(f"download of {dest.name} interrupted ({problem}); try {attempt + 1} of {tries} in {delay:g}s")
        time.sleep(delay)
        attempt += 1
    problem, got_sha = checksum_problem(part, md5, sha256)
    if problem is not None:
        part.unlink()
        raise DataError(f"checksum mismatch for {dest}: {problem}; the download was removed")
    os.replace(part, dest)
    return got_sha


# ----------------------------------------------------------------------------------------------
# Archives
# ----------------------------------------------------------------------------------------------


def _inside(root: Path, name: str) -> bool:
    if not name or PurePosixPath(name).is_absolute() or re.match(r"^[A-Za-z]:", name) or name.startswith("\\"):
        return False
    target = (root / name).resolve()
    return target == root or root in target.parents


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Unpack a tar(.gz) or zip archive under ``dest``; refuse (before writing anything) any member that
    is absolute, escapes ``dest``, or is a link or special file. Returns the member names."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()

    def refuse(member: str, why: str) -> DataError:
        return DataError(f"refusing to extract {archive}: member {member!r} {why}")

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                if not _inside(root, info.filename):
                    raise refuse(info.filename, f"would land outside {dest}")
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise refuse(info.filename, "is a symbolic link")
            zf.extractall(root)
            return [i.filename for i in infos]
    try:
        tf = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise DataError(f"cannot open archive {archive}: {e}") from None
    with tf:
        members = tf.getmembers()
        for m in members:
            if not _inside(root, m.name):
                raise refuse(m.name, f"would land outside {dest}")
            if not (m.isfile() or m.isdir()):
                raise refuse(m.name, "is a link or special file")
        if hasattr(tarfile, "data_filter"):
            tf.extractall(root, members=members, filter="data")
        else:  # pragma: no cover - Python without extraction filters; members were checked above
            tf.extractall(root, members=members)
        return [m.name for m in members]


# ----------------------------------------------------------------------------------------------
# Post-steps (named in the catalog)
# ----------------------------------------------------------------------------------------------


def _post_extract(arg: str, path: Path, data_dir: Path, log: Log) -> None:
    dest = data_dir if arg in ("", ".") else data_dir / arg
    names = safe_extract(path, dest)
    log(f"extracted {len(names)} member(s) of {path.name} into {dest}")


POST_STEPS: dict[str, PostStep] = {
    "extract": _post_extract,
    **{name: step for cat in space_catalogs() for name, step in cat.post_steps.items()},  # spaces/<name>/catalog.py
}


def _run_post(step: str, path: Path, data_dir: Path, log: Log) -> None:
    kind, _, arg = step.partition(":")
    if kind not in POST_STEPS:
        raise BenchError(f"catalog names an unknown post-step {step!r} (known: {', '.join(POST_STEPS)})")
    try:
        POST_STEPS[kind](arg, path, data_dir, log)
    except OSError as e:
        raise DataError(f"{step} of {path} failed: {e}") from None


# ----------------------------------------------------------------------------------------------
# fetch
# ----------------------------------------------------------------------------------------------


def fetch(
    name: str,
    data_dir: Path,
    *,
    base_url: str | None = None,
    catalog: dict[str, Benchmark] | None = None,
    tries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: bool | None = None,
    log: Log = _stderr,
) -> list[dict]:
    """Download every resource of benchmark ``name`` into ``data_dir`` and run its post-steps.

    Returns one record per resource: target, url, sha256, status ("downloaded", "present", "manual").
    """
    bench = get_benchmark(name, catalog)
    data_dir = Path(data_dir)
    base_url = base_url if base_url else os.environ.get(MIRROR_ENV) or None
    out = []
    for res in bench.resources:
        dest = data_dir / res.target
        if res.url is None:
            if _expectations_met(bench, data_dir):
                log(f"{bench.name}: present in {data_dir}")
                out.append({"target": res.target, "url": None, "sha256": None, "status": "present"})
                continue
            raise DataError(f"{bench.name} must be downloaded by hand: {res.manual}")
        url = apply_mirror(res.url, base_url)
        fresh, sha = True, None
        if dest.is_file():
            problem, sha = checksum_problem(dest, res.md5, res.sha256)
            if problem is None:
                fresh = False
                pinned = "checksum verified" if (res.md5 or res.sha256) else "no published checksum"
                log(f"{res.target}: already present ({pinned}), sha256 {sha}")
            else:
                log(f"{res.target}: present but {problem}; downloading it again")
        run_post = fresh or not _expectations_met(bench, data_dir) or _missing_outputs(res, dest)
        if fresh or (run_post and res.post):
            _require_writable(dest.parent)
        if fresh:
            log(f"downloading {url} -> {dest}")
            sha = download(
                url, dest, md5=res.md5, sha256=res.sha256, size=res.size, tries=tries, backoff=backoff,
                timeout=timeout, progress=progress, log=log,
            )  # fmt: skip
            if res.md5 or res.sha256:
                log(f"{res.target}: checksum verified, sha256 {sha}")
            else:
                log(f"{res.target}: no published checksum; sha256 {sha} (pin it in the catalog)")
        if run_post:
            for step in res.post:
                _run_post(step, dest, data_dir, log)
        out.append({"target": res.target, "url": url, "sha256": sha, "status": "downloaded" if fresh else "present"})
    if bench.notes:
        log(f"note: {bench.notes}")
    return out


def _require_writable(path: Path) -> None:
    """Refuse to write under a folder marked read-only (no write bit at all), even when running as root:
    a shared, read-only data folder is never modified by a fetch."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    if path.is_dir() and not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise DataError(f"{path} is read-only; fetch into a writable data folder (--data-dir)")


def _missing_outputs(res: Resource, dest: Path) -> bool:
    """True when a conversion post-step's output is missing (e.g. the parquet files next to the source)."""
    return any(not any(dest.parent.glob(pattern)) for pattern in res.outputs)


# ----------------------------------------------------------------------------------------------
# check
# ----------------------------------------------------------------------------------------------


def _find(data_dir: Path, kind: str, rel: str) -> list[Path]:
    """Paths matching one expectation: ``rel`` directly under the data folder, else one folder down."""
    if kind == "glob":
        return sorted(p for p in data_dir.glob(rel) if p.is_file())
    want = Path.is_dir if kind == "dir" else Path.is_file
    direct = data_dir / rel
    if want(direct):
        return [direct]
    return sorted(p for p in data_dir.glob(f"*/{rel}") if want(p))


def _expectations_met(bench: Benchmark, data_dir: Path) -> bool:
    return all(_find(data_dir, kind, rel) for kind, rel in bench.expect)


def _files_under(path: Path, limit: int = 2000) -> list[Path]:
    if path.is_file():
        return [path]
    files = []
    for p in sorted(path.rglob("*")):
        if p.is_file() and not p.name.endswith(".part"):
            files.append(p)
            if len(files) >= limit:
                break
    return files


def _pickle_rows(path: Path, label_key: str) -> int:
    from supernet_bench.data import _read_pickle

    obj = _read_pickle(path)
    labels = obj.get(label_key)
    if labels is None:
        raise DataError(f"{path}: no {label_key!r} key")
    return len(labels)


def _probe_cifar10(paths: list[Path]) -> str:
    root = paths[0]
    train = sum(_pickle_rows(p, "labels") for p in sorted(root.glob("data_batch_*")))
    test = _pickle_rows(root / "test_batch", "labels")
    return f"train {train} rows in {len(list(root.glob('data_batch_*')))} batches, test {test} rows"


def _probe_cifar100(paths: list[Path]) -> str:
    root = paths[0]
    train, test = (_pickle_rows(root / split, "fine_labels") for split in ("train", "test"))
    return f"train {train} rows, test {test} rows"


def _probe_imagenet16(paths: list[Path]) -> str:
    root = paths[0]
    batches = len(list(root.glob("train_data_batch_*")))
    return f"{batches} train batches, val_data {'present' if (root / 'val_data').is_file() else 'missing'}"


PROBES: dict[str, Probe] = {
    "cifar10": _probe_cifar10,
    "cifar100": _probe_cifar100,
    "imagenet16": _probe_imagenet16,
    **{name: probe for cat in space_catalogs() for name, probe in cat.probes.items()},  # spaces/<name>/catalog.py
}


def check(data_dir: Path, catalog: dict[str, Benchmark] | None = None) -> list[dict]:
    """One record per catalog benchmark: name, status ("present", "missing", "damaged"), files
    (relative path -> sha256, computed now), version (a short description read from the files),
    problem (why damaged, or what is missing)."""
    catalog = CATALOG if catalog is None else catalog
    data_dir = Path(data_dir)
    records = []
    for name, bench in sorted(catalog.items()):
        found: list[Path] = []
        missing = []
        for kind, rel in bench.expect:
            hits = _find(data_dir, kind, rel)
            if hits:
                found.extend(hits[:1] if kind != "glob" else hits)
            else:
                missing.append(rel)
        if missing:  # an accepted alternative file (e.g. the NB201 csv instead of the API file)
            for alt in bench.alternatives:
                hits = _find(data_dir, "file", alt)
                if hits:
                    found, missing = hits[:1], []
                    break
        archives = [data_dir / r.target for r in bench.resources if r.url and (data_dir / r.target).is_file()]
        rec = {"name": name, "status": "missing" if missing else "present", "files": {}, "version": "", "problem": ""}
        for path in [*archives, *(f for p in found for f in _files_under(p))]:
            rec["files"][str(path.relative_to(data_dir))] = sha256_file(path)
        for res in bench.resources:
            path = data_dir / res.target
            if res.url and path.is_file() and (res.md5 or res.sha256):
                problem, _ = checksum_problem(path, res.md5, res.sha256)
                if problem:
                    rec["status"], rec["problem"] = "damaged", f"{res.target}: {problem}"
        if missing:
            rec["problem"] = rec["problem"] or f"not found: {', '.join(missing)}"
        elif rec["status"] == "present":
            try:
                rec["version"] = PROBES[bench.probe](found)
            except (BenchError, OSError, ValueError) as e:
                rec["status"], rec["problem"] = "damaged", str(e)
        records.append(rec)
    return records


def format_check(records: list[dict]) -> list[str]:
    lines = []
    for r in records:
        files = ", ".join(f"{p} ({sha[:12]})" for p, sha in r["files"].items())
        parts = [f"{r['name']}: {r['status']}"]
        if r["version"]:
            parts.append(r["version"])
        if r["problem"]:
            parts.append(r["problem"])
        if files:
            parts.append(f"files: {files}")
        lines.append(" | ".join(parts))
    return lines
