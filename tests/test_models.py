"""Models: every registered network keeps the contract the strategies rely on."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from dal_helpers.models import MODELS, make_model, has_active_dropout

SHAPES = [(1, 28), (3, 32)]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("channels,size", SHAPES)
def test_forward_embed_and_head(name, channels, size):
    torch.manual_seed(0)
    m = make_model(name, n_classes=7, in_channels=channels, image_size=size).eval()
    x = torch.randn(3, channels, size, size)
    logits, emb = m.forward_with_embedding(x)
    assert logits.shape == (3, 7)
    assert emb.shape == (3, m.embedding_dim) == m.embed(x).shape
    assert isinstance(m.head, nn.Linear) and m.head.in_features == m.embedding_dim and m.head.out_features == 7
    assert isinstance(m.dropout, nn.Dropout)
    # forward is head(dropout(embed(x))): in eval mode dropout is the identity
    assert torch.allclose(m(x), m.head(emb), atol=1e-5)


def test_mnist_net_follows_paper_layout():
    m = make_model("mnist_net", 10, 1)
    kinds = [type(l).__name__ for l in m.features]
    # Paper order with the ReLU after the pool and Flatten before the dropout (test below: same numbers).
    assert kinds == ["Conv2d", "ReLU", "Conv2d", "MaxPool2d", "ReLU", "Flatten", "Dropout", "Linear", "ReLU"]
    assert m.dropout.p == 0.5 and has_active_dropout(m)


@pytest.mark.parametrize("train_mode", [False, True])
def test_mnist_net_matches_paper_order_exactly(train_mode):
    """conv -> ReLU -> pool -> dropout -> flatten (paper) and conv -> pool -> ReLU -> flatten -> dropout
    (ours, channels_last pool) give the same activations and weight gradients bit for bit, in training
    mode too: the dropout mask is drawn in the same (NCHW) order from the same generator state."""
    torch.manual_seed(0)
    m = make_model("mnist_net", 10, 1).train(train_mode)
    ref = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU()).train(train_mode)
    ref.load_state_dict(m.features.state_dict())
    x = torch.randn(20, 1, 28, 28)
    torch.manual_seed(1)
    a = m.features(x)
    torch.manual_seed(1)
    b = ref(x)
    assert torch.equal(a, b)
    a.square().sum().backward()
    b.square().sum().backward()
    for p, q in zip(m.features.parameters(), ref.parameters()):
        assert torch.equal(p.grad, q.grad)


def test_dropout_gives_mc_uncertainty_when_enabled():
    torch.manual_seed(0)
    m = make_model("resnet18", 10, 3, dropout=0.3)
    m.eval()
    m.dropout.train()
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(m(x), m(x))  # two MC samples differ
    assert not has_active_dropout(make_model("resnet18", 10, 3))  # paper default: p = 0


def test_shakeshake_is_stochastic_in_training_and_averaged_in_eval():
    torch.manual_seed(0)
    m = make_model("resnet18_shakeshake", 10, 3)
    x = torch.randn(2, 3, 32, 32)
    m.eval()
    assert torch.allclose(m(x), m(x))
    m.train()
    a, b = m(x), m(x)
    assert not torch.allclose(a, b)
    (a.sum()).backward()
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)


def test_bad_names_and_values():
    with pytest.raises(KeyError, match="unknown model 'resnet50'.*dla.*mnist_net"):
        make_model("resnet50", 10)
    with pytest.raises(ValueError, match="n_classes=1"):
        make_model("mnist_net", 1)
    with pytest.raises(ValueError, match="dropout=1.5"):
        make_model("vgg11", 10, dropout=1.5)


@pytest.mark.parametrize("name,channels,size", [("mnist_net", 1, 28), ("resnet18", 3, 32)])
def test_cpu_inference_runs_in_cache_sized_batches_with_the_same_outputs(name, channels, size):
    from dal_helpers import inference
    from dal_helpers.data import DATASETS, normalize

    torch.manual_seed(0)
    m = make_model(name, n_classes=10, in_channels=channels, image_size=size)
    info = DATASETS["mnist" if channels == 1 else "cifar10"]
    x = torch.randint(0, 256, (150, channels, size, size), dtype=torch.uint8)
    seen = []
    hook = m.register_forward_pre_hook(lambda mod, args: seen.append(len(args[0])))
    logits = inference.predict(m, x, info, "cpu", batch_size=1024)
    hook.remove()
    cap = inference.CPU_BATCH
    assert cap < len(x)
    assert seen == [cap] * (150 // cap) + [150 % cap]            # 1,024 asked, CPU_BATCH used
    assert inference.inference_batch(torch.device("cuda"), 1024) == 1024
    with torch.no_grad():
        whole = m.eval()(normalize(x, info))
    assert torch.allclose(logits, whole, atol=1e-4)             # one unbatched pass gives the same logits


# --- your own model: models.register and the contract check ----------------------------------------

from dal_helpers import models as _models  # noqa: E402


@pytest.fixture()
def _restore_models():
    before, users = dict(_models.MODELS), set(_models.USER_MODELS)
    yield
    _models.MODELS.clear(); _models.MODELS.update(before)
    _models.USER_MODELS.clear(); _models.USER_MODELS.update(users)


class TinyNet(_models.ALModel):
    def __init__(self, n_classes, in_channels, image_size=32, dropout=0.25):
        super().__init__(16, n_classes, dropout)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size * image_size, 16), nn.ReLU())

    def embed(self, x):
        return self.body(x)


def test_register_builds_through_make_model_and_the_loop(_restore_models):
    from dal_helpers.config import RunConfig
    from dal_helpers.loop import initial_model
    from tests.conftest import tiny_splits

    _models.register("tiny", TinyNet, in_channels=1, image_size=12)
    m = make_model("tiny", n_classes=3, in_channels=1, image_size=12, dropout=0.1)
    assert isinstance(m, TinyNet) and m.dropout.p == 0.1 and m.head.out_features == 3
    assert m.body[1].in_features == 144                   # image_size reached the builder
    net = initial_model(RunConfig(model="tiny"), tiny_splits(n_classes=3, size=12))
    assert net(torch.zeros(2, 1, 12, 12)).shape == (2, 3)
    with pytest.raises(ValueError, match="built-in"):
        _models.register("resnet18", TinyNet)


class NoHead(nn.Module):
    def __init__(self, n_classes, in_channels, image_size=32):
        super().__init__()
        self.fc = nn.Linear(in_channels * image_size * image_size, n_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


class WrongEmbed(TinyNet):
    def embed(self, x):
        return self.body(x)[:, :8]                        # says 16, returns 8


@pytest.mark.parametrize("builder,missing", [
    (NoHead, ["embed(x)", "embedding_dim", "head: an nn.Linear", "dropout: an nn.Dropout", "forward_with_embedding"]),
    (WrongEmbed, ["embed/forward_with_embedding to run"]),   # head(8-dim) fails: reported with the error
    (lambda n_classes, in_channels: "not a model", ["returned a str"]),
])
def test_register_names_every_missing_part(_restore_models, builder, missing):
    with pytest.raises(TypeError) as err:
        _models.register("broken", builder, in_channels=1, image_size=8)
    for part in missing:
        assert part in str(err.value), (part, str(err.value))
    assert "broken" not in _models.MODELS
