"""Wall-clock timing and energy metering of a block of work (paper Sec. 4.8, "scalability").

`Meter(device)` is a context manager: on entry and exit it synchronises CUDA (so queued kernels are
counted where they run, not where they are launched) and reads the energy counters that this machine
exposes: the GPU's total-energy counter through NVML (`pynvml`, when importable; millijoules since
driver load, Volta and newer) and the CPU package counters of Linux RAPL
(`/sys/class/powercap/intel-rapl:N/energy_uj`, microjoules, when readable; often root-only). Counters
that are missing or unreadable give `None`; `joules` is the sum of what was measured, NaN when nothing
was.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch

RAPL_ROOT = Path("/sys/class/powercap")


def synchronize(device: torch.device | str | None) -> None:
    """Wait for queued CUDA work on `device` (no-op elsewhere), so wall times are real."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _rapl_packages(root: Path = RAPL_ROOT) -> list[Path]:
    """Top-level RAPL domains (one per CPU package; sub-domains like intel-rapl:0:0 are parts of them)."""
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.glob("intel-rapl:*")):
        if d.name.count(":") == 1 and (d / "energy_uj").exists():
            out.append(d)
    return out


def read_rapl_uj(root: Path = RAPL_ROOT) -> list[tuple[int, int]] | None:
    """(energy_uj, max_energy_range_uj) per package, or None when no counter is readable."""
    vals = []
    for d in _rapl_packages(root):
        try:
            e = int((d / "energy_uj").read_text())
            try:
                wrap = int((d / "max_energy_range_uj").read_text())
            except (OSError, ValueError):
                wrap = 0
            vals.append((e, wrap))
        except (OSError, ValueError):
            return None
    return vals or None


def rapl_delta_j(start: list[tuple[int, int]] | None, end: list[tuple[int, int]] | None) -> float | None:
    """Joules between two RAPL readings, summed over packages; each counter may wrap once."""
    if start is None or end is None or len(start) != len(end):
        return None
    total_uj = 0
    for (e0, wrap), (e1, _) in zip(start, end):
        d = e1 - e0
        if d < 0:
            if wrap <= 0:
                return None
            d += wrap
        total_uj += d
    return total_uj / 1e6


def pci_bus_id(props) -> str | None:
    """NVML's "domain:bus:device.function" address ("00000000:1B:00.0") of a CUDA device from the
    integer pci_domain_id / pci_bus_id / pci_device_id of torch's device properties; None when absent."""
    ids = [getattr(props, k, None) for k in ("pci_domain_id", "pci_bus_id", "pci_device_id")]
    if not all(isinstance(v, int) for v in ids):
        return None
    return "%08X:%02X:%02X.0" % tuple(ids)


def nvml_handle(nvml, props, cuda_index: int):
    """The NVML handle of the CUDA device with properties `props`. CUDA numbers devices after
    CUDA_VISIBLE_DEVICES and NVML does not, so the device is found by PCI address, else by UUID; the
    CUDA index is the last resort (right only without remapping)."""
    bus = pci_bus_id(props)
    if bus is not None:
        try:
            return nvml.nvmlDeviceGetHandleByPciBusId(bus)
        except Exception:
            pass
    uuid = str(getattr(props, "uuid", "") or "").lower()
    if uuid:
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            got = nvml.nvmlDeviceGetUUID(handle)
            got = (got.decode() if isinstance(got, bytes) else str(got)).lower()
            if got.removeprefix("gpu-").removeprefix("mig-") == uuid.removeprefix("gpu-"):
                return handle
    return nvml.nvmlDeviceGetHandleByIndex(cuda_index)


class _Nvml:
    """A handle to the NVML energy counter of one CUDA device, or nothing when unavailable."""

    def __init__(self, device: torch.device) -> None:
        self.handle = None
        self.nvml = None
        if device.type != "cuda":
            return
        try:
            import pynvml  # optional dependency

            pynvml.nvmlInit()
            index = device.index if device.index is not None else torch.cuda.current_device()
            handle = nvml_handle(pynvml, torch.cuda.get_device_properties(index), index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # raises on GPUs without the counter
            self.nvml, self.handle = pynvml, handle
        except Exception:
            self.nvml = self.handle = None

    def read_mj(self) -> int | None:
        """The device's cumulative NVML energy counter in millijoules, or None when unavailable or unreadable."""
        if self.handle is None:
            return None
        try:
            return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
        except Exception:
            return None


_NVML_CACHE: dict[str, _Nvml] = {}


class Meter:
    """Context manager: `seconds` (wall, CUDA-synchronised), `gpu_j`, `cpu_j` (None when not
    measurable) and `joules` (their sum; NaN when neither was measured) of the block it wraps."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        key = str(self.device)
        if key not in _NVML_CACHE:
            _NVML_CACHE[key] = _Nvml(self.device)
        self._nvml = _NVML_CACHE[key]
        self.seconds = 0.0
        self.gpu_j: float | None = None
        self.cpu_j: float | None = None

    def __enter__(self) -> "Meter":
        synchronize(self.device)
        self._gpu0 = self._nvml.read_mj()
        self._cpu0 = read_rapl_uj()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._t0
        gpu1 = self._nvml.read_mj()
        self.gpu_j = None if self._gpu0 is None or gpu1 is None else (gpu1 - self._gpu0) / 1e3
        self.cpu_j = rapl_delta_j(self._cpu0, read_rapl_uj())

    @property
    def joules(self) -> float:
        """Energy of the block in joules: gpu_j + cpu_j over those measured; NaN when neither was."""
        parts = [v for v in (self.gpu_j, self.cpu_j) if v is not None]
        return float(sum(parts)) if parts else math.nan
