"""VGG-11 and VGG-19 with BatchNorm (Simonyan & Zisserman 2015) for small images: 3x3 conv-BN-ReLU
stacks, five 2x2 max-pools (ceil mode, so 28x28 inputs work too), 512-d embedding."""
from __future__ import annotations

from torch import Tensor, nn

from .base import ALModel

LAYOUTS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"),
}


class VGG(ALModel):
    """VGG-11 or VGG-19 with BatchNorm (`depth`: a key of LAYOUTS): 3x3 conv-BN-ReLU stacks, five
    ceil-mode 2x2 max-pools, global average pooling -> 512-d embedding."""

    def __init__(self, depth: str = "vgg19", n_classes: int = 10, in_channels: int = 3, dropout: float = 0.0) -> None:
        super().__init__(embedding_dim=512, n_classes=n_classes, dropout=dropout)
        layers, c = [], in_channels
        for v in LAYOUTS[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1, bias=False), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                c = v
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)

    def embed(self, x: Tensor) -> Tensor:
        """Globally average-pooled features (N, 512) of images x (N, in_channels, H, W)."""
        return self.features(x)
