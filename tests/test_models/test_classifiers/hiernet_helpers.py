# Copyright (c) mmhier contributors. All rights reserved.
"""The trees, the small test backbone and the builders shared by the
HierNetClassifier tests (``test_hiernet_classifier.py``,
``test_hiernet_training.py``); not a test module."""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401

# A=0, B=1, a1=2, a2=3, b1=4, b2=5, b3=6 (breadth first).
TREE = {'A': ['a1', 'a2'], 'B': ['b1', 'b2', 'b3']}
# x=0, y=1, x1=2, x2=3, x1a=4, x1b=5: leaves at depths 1, 2 and 3.
GENERAL = {'x': {'x1': ['x1a', 'x1b'], 'x2': None}, 'y': None}


@MODELS.register_module(force=True)
class HierNetTestCNN(nn.Sequential):
    """Four conv-bn-relu units: 3 -> 4 -> 8 -> 8 -> 16 channels."""

    def __init__(self, in_channels: int = 3):
        chans = [in_channels, 4, 8, 8, 16]
        super().__init__(*[
            nn.Sequential(
                nn.Conv2d(a, b, 3, stride=1 +
                          (i % 2), padding=1), nn.BatchNorm2d(b), nn.ReLU())
            for i, (a, b) in enumerate(zip(chans, chans[1:]))
        ])


class NotSplittable(nn.Module):

    def forward(self, x):
        return x


def build(tree=TREE, split_points=(2, ), **kwargs):
    cfg = dict(
        type='HierNetClassifier',
        tree=tree,
        backbone=dict(type='HierNetTestCNN'),
        split_points=list(split_points))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def fix_router(model, key, probs):
    """Make the router of ``key`` output ``probs`` for every input."""
    fc = model.classifiers[key].fc
    with torch.no_grad():
        fc.weight.zero_()
        fc.bias.copy_(torch.tensor(probs).log())


def samples(paths=None, labels=None):
    out = []
    n = len(paths) if paths is not None else len(labels)
    for i in range(n):
        ds = DataSample()
        if labels is not None:
            ds.set_gt_label(labels[i])
        if paths is not None:
            ds.set_field(torch.tensor([paths[i]]), 'gt_path')
        out.append(ds)
    return out
