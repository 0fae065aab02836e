# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, Dict, List, Optional, Tuple

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmhier.structures import ClassTree, check_same_tree
from .hook_utils import phase_datasets, unwrap


def _cfg_source(cfg: Any, key: str) -> str:
    """``key``, with the tree file the config names there, if any."""
    node = cfg
    for part in key.split('.'):
        node = node.get(part) if hasattr(node, 'get') else None
        if node is None:
            return key
    return f'{key} ({node})' if isinstance(node, str) else key


def model_trees(model: Any) -> List[Tuple[str, ClassTree]]:
    """``(name, tree)`` of every module of ``model`` holding a ClassTree as
    ``tree`` (a head, HierNet, a tree loss), e.g. ``('head', tree)``."""
    found = []
    for name, module in unwrap(model).named_modules():
        tree = getattr(module, 'tree', None)
        if isinstance(tree, ClassTree):
            found.append((name, tree))
    return found


@HOOKS.register_module()
class HierTreeCheckHook(Hook):
    """Check that the model and the data use one class tree.

    At the start of training, validation and testing, every class tree of
    the model (``model.head.tree``, HierNet's ``model.tree``, a tree loss)
    is compared with the tree of each dataset of the phase's dataloader:
    node names, their order and their parents. A model whose tree lists two
    sibling leaves in another order than the dataset's would otherwise
    train without a word and predict wrong names. A mismatch raises
    :class:`~mmhier.structures.TreeMismatchError` naming both config keys
    (and tree files) and the first difference. Datasets and models without
    a tree are left alone. On by default in ``configs/_base_/
    default_runtime.py`` (``default_hooks.tree_check``); ``None`` there
    turns it off.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._checked: Dict[Tuple[int, int], bool] = {}

    def check(self, runner: Any, phase: str) -> None:
        """Compare the model's trees with those of ``phase``'s datasets."""
        trees = model_trees(runner.model)
        if not trees:
            return
        cfg = getattr(runner, 'cfg', None) or {}
        for key, dataset in phase_datasets(runner, phase):
            data_tree = self._dataset_tree(dataset)
            if data_tree is None:
                continue
            for name, tree in trees:
                ids = (id(tree), id(data_tree))
                if self._checked.get(ids):
                    continue
                model_key = f'model.{name}.tree' if name else 'model.tree'
                check_same_tree(tree, data_tree, _cfg_source(cfg, model_key),
                                _cfg_source(cfg, f'{key}.tree'))
                self._checked[ids] = True

    @staticmethod
    def _dataset_tree(dataset: Any) -> Optional[ClassTree]:
        meta = getattr(dataset, 'metainfo', None) or {}
        tree = meta.get('class_tree')
        if tree is None:  # a lazily initialised mmhier dataset
            tree = getattr(dataset, 'class_tree', None)
        return tree if isinstance(tree, ClassTree) else None

    def before_train(self, runner: Any) -> None:
        self.check(runner, 'train')

    def before_val(self, runner: Any) -> None:
        self.check(runner, 'val')

    def before_test(self, runner: Any) -> None:
        self.check(runner, 'test')
