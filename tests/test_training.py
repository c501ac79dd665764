"""Tests of training.py: the hot path against a bare reference loop, the stopping rule, NaN handling,
SWA averaging and BatchNorm update, and GRAD-MATCH's OMP against an explicit-gradient reference."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import tiny_splits
from dal_helpers.config import RunConfig
from dal_helpers.data import augment, normalize
from dal_helpers.inference import accuracy
from dal_helpers.models import make_model
from dal_helpers.training import (TrainStats, batch_bounds, gradmatch_subset, last_layer_grad_factors,
                                  omp_match, progress_bar, train)


def _model(seed=0, n_classes=3, size=12):
    torch.manual_seed(seed)
    return make_model("mnist_net", n_classes, 1, image_size=size)


@pytest.fixture()
def small():
    return tiny_splits(n_train=30, n_test=12, size=12)


def test_batch_bounds_merges_a_trailing_single_example():
    # 41 = 20 + 20 + 1: the lone last example joins the second batch (BatchNorm needs >= 2).
    assert batch_bounds(41, 20) == [(0, 20), (20, 41)]
    assert batch_bounds(40, 20) == [(0, 20), (20, 40)]
    assert batch_bounds(1, 20) == [(0, 1)]
    assert batch_bounds(45, 20) == [(0, 20), (20, 40), (40, 45)]


def _reference_train(model, x, y, cfg, gen, info, epochs):
    """The paper's recipe written plainly: same generator calls in the same order as train()."""
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=5e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.max_epochs)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        sched = None
    torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        xe, ye = x[perm], y[perm]
        if cfg.augment:
            xe = augment(xe, gen, pad=4, hflip=info.hflip)
        for s in range(0, len(ye), cfg.batch_size):
            out = model(normalize(xe[s:s + cfg.batch_size], info))
            loss = F.cross_entropy(out, ye[s:s + cfg.batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if sched is not None:
            sched.step()


@pytest.mark.parametrize("optimizer,lr,aug", [("sgd", 0.05, False), ("sgd", 0.05, True), ("adam", 1e-3, True)])
def test_train_matches_bare_reference_loop(small, optimizer, lr, aug):
    cfg = RunConfig(optimizer=optimizer, lr=lr, augment=aug, batch_size=8, max_epochs=4, train_acc_cutoff=1.0,
                    patience=50)
    m1, m2 = _model(), _model()
    stats = train(m1, small.x_train, small.y_train, cfg, torch.Generator().manual_seed(5), info=small.info)
    with torch.random.fork_rng():
        _reference_train(m2, small.x_train, small.y_train, cfg, torch.Generator().manual_seed(5), small.info,
                         stats.epochs)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5), k
    assert stats.n_seen == stats.epochs * 30
    assert len(stats.history) == stats.epochs


def test_train_leaves_global_rng_alone(small):
    m = _model()
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    train(m, small.x_train, small.y_train, RunConfig(max_epochs=2), torch.Generator().manual_seed(0),
          info=small.info)
    assert torch.equal(before, torch.random.get_rng_state())


def test_stopping_rule_cutoff_max_epochs_patience(small):
    x, y, info = small.x_train, small.y_train, small.info
    # Separable data, no augmentation: reaches 100% running accuracy well before 60 epochs.
    s = train(_model(), x, y, RunConfig(augment=False, max_epochs=60, lr=0.05), torch.Generator().manual_seed(0),
              info=info)
    assert s.stop == "cutoff" and s.train_acc >= 0.99 and s.epochs < 60
    # Unreachable cut-off, 3 epochs at most.
    s = train(_model(), x, y, RunConfig(max_epochs=3, train_acc_cutoff=1.0, patience=100, lr=1e-6),
              torch.Generator().manual_seed(0), info=info)
    assert s.stop == "max_epochs" and s.epochs == 3
    # A learning rate too small to change any prediction: accuracy is flat. The window rule (default)
    # fires once the window holds `patience` = 2 equal accuracies (epoch 2); the "best" rule needs
    # epoch 1 to set the best and 2 further epochs without a better one (epoch 3).
    flat = dict(augment=False, max_epochs=50, patience=2, lr=1e-12, train_acc_cutoff=1.0)
    s = train(_model(), x, y, RunConfig(**flat), torch.Generator().manual_seed(0), info=info)
    assert s.stop == "patience" and s.epochs == 2
    s = train(_model(), x, y, RunConfig(**flat, patience_rule="best"), torch.Generator().manual_seed(0), info=info)
    assert s.stop == "patience" and s.epochs == 3


@pytest.mark.parametrize("history,patience,rule,expected", [
    # window: every later value must stay below (earliest-so-far minimum + 0.001)
    ([0.5, 0.6, 0.6, 0.6], 3, "window", True),          # window [0.6, 0.6, 0.6]: no gain
    ([0.5, 0.6, 0.59, 0.5905], 3, "window", True),      # window [0.6, 0.59, 0.5905]: gains -0.01, +0.0005 < 0.001
    ([0.5, 0.6, 0.59, 0.5915], 3, "window", False),     # 0.5915 - 0.59 = 0.0015 >= 0.001: an improvement
    ([0.9, 0.8, 0.85, 0.7], 3, "window", False),        # 0.85 - 0.8 = 0.05 inside the window
    ([0.9, 0.8, 0.7, 0.6], 3, "window", True),          # strictly falling: nothing improves
    ([0.6, 0.6], 3, "window", False),                   # fewer epochs than the window
    # best: no new best in the last `patience` epochs
    ([0.9, 0.8, 0.85, 0.7], 3, "best", True),           # 0.9 from epoch 1 is never beaten
    ([0.5, 0.8, 0.85, 0.7], 3, "best", False),          # 0.85 > 0.5
    ([0.9, 0.8, 0.85], 3, "best", False),               # needs patience + 1 epochs
])
def test_saturated_rules(history, patience, rule, expected):
    from dal_helpers.training import saturated
    assert saturated(history, patience, 0.001, rule) is expected


def test_eval_mode_accuracy_is_the_eval_accuracy_after_the_last_epoch(small):
    m = _model()
    cfg = RunConfig(train_acc_mode="eval", max_epochs=5, train_acc_cutoff=1.0, patience=50)
    s = train(m, small.x_train, small.y_train, cfg, torch.Generator().manual_seed(1), info=small.info)
    assert s.train_acc == pytest.approx(accuracy(m, small.x_train, small.y_train, small.info))


def test_nan_loss_names_epoch_and_learning_rate(small):
    m = _model()
    with torch.no_grad():
        m.head.weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"epoch 1 at learning rate 0\.01"):
        train(m, small.x_train, small.y_train, RunConfig(max_epochs=3), torch.Generator().manual_seed(0),
              info=small.info)


def test_empty_labeled_set_trains_nothing(small):
    s = train(_model(), small.x_train[:0], small.y_train[:0], RunConfig(), torch.Generator(), info=small.info)
    assert s.epochs == 0 and math.isnan(s.train_acc) and s.stop == "empty"


def test_swa_weights_are_the_average_of_the_epoch_end_weights(small):
    # In eval mode the accuracy pass runs after every epoch's last step and before the SWA update, so a
    # forward pre-hook sees exactly the weights that SWA averages.
    m = _model()
    snaps = []
    m.register_forward_pre_hook(lambda mod, inp: snaps.append(
        [p.detach().clone() for p in mod.parameters()]) if not mod.training else None)
    cfg = RunConfig(swa=True, swa_start_acc=1e-9, swa_lr=0.02, train_acc_mode="eval", max_epochs=4,
                    train_acc_cutoff=1.0, patience=50)
    s = train(m, small.x_train, small.y_train, cfg, torch.Generator().manual_seed(0), info=small.info)
    assert s.swa_epochs == s.epochs == 4 == len(snaps)
    for i, p in enumerate(m.parameters()):
        ref = torch.stack([snap[i] for snap in snaps]).mean(0)
        assert torch.allclose(p, ref, atol=1e-6)


class _BNNet(nn.Module):
    """A tiny model with BatchNorm first, so its running statistics are checkable by hand."""

    def __init__(self, d=144, n_classes=3):
        super().__init__()
        self.bn = nn.BatchNorm1d(d)
        self.head = nn.Linear(d, n_classes)

    def forward(self, x):
        return self.head(self.bn(x.flatten(1)))


def test_swa_recomputes_batchnorm_statistics_on_unaugmented_data(small):
    torch.manual_seed(0)
    m = _BNNet()
    cfg = RunConfig(swa=True, swa_start_acc=1e-9, max_epochs=3, train_acc_cutoff=1.0, patience=50,
                    eval_batch_size=1000)
    train(m, small.x_train, small.y_train, cfg, torch.Generator().manual_seed(0), info=small.info)
    # One pass, one batch, cumulative averaging: running stats = moments of the normalised pixels.
    feats = normalize(small.x_train, small.info).flatten(1)
    assert torch.allclose(m.bn.running_mean, feats.mean(0), atol=1e-5)
    assert torch.allclose(m.bn.running_var, feats.var(0, unbiased=True), atol=1e-4)


def test_last_layer_grad_factors_match_autograd():
    g0 = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 4, generator=g0)
    emb = torch.randn(5, 3, generator=g0)
    y = torch.tensor([0, 3, 1, 1, 2])
    head = nn.Linear(3, 4)
    g, e = last_layer_grad_factors(logits, emb, y)
    for i in range(5):
        # Per-sample CE through a head whose output is fixed to logits[i] at emb[i]: d/dW = g e^T.
        w = torch.zeros(4, 3, requires_grad=True)
        b = torch.zeros(4, requires_grad=True)
        out = logits[i] + w @ emb[i] + b
        F.cross_entropy(out[None], y[i:i + 1]).backward()
        full = torch.cat([w.grad, b.grad[:, None]], 1)
        assert torch.allclose(torch.outer(g[i], e[i]), full, atol=1e-6)
    del head


def _omp_reference(G, k, lam, tol=1e-10):
    """OMP with explicit gradient vectors G (n, d) in float64 numpy: the textbook form."""
    b = G.sum(0)
    chosen, w = [], np.zeros(0)
    while len(chosen) < k:
        r = b - (G[chosen].T @ w if chosen else 0)
        corr = G @ r
        corr[chosen] = -np.inf
        j = int(np.argmax(corr))
        if not corr[j] > 0:
            break
        chosen.append(j)
        A = G[chosen]
        w = np.linalg.solve(A @ A.T + lam * np.eye(len(chosen)), A @ b)
        if np.sum((b - A.T @ w) ** 2) <= tol * np.sum(b ** 2):
            break
    return chosen, np.clip(w, 0, None)


@pytest.mark.parametrize("k", [1, 4, 9])
def test_omp_match_equals_explicit_gradient_omp(k):
    gen = torch.Generator().manual_seed(k)
    logits = torch.randn(12, 3, generator=gen) * 2
    emb = torch.rand(12, 5, generator=gen)
    y = torch.randint(0, 3, (12,), generator=gen)
    g, e = last_layer_grad_factors(logits, emb, y)
    idx, w = omp_match(g.double(), e.double(), k, lam=0.5)
    G = torch.stack([torch.outer(g[i], e[i]).flatten() for i in range(12)]).double().numpy()
    ref_idx, ref_w = _omp_reference(G, k, 0.5)
    assert idx.tolist() == ref_idx
    assert np.allclose(w.double().numpy(), ref_w, atol=1e-5)


def test_gradmatch_subset_per_class_sizes_and_weights(small):
    m = _model()
    y = small.y_train  # 10 per class
    idx, w = gradmatch_subset(m, small.x_train, y, 0.3, small.info, torch.device("cpu"),
                              torch.Generator().manual_seed(0))
    # round(0.3 * 10) = 3 points of each of the 3 classes, distinct, weights >= 0 with mean 1.
    assert len(idx) == 9 and len(set(idx.tolist())) == 9
    assert torch.bincount(y[idx], minlength=3).tolist() == [3, 3, 3]
    assert bool((w >= 0).all()) and float(w.mean()) == pytest.approx(1.0)


def test_train_with_gradmatch_reselects_every_interval(small):
    cfg = RunConfig(dss=True, dss_fraction=0.5, dss_interval=2, max_epochs=5, train_acc_cutoff=1.0,
                    patience=50, lr=1e-6)
    s = train(_model(), small.x_train, small.y_train, cfg, torch.Generator().manual_seed(0), info=small.info)
    # Subsets at epochs 0, 2, 4 -> 3 selections; each epoch sees 5 of 10 points per class = 15.
    assert s.dss and s.n_subsets == 3 and s.n_seen == 5 * 15
    s = train(_model(), small.x_train, small.y_train, cfg, torch.Generator().manual_seed(0), info=small.info,
              use_dss=False)
    assert not s.dss and s.n_subsets == 0 and s.n_seen == 5 * 30


def test_progress_modes(capsys):
    assert progress_bar(3, "x", False) is None
    bar = progress_bar(3, "round", "lines")
    for _ in range(3):
        bar.update(1)
    bar.close()
    assert "round: epoch 3/3" in capsys.readouterr().out
    with pytest.raises(ValueError, match="progress='nope'"):
        progress_bar(3, "x", "nope")


def test_terminal_progress_stays_out_of_the_executed_notebook(tmp_path, capfd):
    # Under papermill, "terminal" lines go to the kernel process's stderr (the terminal that ran it),
    # not into the notebook's outputs, so the HTML report carries none of them.
    import nbformat
    import papermill

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "from dal_helpers.training import progress_bar\n"
        "bar = progress_bar(3, 'round 1/4', 'terminal')\n"
        "bar.set_postfix_str('train acc 50.0%')\n"
        "for _ in range(3):\n    bar.update(1)\n"
        "bar.close()\nprint('done')")]
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    papermill.execute_notebook(str(src), str(out), progress_bar=False, cwd=str(tmp_path))
    outputs = nbformat.read(out, as_version=4).cells[0].outputs
    assert [o.get("text", "") for o in outputs] == ["done\n"]
    assert "round 1/4: epoch 3/3 train acc 50.0%" in capfd.readouterr().err


def test_train_stats_defaults():
    s = TrainStats()
    assert s.epochs == 0 and s.history == []


def test_rapl_reading_and_wraparound(tmp_path):
    from dal_helpers.energy import rapl_delta_j, read_rapl_uj

    assert read_rapl_uj(tmp_path / "absent") is None
    for name, e in (("intel-rapl:0", 1_000_000), ("intel-rapl:1", 5_000), ("intel-rapl:0:0", 7)):
        d = tmp_path / name
        d.mkdir()
        (d / "energy_uj").write_text(f"{e}\n")
        (d / "max_energy_range_uj").write_text("10000000\n")
    start = read_rapl_uj(tmp_path)
    assert start == [(1_000_000, 10_000_000), (5_000, 10_000_000)]   # packages only, not the sub-domain
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("3000000")   # +2 J
    (tmp_path / "intel-rapl:1" / "energy_uj").write_text("1000")      # the counter wrapped past its range
    # package 1: (1000 - 5000) + 10_000_000 = 9_996_000 uJ; total 2 J + 9.996 J.
    assert rapl_delta_j(start, read_rapl_uj(tmp_path)) == pytest.approx(11.996)
    assert rapl_delta_j(None, start) is None


def test_meter_on_cpu_times_the_block_and_reports_missing_energy_as_nan():
    import time as _time

    from dal_helpers.energy import Meter

    with Meter("cpu") as m:
        _time.sleep(0.02)
    assert m.seconds >= 0.02 and m.gpu_j is None
    assert (m.cpu_j is None and math.isnan(m.joules)) or m.joules == m.cpu_j


def test_nvml_handle_is_found_by_pci_address_or_uuid_not_by_the_cuda_index():
    from types import SimpleNamespace

    from dal_helpers.energy import nvml_handle, pci_bus_id

    class FakeNvml:
        """Two GPUs in NVML order; CUDA_VISIBLE_DEVICES=1 makes the second one CUDA device 0."""
        gpus = [("00000000:1A:00.0", "GPU-aaaa-0000"), ("00000000:1B:00.0", "GPU-bbbb-1111")]

        def __init__(self, by_pci=True):
            self.by_pci = by_pci

        def nvmlDeviceGetHandleByPciBusId(self, bus):
            if not self.by_pci:
                raise RuntimeError("NVML_ERROR_NOT_FOUND")
            return next(i for i, (b, _) in enumerate(self.gpus) if b == bus)

        def nvmlDeviceGetCount(self):
            return len(self.gpus)

        def nvmlDeviceGetHandleByIndex(self, i):
            return i

        def nvmlDeviceGetUUID(self, handle):
            return self.gpus[handle][1].encode()

    props = SimpleNamespace(pci_domain_id=0, pci_bus_id=0x1B, pci_device_id=0, uuid="bbbb-1111")
    assert pci_bus_id(props) == "00000000:1B:00.0"
    assert nvml_handle(FakeNvml(), props, cuda_index=0) == 1
    assert nvml_handle(FakeNvml(by_pci=False), props, cuda_index=0) == 1         # by UUID
    assert nvml_handle(FakeNvml(by_pci=False), SimpleNamespace(), cuda_index=0) == 0   # nothing to match
