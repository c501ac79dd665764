"""Tests of checkpoint.py: round trip without pickle, keeping the previous file, detecting truncated and
bit-flipped files, and surviving a failure in the middle of a save."""
from __future__ import annotations

import math

import pytest
import torch

from dal_helpers import checkpoint as ckpt


def _state(step: int) -> dict:
    gen = torch.Generator().manual_seed(step)
    gen.manual_seed(step)
    return {"config": {"seed": step, "dropout": None, "lr": 0.01}, "labeled_round": torch.arange(5) - step,
            "rows": [{"round": step, "test_acc": 0.5, "x": math.nan}], "rng": {"train": ckpt.generator_state(gen)},
            "model": {"w": torch.full((300,), float(step))}}


def test_round_trip_with_generator_state(tmp_path):
    gen = torch.Generator().manual_seed(7)
    torch.rand(3, generator=gen)
    state = {"rng": ckpt.generator_state(gen), "rows": [{"a": 1, "b": None, "c": math.nan}],
             "labeled_round": torch.tensor([-1, 0, 1])}
    path = ckpt.save_checkpoint(state, tmp_path / "run.pt")
    back = ckpt.load_checkpoint(path)
    gen2 = ckpt.restore_generator(back["rng"])
    assert torch.equal(torch.rand(4, generator=gen), torch.rand(4, generator=gen2))
    assert back["rows"][0]["a"] == 1 and back["rows"][0]["b"] is None and math.isnan(back["rows"][0]["c"])
    assert torch.equal(back["labeled_round"], state["labeled_round"])
    # Plain torch.load with weights_only=True reads it: nothing pickled beyond the allowed types.
    assert torch.load(path, weights_only=True)["rows"][0]["a"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temp files left


def test_missing_checkpoint_is_none(tmp_path):
    assert ckpt.load_checkpoint(tmp_path / "nothing.pt") is None


def test_previous_checkpoint_is_kept(tmp_path):
    path = tmp_path / "run.pt"
    ckpt.save_checkpoint(_state(1), path)
    ckpt.save_checkpoint(_state(2), path)
    assert ckpt.read_checkpoint(path)["config"]["seed"] == 2
    assert ckpt.read_checkpoint(ckpt.prev_path(path))["config"]["seed"] == 1


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_checkpoint_falls_back_to_previous_with_a_warning(tmp_path, damage):
    path = tmp_path / "run.pt"
    ckpt.save_checkpoint(_state(1), path)
    ckpt.save_checkpoint(_state(2), path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        # Inside the stored weights (300 float32 of value 2.0): the zip CRC catches it, torch.load alone would not.
        pos = bytes(data).find(torch.full((300,), 2.0).numpy().tobytes())
        assert pos > 0
        data[pos + 100] ^= 0x01
    else:
        data = bytearray(b"not a checkpoint at all")
    path.write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="run.pt"):
        ckpt.read_checkpoint(path)
    with pytest.warns(RuntimeWarning, match=r"run\.pt.*previous checkpoint"):
        state = ckpt.load_checkpoint(path)
    assert state["config"]["seed"] == 1


def test_bad_checkpoint_without_previous_raises_naming_it(tmp_path):
    path = tmp_path / "only.pt"
    ckpt.save_checkpoint(_state(1), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ckpt.CheckpointError, match="only.pt"):
        ckpt.load_checkpoint(path)


def test_a_failed_save_leaves_the_last_good_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    ckpt.save_checkpoint(_state(1), path)
    real_save = torch.save

    def half_save(obj, f):  # writes part of the file, then dies as a full disk or a kill would
        real_save(obj, f)
        f.truncate(50)
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", half_save)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(_state(2), path)
    assert ckpt.load_checkpoint(path)["config"]["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def test_a_bad_current_file_never_replaces_a_good_previous(tmp_path):
    path = tmp_path / "run.pt"
    ckpt.save_checkpoint(_state(1), path)
    ckpt.save_checkpoint(_state(2), path)
    path.write_bytes(b"junk")
    ckpt.save_checkpoint(_state(3), path)
    assert ckpt.read_checkpoint(ckpt.prev_path(path))["config"]["seed"] == 1
    assert ckpt.read_checkpoint(path)["config"]["seed"] == 3


def test_only_previous_left_after_a_kill_between_renames(tmp_path):
    path = tmp_path / "run.pt"
    ckpt.save_checkpoint(_state(1), path)
    ckpt.save_checkpoint(_state(2), path)
    path.unlink()  # the state between os.replace(path, prev) and os.replace(tmp, path)
    assert ckpt.load_checkpoint(path)["config"]["seed"] == 1


def test_save_deletes_only_temporary_files_of_dead_writers(tmp_path):
    import subprocess
    import sys

    from dal_helpers.checkpoint import save_checkpoint
    path = tmp_path / "run.pt"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        theirs = tmp_path / f".run.pt.tmp-{live.pid}"      # another process's write in flight
        theirs.write_bytes(b"half")
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
        stale = tmp_path / f".run.pt.tmp-{dead}"           # left by a writer that was killed
        stale.write_bytes(b"half")
        save_checkpoint({"x": 1}, path)
        assert theirs.exists() and not stale.exists()
    finally:
        live.kill()
        live.wait()


def test_run_lock_refuses_a_second_writer_and_is_released(tmp_path):
    path = tmp_path / "run.pt"
    with ckpt.run_lock(path, what="run 'a'") as lock:
        assert lock.read_text().split()[0] == str(__import__("os").getpid())
        with pytest.raises(ckpt.RunLockedError, match=r"run 'a' is being written by process \d+ on host"):
            with ckpt.run_lock(path, what="run 'a'"):
                pass
    assert not lock.exists()                        # released and removed
    with ckpt.run_lock(path):                       # and free again
        pass


def test_lock_of_a_killed_holder_is_taken_over(tmp_path):
    import signal
    import subprocess
    import sys

    path = tmp_path / "run.pt"
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from dal_helpers import checkpoint as c\n"
        f"with c.run_lock({str(path)!r}):\n    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(ckpt.RunLockedError, match=f"process {child.pid} "):
            with ckpt.run_lock(path):
                pass
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert ckpt.lock_path(path).exists()        # a kill -9 leaves the file, but not the lock
        with ckpt.run_lock(path) as lock:
            assert lock.read_text().split()[0] == str(__import__("os").getpid())
    finally:
        child.kill()
        child.wait()
