"""Canvas-style augmentation for 28x28 digits, in batches, with PyTorch.

A drawing reaches the CNN through ``sketch.to_mnist`` (crop to the ink, fit a 20x20 box
keeping the aspect, centre by mass), so whatever a digit undergoes here, it ends the same
way: every augmented picture is re-normalised by ``sketch.to_mnist`` itself, and the
network trains on exactly the distribution serving feeds it.

What varies, per digit: rotation, shear, aspect and sub-pixel position (an affine map),
a smooth elastic distortion, the stroke's width (thinned or thickened by min/max pooling)
and its edge (soft like a scanned pen or crisp like a canvas line). The work is done at
1.5 times MNIST's resolution, so that a pooling step is two thirds of an output pixel, as a canvas
stroke downscaled by ``to_mnist`` would be.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from modelport.inputs import sketch
from modelport.inputs.errors import InputError

PAD = 4  # around the 28x28 digit, so a rotated or stretched digit keeps its corners
WORK = 54  # side of the working picture: the padded digit at 1.5 times its resolution


@dataclass(frozen=True)
class Augmentation:
    rotation_degrees: float = 15.0
    shear: float = 0.25
    aspect: float = 0.25  # log-uniform width/height change, +-
    shift: float = 0.04  # in normalised coordinates (1.0 = half the padded picture)
    elastic_probability: float = 0.5
    elastic_strength: float = 0.035
    elastic_grid: int = 4
    # stroke steps of one working pixel: -1 thins, +1/+2 thicken; drawn uniformly
    stroke_steps: tuple[int, ...] = (-1, 0, 0, 1, 2)
    crisp_probability: float = 0.5


def augment(
    images: np.ndarray, generator: torch.Generator, settings: Augmentation = Augmentation()
) -> np.ndarray:
    """Augmented, re-normalised copies of float ``(N, 28, 28)`` ink in [0, 1]."""
    batch = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))[:, None]
    count = batch.shape[0]
    padded = F.pad(batch, (PAD, PAD, PAD, PAD))
    grid = F.affine_grid(
        _affine(count, generator, settings), [count, 1, WORK, WORK], align_corners=False
    )
    grid = grid + _elastic(count, generator, settings)
    warped = F.grid_sample(padded, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    warped = _stroke(warped, generator, settings.stroke_steps)
    crisp = torch.rand(count, generator=generator) < settings.crisp_probability
    warped[crisp] = ((warped[crisp] - 0.25) * 2.5).clamp(0.0, 1.0)
    pictures = warped[:, 0].numpy()
    out = np.empty((count, 28, 28), dtype=np.float32)
    for i, picture in enumerate(pictures):
        try:
            out[i] = sketch.to_mnist(picture)
        except InputError:  # thinned to nothing: keep the digit as it was
            out[i] = sketch.to_mnist(np.asarray(images[i], dtype=np.float32))
    return out


def _affine(count: int, generator: torch.Generator, s: Augmentation) -> torch.Tensor:
    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(count, generator=generator)

    angle = uniform(-s.rotation_degrees, s.rotation_degrees) * (math.pi / 180)
    shear = uniform(-s.shear, s.shear)
    aspect = torch.exp(uniform(-s.aspect, s.aspect))
    sx, sy = torch.sqrt(aspect), 1 / torch.sqrt(aspect)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # rotation @ shear @ scale, mapping output coordinates to input ones
    a11, a12 = cos * sx, (cos * shear - sin) * sy
    a21, a22 = sin * sx, (sin * shear + cos) * sy
    tx, ty = uniform(-s.shift, s.shift), uniform(-s.shift, s.shift)
    return torch.stack(
        [torch.stack([a11, a12, tx], dim=1), torch.stack([a21, a22, ty], dim=1)], dim=1
    )


def _elastic(count: int, generator: torch.Generator, s: Augmentation) -> torch.Tensor:
    """A smooth random displacement, ``(N, WORK, WORK, 2)``, zero for some digits."""
    coarse = torch.randn(count, 2, s.elastic_grid, s.elastic_grid, generator=generator)
    on = (torch.rand(count, generator=generator) < s.elastic_probability).float()
    coarse = coarse * (s.elastic_strength * on)[:, None, None, None]
    field = F.interpolate(coarse, size=(WORK, WORK), mode="bilinear", align_corners=True)
    return field.permute(0, 2, 3, 1)


def _stroke(
    pictures: torch.Tensor, generator: torch.Generator, steps: tuple[int, ...]
) -> torch.Tensor:
    """Thin (min pooling) or thicken (max pooling) each stroke by its drawn number of steps."""
    choice = torch.tensor(steps)[
        torch.randint(len(steps), (pictures.shape[0],), generator=generator)
    ]
    out = pictures.clone()
    for step in sorted(set(steps) - {0}):
        chosen = choice == step
        if not bool(chosen.any()):
            continue
        picked = pictures[chosen]
        for _ in range(abs(step)):
            if step > 0:
                picked = F.max_pool2d(picked, 3, stride=1, padding=1)
            else:
                picked = -F.max_pool2d(-picked, 3, stride=1, padding=1)
        out[chosen] = picked
    return out
