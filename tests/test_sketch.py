"""Drawings to the arrays the digit models take: the steps that make serving fast must not
change what the models see."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from modelport.inputs import sketch


def test_max_pool_keeps_each_blocks_strongest_ink():
    levels = np.random.default_rng(0).integers(0, 256, size=(7, 10), dtype=np.uint8)
    pooled = sketch.max_pool(levels, 3)
    assert pooled.shape == (3, 4)  # the partial blocks at the edges count too
    for row in range(3):
        for col in range(4):
            block = levels[row * 3 : row * 3 + 3, col * 3 : col * 3 + 3]
            assert pooled[row, col] == block.max()
    assert sketch.max_pool(levels, 1) is levels


def test_a_thin_pen_on_a_large_canvas_is_widened_for_the_model():
    canvas = Image.new("RGBA", (560, 560), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(150, 60), (400, 500)], fill=(0, 0, 0, 255), width=2)
    mnist = sketch.to_mnist(sketch.ink_from_image(canvas))
    assert mnist.shape == (28, 28) and mnist.max() == 1.0
    # Shrunk 22 times, a 2-pixel pen would be a tenth of a pixel; each row the stroke
    # crosses must carry at least the minimum stroke's worth of ink.
    crossed = mnist.sum(axis=1)[6:22]
    assert crossed.min() >= sketch.MNIST_MIN_STROKE


def test_float_ink_and_8_bit_levels_give_the_same_picture():
    canvas = Image.new("L", (300, 300), 0)
    ImageDraw.Draw(canvas).ellipse([80, 40, 220, 260], outline=255, width=14)
    levels = np.asarray(canvas)
    from_levels = sketch.to_mnist(levels)
    from_float = sketch.to_mnist(levels.astype(np.float32) / 255)
    assert np.abs(from_levels - from_float).max() < 1e-6


def test_faint_ink_is_stretched_to_full_strength():
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=(0, 0, 0, 90), width=16)
    ink = sketch.ink_from_image(canvas)
    assert ink.dtype == np.uint8 and ink.max() == 90
    assert sketch.to_mnist(ink).max() == 1.0
