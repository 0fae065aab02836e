# Copyright (c) mmhier contributors. All rights reserved.
"""What an inferencer reads from its model, config and checkpoint.

The class tree, the multi-label threshold and the input channels, each
checked against the others so that a mismatch names both sources.
"""
from typing import Any, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import BaseModel

from mmhier.evaluation.functional.threshold_io import CHECKPOINT_KEY
from mmhier.structures import ClassTree, check_same_tree

__all__ = [
    'dataset_cfg', 'resolve_tree', 'resolve_threshold', 'model_in_channels'
]


def dataset_cfg(
    cfg: Config,
    keys=('test_dataloader', 'val_dataloader', 'train_dataloader')
) -> Optional[dict]:
    """The first dataset config of the given dataloaders, unwrapped from
    dataset wrappers (``ClassBalancedDataset``, ``RepeatDataset``, ...)."""
    for key in keys:
        loader = cfg.get(key, None)
        dataset = loader.get('dataset', None) if loader else None
        while dataset is not None and 'pipeline' not in dataset and \
                isinstance(dataset.get('dataset', None), dict):
            dataset = dataset['dataset']
        if dataset is not None:
            return dataset
    return None


def resolve_tree(model: BaseModel, config: Config, tree: Any) -> ClassTree:
    """The class tree of an inferencer, checked against what the model
    predicts.

    Args:
        model: The built model.
        config: Its config.
        tree: The tree given by the user, or None.

    Returns:
        The first of: ``tree``, the checkpoint's
        ``dataset_meta['class_tree']``, the model's (head's) tree, the
        config's dataset tree.

    Raises:
        ValueError: no tree is found, or two of them differ.
    """
    head = getattr(model, 'head', None)
    model_tree = getattr(head, 'tree', None)
    if not isinstance(model_tree, ClassTree):
        model_tree = getattr(model, 'tree', None)
    if not isinstance(model_tree, ClassTree):
        model_tree = None
    meta = getattr(model, '_dataset_meta', None) or {}
    dataset = dataset_cfg(config) or {}
    metainfo = dataset.get('metainfo', None) or {}
    candidates = (
        ('the tree argument', tree),
        ("the checkpoint's dataset_meta['class_tree']",
         meta.get('class_tree')),
        ("the model's head", model_tree),
        ("the config's dataset tree",
         dataset.get('tree',
                     dataset.get('class_tree',
                                 metainfo.get('class_tree')))),
    )
    for source, value in candidates:
        if value is not None:
            break
    else:
        raise ValueError(
            'HierInferencer needs a class tree and found none: pass '
            'tree=..., use a checkpoint saved by the Runner (its meta '
            "holds dataset_meta['class_tree']), or a config whose head "
            'or test dataset has a tree')
    try:
        tree = ClassTree.build(value)
    except Exception as err:
        raise ValueError(f'cannot build the class tree from {source}: '
                         f'{err}') from err
    # every tree that is given must be the one the model predicts over
    # (same names, order and parents), not one of the same size
    if model_tree is not None and value is not model_tree:
        check_same_tree(model_tree, tree, "the model's head "
                        '(model.head.tree)', source)
    ckpt_tree, cfg_tree = candidates[1][1], candidates[3][1]
    if ckpt_tree is not None and cfg_tree is not None:
        check_same_tree(
            ClassTree.build(ckpt_tree), ClassTree.build(cfg_tree),
            "the checkpoint's dataset_meta['class_tree']",
            "the config's dataset tree")
    num_classes = getattr(head, 'num_classes', None)
    if model_tree is None and isinstance(num_classes, int) and \
            num_classes != tree.num_nodes:
        raise ValueError(
            f'the flat head predicts {num_classes} classes but the class '
            f'tree from {source} has {tree.num_nodes} nodes: paths are '
            'implied only from a score for every tree node (DHNN Remark '
            '1)')
    return tree


def resolve_threshold(model: BaseModel, threshold: Optional[float],
                      entry: Any, checkpoint: Any) -> tuple:
    """The multi-label threshold and its source; set on a multi-label head,
    logged.

    Args:
        model: The built model.
        threshold: The threshold given by the user, or None.
        entry: The checkpoint's ``meta[CHECKPOINT_KEY]`` entry, or None.
        checkpoint: The checkpoint file, for messages.

    Returns:
        ``(threshold, source)``; ``(None, None)`` for a single-label model
        without a stored or given threshold.
    """
    head = getattr(model, 'head', None)
    multi = bool(getattr(head, 'multi_label', False)) and isinstance(
        getattr(head, 'threshold', None), float)
    stored = entry.get('threshold') if isinstance(entry, dict) else None
    name = checkpoint if isinstance(checkpoint, str) else \
        'the model (no checkpoint file given)'
    level = 20
    if threshold is not None:
        value, source = float(threshold), 'the threshold argument'
    elif isinstance(stored, (int, float)):
        value = float(stored)
        source = (f"checkpoint {name}: meta['{CHECKPOINT_KEY}'] "
                  f"({entry.get('key', 'threshold')} validated at epoch "
                  f"{entry.get('epoch')}, iter {entry.get('iter')})")
    elif multi:
        value, level = head.threshold, 30
        if isinstance(entry, dict):
            why = 'its weights were saved but never validated'
        elif isinstance(checkpoint, str):
            why = 'it was not saved with HierThresholdHook'
        else:
            why = 'pass pretrained=<checkpoint> to read it'
        source = (f"the head's configured threshold: {name} stores no "
                  f'validated threshold ({why})')
    else:
        return None, None
    if multi:
        head.threshold = value
    print_log(
        f'HierInferencer: multi-label threshold {value:.6g} from '
        f'{source}', 'current', level)
    return value, source


def model_in_channels(model: BaseModel, config: Config) -> int:
    """Input channels of the model: its data preprocessor's mean, else its
    backbone's ``in_channels`` (3 by default)."""
    preprocessor = getattr(model, 'data_preprocessor', None)
    mean = getattr(preprocessor, 'mean', None)
    if isinstance(mean, torch.Tensor) and mean.numel() > 0:
        return int(mean.numel())
    backbone = config.get('model', {}).get('backbone', {}) or {}
    return int(backbone.get('in_channels', 3))
