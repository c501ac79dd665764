"""The results table on disk: one JSON-lines file per run, one line per round, and `load_results`.

A run's rows go to `<results_dir>/<experiment>/<run_id>.jsonl`; each row is appended, flushed and
fsync'd as soon as its round ends, so a killed run loses at most the round in progress. A half-written
last line (a kill during the append) is ignored when reading, and the AL loop rewrites the file from
its checkpoint when it resumes. `load_results` gathers any set of these files into one tidy pandas
DataFrame, the only input of metrics and plots. Floats that are NaN are stored as JSON `NaN`
(Python's json reads them back).

Every row carries `row_crc`, the CRC-32 of its own JSON text: reading a row whose content no longer
matches (a damaged file, a hand edit) raises an error naming the file and line, so a report never
shows numbers a run did not write. Rows without it (files from earlier versions) are read unchecked.
"""
from __future__ import annotations

import glob
import json
import os
import zlib
from pathlib import Path
from typing import Any, Iterable

import pandas as pd


MAX_STEM = 160  # file names stay well under the 255-byte limit, with room for ".pt.prev" and temp suffixes


def file_stem(run_id: str) -> str:
    """The file name stem of a run: its run_id, or, when longer than MAX_STEM characters, a prefix of
    it followed by a hash of the whole id (so distinct ids keep distinct files)."""
    if len(run_id) <= MAX_STEM:
        return run_id
    import hashlib
    return f"{run_id[:MAX_STEM - 17]}_{hashlib.sha1(run_id.encode()).hexdigest()[:16]}"


def check_name(kind: str, name: Any) -> str:
    """`name` when it is usable as one folder or file name inside a results or checkpoint folder:
    a non-empty string without path separators, NUL, or a leading '.' ('..' would climb out of the
    folder, '.x' would be hidden among the temporary files). Raises ValueError naming `kind`, the
    value and what is allowed."""
    bad = (not isinstance(name, str) or not name.strip() or name.startswith(".") or "\0" in name
           or any(sep in name for sep in ("/", "\\", os.sep, os.altsep or "/")))
    if bad:
        raise ValueError(f"{kind}={name!r} is invalid; allowed: a non-empty name without '/', '\\' or "
                         f"a leading '.' (it names one folder or file inside the results/checkpoint folder)")
    return name


def results_path(results_dir: str | os.PathLike, experiment: str, run_id: str) -> Path:
    """`<results_dir>/<experiment>/<run_id>.jsonl` (long ids shortened by `file_stem`); experiment and
    run_id are checked by `check_name`, so the file is always inside `results_dir`."""
    check_name("experiment", experiment)
    check_name("run_id", run_id)
    return Path(results_dir) / experiment / f"{file_stem(run_id)}.jsonl"


CRC_FIELD = "row_crc"


def _crc(body: str) -> str:
    return f"{zlib.crc32(body.encode('utf-8')):08x}"


def _line(row: dict[str, Any]) -> str:
    """One JSON line: the row's fields, then `row_crc` over the JSON text of those fields."""
    clean = json.loads(json.dumps({k: v for k, v in row.items() if k != CRC_FIELD}, default=_jsonable))
    return json.dumps({**clean, CRC_FIELD: _crc(json.dumps(clean))}) + "\n"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):      # numpy / torch scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} value {value!r} in a results row")


def append_row(path: str | os.PathLike, row: dict[str, Any]) -> None:
    """Append one row as a JSON line; flushed and fsync'd before returning."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(_line(row))
        f.flush()
        os.fsync(f.fileno())


def write_rows(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the file with exactly `rows` (temporary file, fsync, os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(_line(row))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of one results file, `row_crc` checked and removed. A truncated last line is skipped
    (the append a killed run left); a line elsewhere that is not valid UTF-8 JSON, not a JSON object,
    or whose checksum does not match raises ValueError naming the file and line number."""
    path = Path(path)
    content = path.read_bytes()
    raw = content.split(b"\n")
    while raw and not raw[-1].strip():
        raw.pop()
    rows = []
    checked = any(f'"{CRC_FIELD}": '.encode() in data for data in raw)  # then every row must carry one
    for i, data in enumerate(raw):
        if not data.strip():
            continue
        where = f"{str(path)!r} line {i + 1}"
        try:
            row = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            if i == len(raw) - 1 and not content.endswith(b"\n"):
                break  # the append in progress when the run was killed
            raise ValueError(f"{where} is not a JSON row ({type(err).__name__}: {err}); the file is "
                             "damaged: rerun the run (its checkpoint rewrites the file) or remove the line") from err
        if not isinstance(row, dict):
            raise ValueError(f"{where} is a JSON {type(row).__name__}, not a row (a JSON object of column: value)")
        if CRC_FIELD not in row and checked:
            raise ValueError(f"{where} has no {CRC_FIELD} while other rows of the file have one: the line was "
                             "damaged or added by hand; rerun the run or restore the file")
        if CRC_FIELD in row:
            stored = row.pop(CRC_FIELD)
            if stored != _crc(json.dumps(row)):
                raise ValueError(f"{where} does not match its checksum ({CRC_FIELD}={stored!r}): the row was "
                                 "changed after it was written (damaged file or hand edit); rerun the run or "
                                 "restore the file")
        rows.append(row)
    return rows


def load_results(pattern: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One DataFrame of every row in the results files matched.

    pattern: a folder (searched recursively for *.jsonl), a glob such as "runs/*/results/*.jsonl"
    (recursive "**" allowed), a single file, or a list of these. Rows keep their columns; columns that
    some runs lack are NaN. Raises FileNotFoundError when nothing matches."""
    patterns = [pattern] if isinstance(pattern, (str, os.PathLike)) else list(pattern)
    files: list[Path] = []
    for pat in patterns:
        p = Path(pat)
        if p.is_dir():
            files.extend(sorted(p.rglob("*.jsonl")))
        elif p.is_file():
            files.append(p)
        else:
            files.extend(Path(f) for f in sorted(glob.glob(str(pat), recursive=True)) if f.endswith(".jsonl"))
    if not files:
        raise FileNotFoundError(f"no results files (*.jsonl) match {pattern!r}")
    rows = [row for f in dict.fromkeys(files) for row in read_rows(f)]
    return pd.DataFrame(rows)
