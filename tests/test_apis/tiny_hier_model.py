# Copyright (c) mmhier contributors. All rights reserved.
"""Write a tiny model config, a checkpoint and PNG images for the inference
tests (``tests/test_apis``, ``tests/test_tools/test_predict.py``).

Two models on the same small variable-depth tree:

- ``hier``: CIFAR ResNet-18 with 8 base channels, all four stages, the
  pooling conversion neck (DHNN section 3.3) and a CNN-S2S head (beam 3);
  test pipeline ``LoadImageFromFile -> Resize 32x32 -> PackHierInputs``;
- ``flat``: the same backbone, global average pooling and
  ``LinearClsHead(num_classes=N)`` over the N tree nodes; test pipeline
  without resizing, so images keep their sizes (paths implied, Remark 1).

Weights are random (seeded); checkpoints are written with
``mmengine.runner.save_checkpoint`` and carry ``dataset_meta`` with the
``ClassTree`` as the Runner saves it.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint
from mmpretrain.registry import MODELS

from mmhier.structures import ClassTree

# A general tree: 'dog' is an inner node with two children, 'plant' a
# level-1 leaf; N = 9 nodes, depth T = 3.
TREE = {
    'animal': {
        'cat': [],
        'dog': ['puppy', 'hound']
    },
    'vehicle': ['car', 'bus'],
    'plant': {},
}

_COMMON = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmhier'], allow_failed_imports=False)
class_tree = {tree!r}
data_preprocessor = {preprocessor!r}
test_pipeline = {pipeline!r}
test_dataloader = dict(
    batch_size=2,
    num_workers=0,
    dataset=dict(
        type='HierDataset',
        data_root='',
        ann_file='',
        tree={dataset_tree},
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
"""

_BACKBONE = ("dict(type='ResNet_CIFAR', depth=18, in_channels={ch}, "
             "stem_channels=8, base_channels=8, out_indices={out})")
COLOUR = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
GREY = dict(mean=[127.5], std=[50.], to_rgb=False)

HIER_MODEL = """
model = dict(
    type='ImageClassifier',
    backbone={backbone},
    neck=dict(
        type='HierConversionNeck',
        in_channels=[8, 16, 32, 64],
        input_size=32,
        strides=(1, 2, 4, 8),
        out_channels=64,
        stage_groups='deep_to_coarse',
        num_steps=3,
        conversion='pool_avg'),
    head=dict(
        type='HierS2SHead',
        tree=class_tree,
        in_channels=64,
        hidden_size=16,
        mask_levels=True,
        beam_size=3))
"""

FLAT_MODEL = """
model = dict(
    type='ImageClassifier',
    backbone={backbone},
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={n}, in_channels=64))
"""

RESIZE_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackHierInputs'),
]
PLAIN_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackHierInputs')]
# an in-memory data set's pipeline (CIFAR-like: RGB arrays, no loading)
MEMORY_PIPELINE = [dict(type='PackHierInputs')]


def tree() -> ClassTree:
    return ClassTree.from_dict(TREE)


def write_config(path: str,
                 kind: str,
                 dataset_tree: bool = True,
                 pipeline: Optional[list] = None,
                 grey: bool = False) -> str:
    """Write the ``hier`` or ``flat`` config.

    Args:
        path: The config file to write.
        kind: ``'hier'`` or ``'flat'``.
        dataset_tree: Give the test dataset the tree (else ``None``).
        pipeline: Test pipeline; defaults to the kind's (see module doc).
        grey: One input channel (backbone and data preprocessor).
    """
    t = tree()
    ch = 1 if grey else 3
    if kind == 'hier':
        model = HIER_MODEL.format(
            backbone=_BACKBONE.format(ch=ch, out=(0, 1, 2, 3)))
        default = RESIZE_PIPELINE
    elif kind == 'flat':
        model = FLAT_MODEL.format(
            backbone=_BACKBONE.format(ch=ch, out=(3, )), n=t.num_nodes)
        default = PLAIN_PIPELINE
    else:
        raise ValueError(f'kind is hier or flat, got {kind!r}')
    text = _COMMON.format(
        tree=TREE,
        preprocessor=GREY if grey else COLOUR,
        pipeline=default if pipeline is None else pipeline,
        dataset_tree='class_tree' if dataset_tree else 'None') + model
    with open(path, 'w') as f:
        f.write(text)
    return path


def write_checkpoint(config: str,
                     path: str,
                     seed: int = 0,
                     meta_tree: bool = True,
                     head_scale: float = 4.) -> Dict[str, torch.Tensor]:
    """Build the config's model with seeded random weights and save it.

    Returns:
        The saved state dict.
    """
    cfg = Config.fromfile(config)
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    with torch.no_grad():  # sharper, image-dependent head outputs
        for p in model.head.parameters():
            p.mul_(head_scale)
    t = tree()
    dataset_meta = dict(classes=tuple(t.names))
    if meta_tree:
        dataset_meta['class_tree'] = t
    state = {k: v.clone() for k, v in model.state_dict().items()}
    save_checkpoint(
        dict(state_dict=state, meta=dict(dataset_meta=dataset_meta)), path)
    return state


def write_images(folder: str,
                 sizes: Tuple[Tuple[int, int],
                              ...] = ((32, 32), (40, 28), (32, 32), (24, 36),
                                      (32, 32)),
                 seed: int = 0) -> List[str]:
    """PNG images (BGR, as ``cv2.imwrite`` writes them) of the given
    ``(H, W)`` sizes: smooth random colour fields, so that images differ.
    """
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = []
    for i, (h, w) in enumerate(sizes):
        low = rng.integers(0, 256, size=(4, 4, 3)).astype(np.uint8)
        img = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)
        img = np.clip(img + rng.normal(0, 8, img.shape), 0,
                      255).astype(np.uint8)
        path = osp.join(folder, f'img_{i}.png')
        cv2.imwrite(path, img)
        files.append(path)
    return files
