"""VAAL (Sinha et al. 2019): a variational autoencoder and a discriminator trained adversarially on the
labeled and unlabeled images each round; the points the discriminator deems least likely to be labeled
are selected.

The VAE learns a latent space shared by both sets (reconstruction + beta-KL), and also tries to make the
discriminator call every latent code "labeled"; the discriminator learns to tell the two sets apart.
The networks are small convolutional ones sized for 28x28 and 32x32 inputs (any side divisible by 4
works): two stride-2 convolutions down, two transposed convolutions up. Both are built and trained
afresh every round; their initial weights, mini-batches and reparameterisation noise all come from the
round's generator, so a fixed generator gives the same selection on CPU. The task model is not used.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..data import normalize
from .context import SelectionContext, top_positions

VAAL_STEPS = 300          # optimisation steps per round (each: one labeled and one unlabeled batch)
VAAL_BATCH = 64
VAAL_LATENT = 32
VAAL_LR = 5e-4            # Adam, both networks (Sinha et al. use 5e-4)
VAAL_BETA = 1.0           # weight of the KL term
VAAL_ADV = 1.0            # weight of the VAE's adversarial term


class VAE(nn.Module):
    """VAAL's convolutional VAE: two stride-2 convs to a Gaussian code of `latent` dimensions, two
    transposed convs back to (channels, size, size); size must be a multiple of 4."""

    def __init__(self, channels: int, size: int, latent: int = VAAL_LATENT) -> None:
        super().__init__()
        if size % 4:
            raise ValueError(f"image size {size} is invalid for VAAL's VAE; allowed: a multiple of 4 (28, 32)")
        self.side = size // 4
        flat = 64 * self.side * self.side
        self.enc = nn.Sequential(nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1),
                                 nn.ReLU(), nn.Flatten())
        self.mu = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent)
        self.dec_in = nn.Linear(latent, flat)
        self.dec = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(32, channels, 4, 2, 1))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar), each (N, latent), of images x (N, channels, size, size); logvar clamped to [-10, 10]."""
        e = self.enc(x)
        return self.mu(e), self.logvar(e).clamp(-10, 10)

    def decode(self, z: Tensor) -> Tensor:
        """Reconstruction (N, channels, size, size) of codes z (N, latent), without output activation."""
        return self.dec(self.dec_in(z).view(-1, 64, self.side, self.side))


def discriminator(latent: int = VAAL_LATENT) -> nn.Module:
    """MLP mapping codes (N, latent) to (N, 1) logits that a code comes from a labeled image."""
    return nn.Sequential(nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))


@torch.no_grad()
def init_from_generator(module: nn.Module, gen: torch.Generator) -> None:
    """Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases (PyTorch's default scale) drawn from gen."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            fan_in = m.weight[0].numel() if not isinstance(m, nn.ConvTranspose2d) else \
                m.weight.shape[0] * m.weight[0, 0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            for p in (m.weight, m.bias):
                if p is not None:
                    r = torch.rand(p.shape, generator=gen, device=gen.device).to(p.device)
                    p.copy_((2 * r - 1) * bound)


def _draw(n: int, k: int, gen: torch.Generator, device: torch.device) -> Tensor:
    return torch.randint(0, n, (k,), generator=gen, device=gen.device).to(device)


def train_vaal(x_labeled: Tensor, x_pool: Tensor, gen: torch.Generator, steps: int = VAAL_STEPS,
               batch: int = VAAL_BATCH) -> tuple[VAE, nn.Module]:
    """Train a VAE and a discriminator on float images x_labeled (L, C, H, W) (L may be 0) and x_pool
    (N, C, H, W), both already normalised and on one device. Returns (vae, discriminator) in eval mode."""
    dev = x_pool.device
    vae = VAE(x_pool.shape[1], x_pool.shape[2]).to(dev)
    disc = discriminator().to(dev)
    init_from_generator(vae, gen)
    init_from_generator(disc, gen)
    opt_v = torch.optim.Adam(vae.parameters(), lr=VAAL_LR)
    opt_d = torch.optim.Adam(disc.parameters(), lr=VAAL_LR)
    bce = nn.functional.binary_cross_entropy_with_logits
    sets = [(x_pool, 0.0)] + ([(x_labeled, 1.0)] if len(x_labeled) else [])
    for _ in range(steps):
        xs = [(x[_draw(len(x), min(batch, len(x)), gen, dev)], lab) for x, lab in sets]
        loss_v = torch.zeros((), device=dev)
        mus = []
        for xb, _lab in xs:
            mu, logvar = vae.encode(xb)
            eps = torch.randn(mu.shape, generator=gen, device=gen.device).to(dev)
            recon = vae.decode(mu + eps * (0.5 * logvar).exp())
            kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1).mean()
            loss_v = loss_v + nn.functional.mse_loss(recon, xb) + VAAL_BETA * kl / xb[0].numel()
            # the VAE wants every code to look labeled
            loss_v = loss_v + VAAL_ADV * bce(disc(mu).squeeze(1), torch.ones(len(xb), device=dev))
            mus.append(mu)
        opt_v.zero_grad(set_to_none=True)
        loss_v.backward()
        opt_v.step()
        loss_d = sum(bce(disc(mu.detach()).squeeze(1), torch.full((len(mu),), lab, device=dev))
                     for mu, (_, lab) in zip(mus, xs))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
    return vae.eval(), disc.eval()


@torch.no_grad()
def labeled_probability(vae: VAE, disc: nn.Module, x: Tensor, batch: int = 1024) -> Tensor:
    """(N,) discriminator probability that each (normalised) image belongs to the labeled set."""
    out = [torch.sigmoid(disc(vae.encode(x[s:s + batch])[0]).squeeze(1)) for s in range(0, len(x), batch)]
    return torch.cat(out) if out else torch.empty(0, device=x.device)


def vaal_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """VAAL: train VAE + discriminator on labeled vs unlabeled images; pick the least 'labeled-looking'."""
    xp = normalize(ctx.x_pool, ctx.info)
    xl = normalize(ctx.x_labeled, ctx.info)
    with torch.enable_grad():
        vae, disc = train_vaal(xl, xp, gen, steps=VAAL_STEPS, batch=VAAL_BATCH)
    p = labeled_probability(vae, disc, xp)
    return ctx.pool_idx[top_positions(-p, budget)]
