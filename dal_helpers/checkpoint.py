"""Atomic, pickle-free checkpoints of an active-learning run: one plain dict per run.

A checkpoint holds only tensors and plain Python values (config dict, `labeled_round`, result rows,
generator states as uint8 tensors, model state dict), so it loads with `torch.load(weights_only=True)`.
`save_checkpoint` writes to a temporary file in the same folder, flushes and fsyncs it, moves the current
checkpoint aside as `<name>.prev` and `os.replace`s the new one in: a run killed at any moment leaves
either the new file or the previous one intact, which is also what a mounted Google Drive folder needs
(it syncs whole files). `load_checkpoint` checks the zip CRCs of the file before loading it, so that a
truncated or bit-flipped file is detected even where `torch.load` would silently read wrong weights;
it then falls back to the previous checkpoint with a warning that names the bad file.

`run_lock` makes one process the only writer of a run: a second process on the same run and folders
refuses with a message naming the holder's pid and host, instead of interleaving result rows.
"""
from __future__ import annotations

import contextlib
import os
import socket
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read (truncated, corrupted, or not a checkpoint)."""


def prev_path(path: str | os.PathLike) -> Path:
    """Where the previous good checkpoint of `path` is kept."""
    p = Path(path)
    return p.with_name(p.name + ".prev")


def generator_state(gen: torch.Generator) -> Tensor:
    """The state of a torch.Generator as a uint8 tensor (storable without pickle)."""
    return gen.get_state().clone()


def restore_generator(state: Tensor, device: str | torch.device = "cpu") -> torch.Generator:
    """A new torch.Generator on `device` with the given state (from `generator_state`)."""
    gen = torch.Generator(device=device)
    gen.set_state(state.to(torch.uint8).cpu())
    return gen


def pid_alive(pid: str | int) -> bool:
    """Whether a process with this id runs on this machine (False for a non-number)."""
    try:
        pid = int(pid)
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLockedError(RuntimeError):
    """Another live process holds the lock of this run."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of the run whose checkpoint or results file is `path`: `.<name>.lock` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def _holder_line() -> str:
    """What a lock file holds: "pid host" of this process."""
    return f"{os.getpid()} {socket.gethostname()}\n"


def _holder(lock: Path) -> str:
    try:
        text = lock.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return "an unknown process"
    pid = text[0] if text else "?"
    host = text[1] if len(text) > 1 else "?"
    return f"process {pid} on host {host}"


def _try_lock_once(lock: Path):
    """An open, locked file object for `lock`, or None when another process holds it. The file is
    re-checked after locking: a holder that released (and unlinked) it in between left us a dead inode."""
    import fcntl

    f = open(lock, "a+", encoding="utf-8")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    try:
        same = os.stat(lock).st_ino == os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        f.close()
        return False
    return f


@contextlib.contextmanager
def run_lock(path: str | os.PathLike, what: str = "run"):
    """Hold the lock of the run stored at `path` (its checkpoint or results file) while the block runs.

    The lock is an advisory `flock` on `.<name>.lock` beside `path`, holding "pid host": the operating
    system releases it when its holder exits, even on kill -9, so a lock left by a dead process is stale
    by construction and the next run takes it. A live holder makes this raise RunLockedError naming it.
    On systems without `fcntl` (Windows) an exclusive-create file with the pid stands in, and a lock
    whose pid no longer runs on this host is taken over. The lock file is removed on release."""
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl  # noqa: F401
    except ImportError:
        yield from _pid_file_lock(lock, what)
        return
    f = None
    for _ in range(100):  # False only when a holder released between our open and flock: retry
        f = _try_lock_once(lock)
        if f is not False:
            break
    if not f:
        raise RunLockedError(f"{what} is being written by {_holder(lock)} (lock {str(lock)!r}); wait for it "
                             "to finish, or run with other folders or another experiment name")
    try:
        f.seek(0)
        f.truncate()
        f.write(_holder_line())
        f.flush()
        yield lock
    finally:
        try:
            lock.unlink()
        except FileNotFoundError:
            pass
        f.close()


def _pid_file_lock(lock: Path, what: str):
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            text = lock.read_text(errors="replace").split()
            if text and text[1:2] == [socket.gethostname()] and not pid_alive(text[0]):
                lock.unlink(missing_ok=True)  # stale: its writer is gone
                continue
            raise RunLockedError(f"{what} is being written by {_holder(lock)} (lock {str(lock)!r}); wait "
                                 "for it to finish, or delete the lock if that process no longer runs")
        with os.fdopen(fd, "w") as f:
            f.write(_holder_line())
        try:
            yield lock
        finally:
            lock.unlink(missing_ok=True)
        return
    raise RunLockedError(f"could not take the lock {str(lock)!r} of {what}")


def _fsync_dir(folder: Path) -> None:
    try:  # makes the rename durable on POSIX; not possible on every file system (or Windows)
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike, keep_previous: bool = True) -> Path:
    """Atomically write the plain dict `state` to `path`, keeping the previous file as `<path>.prev`
    (keep_previous=False: the previous file is simply replaced, for files written once per round).

    Only tensors, numbers, strings, None, bools, lists, tuples and dicts of them are allowed (what
    `torch.load(weights_only=True)` reads back). Returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        if path.exists() and keep_previous:
            # Keep the last good checkpoint: a kill between these two renames leaves only `.prev`,
            # which load_checkpoint falls back to. A bad current file must not replace a good `.prev`.
            try:
                verify_checkpoint(path)
                os.replace(path, prev_path(path))
            except CheckpointError:
                path.unlink()
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        for stale in path.parent.glob(f".{path.name}.tmp-*"):  # left by a process killed mid-write
            if not pid_alive(stale.name.rsplit("-", 1)[-1]):  # another live writer's file is its own
                stale.unlink(missing_ok=True)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def verify_checkpoint(path: str | os.PathLike) -> None:
    """Check the zip structure and CRC-32 of every record of a checkpoint file without loading it.
    Raises CheckpointError naming the file when it is truncated or corrupted."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except Exception as err:  # zipfile.BadZipFile on truncation, OSError, ...
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupted: "
                              f"{type(err).__name__}: {err}") from err
    if bad is not None:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupted (CRC mismatch in record {bad!r})")


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load one checkpoint file, verifying it first. Raises CheckpointError naming the file when it is
    truncated, corrupted (zip CRC mismatch) or not a checkpoint dict."""
    path = Path(path)
    verify_checkpoint(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zipfile.BadZipFile, EOFError, RuntimeError from torch's reader, ...
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupted: "
                              f"{type(err).__name__}: {err}") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} holds a {type(state).__name__}, not a dict")
    return state


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any] | None:
    """The run state saved at `path`, or None when neither it nor `<path>.prev` exists.

    A bad `path` is reported with a warning naming it and the previous checkpoint is used; when both
    are bad (or only a bad one exists) CheckpointError is raised naming the files."""
    path = Path(path)
    prev = prev_path(path)
    errors = []
    for candidate in (path, prev):
        if not candidate.exists():
            continue
        try:
            state = read_checkpoint(candidate)
        except CheckpointError as err:
            errors.append(str(err))
            continue
        if errors:
            warnings.warn(f"{errors[0]}; resuming from the previous checkpoint {str(candidate)!r}",
                          RuntimeWarning, stacklevel=2)
        return state
    if errors:
        raise CheckpointError("; ".join(errors) + ". No readable checkpoint is left: delete the file(s) "
                              "to restart the run from scratch")
    return None


def round_models_dir(path: str | os.PathLike) -> Path:
    """The folder beside the checkpoint `path` (`<run>.pt`) that keeps a run's per-round models when
    `RunConfig.keep_round_models` is on: `<run>.rounds/`."""
    p = Path(path)
    return p.with_name(p.stem + ".rounds")


def round_model_path(path: str | os.PathLike, round_: int) -> Path:
    """`<run>.rounds/round_<r>.pt`: the model trained in round r of the run checkpointed at `path`."""
    return round_models_dir(path) / f"round_{int(round_):04d}.pt"


def kept_rounds(path: str | os.PathLike) -> list[int]:
    """The rounds whose models are kept beside the checkpoint `path`, ascending ([] when none)."""
    folder = round_models_dir(path)
    if not folder.is_dir():
        return []
    return sorted(int(p.stem.split("_")[1]) for p in folder.glob("round_*.pt") if p.stem.split("_")[1].isdigit())
