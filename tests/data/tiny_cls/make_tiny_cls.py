# Copyright (c) mmhier contributors. All rights reserved.
"""Write a tiny, learnable image classification set as PNG files.

The layout is mmpretrain's ``CustomDataset`` folder format::

    ROOT/train/<class>/<class>_<i>.png
    ROOT/val/<class>/<class>_<i>.png

Each class is a stripe orientation (horizontal, vertical, diagonal) with a
random phase, period, colour and noise, so a small CNN can learn it in a few
epochs. Used by the tool tests and by ``resnet18-w8_1xb4_tiny-cls.py``.

Usage::

    python tests/data/tiny_cls/make_tiny_cls.py data/tiny_cls
"""
import argparse
import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np

CLASSES = ('horizontal', 'vertical', 'diagonal')


def _image(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One ``size x size`` BGR uint8 image of class ``label``."""
    yy, xx = np.mgrid[0:size, 0:size]
    coord = (yy, xx, yy + xx)[label]
    period = rng.integers(4, 9)
    phase = rng.integers(0, period)
    stripes = ((coord + phase) // (period // 2)) % 2
    colour = rng.integers(128, 256, size=3)
    img = stripes[..., None] * colour[None, None, :]
    img = img + rng.normal(0, 20, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_tiny_cls(root: str,
                  train_per_class: int = 8,
                  val_per_class: int = 4,
                  size: int = 32,
                  seed: int = 0) -> Dict[str, int]:
    """Write the PNG files under ``root``; return the count per split.

    Args:
        root (str): output folder (created).
        train_per_class (int): training images per class.
        val_per_class (int): validation images per class.
        size (int): image side in pixels.
        seed (int): seed of the generator; the same seed writes the same
            files.

    Returns:
        dict: ``{'train': n_train, 'val': n_val}``.
    """
    if min(train_per_class, val_per_class, size) < 1:
        raise ValueError('train_per_class, val_per_class and size must be '
                         f'positive, got {train_per_class!r}, '
                         f'{val_per_class!r}, {size!r}')
    rng = np.random.default_rng(seed)
    counts = {}
    for split, per_class in (('train', train_per_class), ('val',
                                                          val_per_class)):
        for label, name in enumerate(CLASSES):
            folder = osp.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                cv2.imwrite(
                    osp.join(folder, f'{name}_{i:03d}.png'),
                    _image(label, size, rng))
        counts[split] = per_class * len(CLASSES)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='output folder, e.g. data/tiny_cls')
    parser.add_argument('--train-per-class', type=int, default=8)
    parser.add_argument('--val-per-class', type=int, default=4)
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = make_tiny_cls(args.root, args.train_per_class, args.val_per_class,
                           args.size, args.seed)
    print(f'wrote {counts} images of {len(CLASSES)} classes to {args.root}')


if __name__ == '__main__':
    main()
