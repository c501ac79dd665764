"""Tests of results.py: one JSON-lines file per run, appends that survive a kill, load_results."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from dal_helpers import results as res


def test_append_and_read_round_trip(tmp_path):
    path = res.results_path(tmp_path, "exp", "random_s0")
    assert path == tmp_path / "exp" / "random_s0.jsonl"
    rows = [{"round": 0, "test_acc": 0.5, "energy_j": math.nan, "dropout": None},
            {"round": 1, "test_acc": 0.75, "energy_j": 3.0, "dropout": None}]
    for r in rows:
        res.append_row(path, r)
    back = res.read_rows(path)
    assert back[1] == rows[1] and math.isnan(back[0]["energy_j"]) and back[0]["dropout"] is None
    assert len(path.read_text().splitlines()) == 2


def test_truncated_last_line_is_ignored_but_a_bad_middle_line_is_an_error(tmp_path):
    path = tmp_path / "r.jsonl"
    res.append_row(path, {"round": 0})
    with open(path, "a") as f:
        f.write('{"round": 1, "test_')       # a kill in the middle of an append
    assert res.read_rows(path) == [{"round": 0}]
    with open(path, "a") as f:
        f.write('\n{"round": 2}\n')
    with pytest.raises(ValueError, match=r"r\.jsonl.*line 2"):
        res.read_rows(path)


def test_write_rows_replaces_the_file(tmp_path):
    path = tmp_path / "e" / "r.jsonl"
    res.append_row(path, {"round": 0})
    res.append_row(path, {"round": 1})
    res.write_rows(path, [{"round": 0}])
    assert res.read_rows(path) == [{"round": 0}]
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.jsonl"]


def test_load_results_from_folder_glob_and_list(tmp_path):
    a = res.results_path(tmp_path, "e1", "random_s0")
    b = res.results_path(tmp_path, "e2", "entropy_s0")
    res.append_row(a, {"strategy": "random", "round": 0, "test_acc": 0.5})
    res.append_row(a, {"strategy": "random", "round": 1, "test_acc": 0.6})
    res.append_row(b, {"strategy": "entropy", "round": 0, "test_acc": 0.55, "extra": 1})
    df = res.load_results(tmp_path)
    assert isinstance(df, pd.DataFrame) and len(df) == 3
    assert sorted(df.strategy.unique()) == ["entropy", "random"]
    assert df.loc[df.strategy == "random", "extra"].isna().all()
    assert len(res.load_results(str(tmp_path / "*" / "*.jsonl"))) == 3
    assert len(res.load_results(str(tmp_path / "**" / "random*.jsonl"))) == 2
    assert len(res.load_results([a, b, a])) == 3   # a file listed twice is read once
    with pytest.raises(FileNotFoundError, match="nothing|no results"):
        res.load_results(str(tmp_path / "none" / "*.jsonl"))


def test_long_run_ids_get_short_distinct_file_names(tmp_path):
    a, b = "x" * 300 + "_lr=0.1", "x" * 300 + "_lr=0.2"
    pa, pb = res.results_path(tmp_path, "e", a), res.results_path(tmp_path, "e", b)
    assert pa != pb and len(pa.name) <= res.MAX_STEM + len(".jsonl")
    assert res.results_path(tmp_path, "e", "random_s0").name == "random_s0.jsonl"
    res.append_row(pa, {"run_id": a})
    assert res.read_rows(pa) == [{"run_id": a}]


def _three_rows(path):
    rows = [{"experiment": "e", "run_id": "random_s0", "round": i, "n_labeled": 100 * (i + 1),
             "test_acc": 0.5 + 0.1 * i, "energy_j": math.nan, "final": i == 2} for i in range(3)]
    for r in rows:
        res.append_row(path, r)
    return rows


@pytest.mark.parametrize("line,match", [
    (b"[1, 2]\n", r"r\.jsonl' line 2 is a JSON list, not a row"),
    (b"3\n", r"r\.jsonl' line 2 is a JSON int, not a row"),
    (b"\xff\xfe\x00garbage\n", r"r\.jsonl' line 2 is not a JSON row \(UnicodeDecodeError"),
])
def test_lines_that_are_not_rows_are_named_by_file_and_line(tmp_path, line, match):
    path = tmp_path / "r.jsonl"
    res.append_row(path, {"round": 0})
    with open(path, "ab") as f:
        f.write(line)
        f.write(b'{"round": 2}\n')
    with pytest.raises(ValueError, match=match):
        res.read_rows(path)


def test_a_changed_row_fails_its_checksum(tmp_path):
    path = tmp_path / "r.jsonl"
    rows = _three_rows(path)
    assert [r["test_acc"] for r in res.read_rows(path)] == [r["test_acc"] for r in rows]
    assert "row_crc" not in res.load_results(path).columns
    text = path.read_text()
    path.write_text(text.replace('"test_acc": 0.6', '"test_acc": 0.9'))     # a hand edit of round 1
    with pytest.raises(ValueError, match=r"r\.jsonl' line 2 does not match its checksum"):
        res.read_rows(path)
    lines = text.splitlines(keepends=True)
    path.write_text(lines[0] + '{"round": 1, "test_acc": 0.9}\n' + lines[2])   # a row without checksum
    with pytest.raises(ValueError, match="line 2 has no row_crc while other rows"):
        res.read_rows(path)


def test_every_single_bit_flip_is_detected_or_harmless(tmp_path):
    # Each of the file's bits flipped in turn: the read raises, or (a flip of the final newline, which
    # looks like an append cut short by a kill) returns the first rows unchanged. Nothing else.
    import json

    path = tmp_path / "r.jsonl"
    _three_rows(path)
    good, ref = path.read_bytes(), json.dumps(res.read_rows(path))
    silent = []
    for i in range(len(good)):
        for b in range(8):
            bad = bytearray(good)
            bad[i] ^= 1 << b
            path.write_bytes(bytes(bad))
            try:
                got = res.read_rows(path)
            except ValueError:
                continue
            if not (len(got) == 2 and i == len(good) - 1 and ref.startswith(json.dumps(got)[:-1])):
                silent.append((i, b))
    assert silent == []


def test_old_rows_without_checksum_are_still_read(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"round": 0, "test_acc": 0.5}\n{"round": 1, "test_acc": 0.6}\n')
    assert res.read_rows(path) == [{"round": 0, "test_acc": 0.5}, {"round": 1, "test_acc": 0.6}]
