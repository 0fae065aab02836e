# Copyright (c) mmhier contributors. All rights reserved.
"""Every config under configs/ loads and is complete.

What is checked, per config (``configs/**.py`` without ``_base_`` and the
``_``-prefixed helper scripts):

- it loads with ``Config.fromfile`` and has the train, val and test parts
  that ``tools/train.py`` and ``tools/test.py`` need; every registered type
  it names (data sets, transforms, metrics, hooks) exists; loaders without
  workers do not ask for persistent workers; alternating training comes
  with a DDP wrapper that finds unused parameters;
- the model and the data sets read the same class tree, and flat heads
  have one output per tree node;
- the configs of the DHNN paper's tables exist, one name per file.

Configs whose tree only exists once the data is prepared get a stand-in
tree of the same kind (``config_loading.py``). ``test_config_models.py``
builds and runs each model, ``test_config_builds.py`` checks each model's
parameters against a record (it reads ``load`` from this module).
"""
import json
import os.path as osp
import sys
from typing import Any, Dict
from unittest import TestCase

from mmpretrain.registry import DATASETS, HOOKS, METRICS, TRANSFORMS

import mmhier  # noqa: F401
from mmhier.structures import ClassTree

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from config_loading import (CONFIG_DIR, CONFIGS, _num_outputs,  # noqa: E402
                            _rel, load)


def _dataloaders(cfg: dict) -> Dict[str, dict]:
    return {
        k: cfg[k]
        for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    }


def _model_tree(model: dict) -> Any:
    if model['type'] == 'HierNetClassifier':
        return model['tree']
    head = model.get('head') or {}
    return head.get('tree')


class TestPaperConfigs(TestCase):
    """The configs of the DHNN paper's tables are plain files under the
    names users type (configs/hier/README.md, "Names and files")."""

    def test_every_row_of_the_papers_tables_has_its_config(self):
        backbones = ('vgg16', 'res50', 'seres50', 'cbamres50')
        table3 = [
            f'hier/{b}_s2s{alt}_{conv}_oi.py' for b in backbones
            for alt in ('', '_alt')
            for conv in ('linear', 'conv', 'pool', 'pool_large')
        ] + [f'flat/{b}_flat_oi.py' for b in backbones]
        tables12 = [
            f'hier/{b}_{m}_custom.py' for b in ('vgg16', 'res50')
            for m in ('rnn', 'rnn_alt', 'rnn_alt_resi', 's2s', 's2s_alt')
        ] + ['flat/vgg16_flat_custom.py', 'flat/res50_flat_custom.py']
        self.assertEqual(len(table3), 36)
        missing = [
            name for name in table3 + tables12
            if osp.join(CONFIG_DIR, name) not in CONFIGS
        ]
        self.assertEqual(missing, [])

    def test_no_config_is_another_under_a_second_name(self):
        """One name per file: no two configs resolve to the same config
        (an alias whose only content is ``_base_ = './other.py'``)."""
        seen: Dict[str, str] = {}
        for path in CONFIGS:
            key = json.dumps(load(path), sort_keys=True, default=repr)
            with self.subTest(config=_rel(path)):
                self.assertNotIn(
                    key, seen, f'{_rel(path)} is '
                    f'{seen.get(key)} under another name')
            seen.setdefault(key, _rel(path))


class TestConfigParts(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cfgs = {path: load(path) for path in CONFIGS}

    def test_configs_are_found(self):
        self.assertGreater(len(CONFIGS), 90)
        for name in ('hier/s2s-pool_resnet18-tiny_fmnist.py',
                     'flat/flat_resnet18-tiny_fmnist.py',
                     'hier/res50_s2s_pool_oi.py'):
            self.assertIn(osp.join(CONFIG_DIR, name), CONFIGS)

    def test_every_config_has_train_val_test_parts(self):
        keys = ('model', 'train_dataloader', 'val_dataloader',
                'test_dataloader', 'val_evaluator', 'test_evaluator',
                'train_cfg', 'val_cfg', 'test_cfg', 'optim_wrapper',
                'param_scheduler', 'default_hooks')
        for path, cfg in self.cfgs.items():
            with self.subTest(config=_rel(path)):
                missing = [k for k in keys if cfg.get(k) is None]
                self.assertEqual(missing, [])
                self.assertEqual(cfg['default_scope'], 'mmpretrain')
                self.assertIn('mmhier', cfg['custom_imports']['imports'])
                for name, loader in _dataloaders(cfg).items():
                    if loader.get('num_workers', 0) == 0:
                        self.assertFalse(
                            loader.get('persistent_workers', True),
                            f'{name}: num_workers=0 needs '
                            'persistent_workers=False')

    def test_every_registered_name_exists(self):
        for path, cfg in self.cfgs.items():
            with self.subTest(config=_rel(path)):
                for name, loader in _dataloaders(cfg).items():
                    dataset = loader['dataset']
                    self.assertIsNotNone(
                        DATASETS.get(dataset['type']), dataset['type'])
                    for t in dataset.get('pipeline', []):
                        self.assertIsNotNone(
                            TRANSFORMS.get(t['type']), f'{name}: {t}')
                for key in ('val_evaluator', 'test_evaluator'):
                    metrics = cfg[key]
                    metrics = metrics if isinstance(metrics,
                                                    list) else [metrics]
                    for m in metrics:
                        self.assertIsNotNone(
                            METRICS.get(m['type']), f'{key}: {m}')
                hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
                for hook in hooks:
                    self.assertIsNotNone(HOOKS.get(hook), hook)
                if 'AlternatingFreezeHook' in hooks:
                    self.assertTrue(
                        cfg['model_wrapper_cfg']['find_unused_parameters'])

    def test_model_and_data_share_the_tree(self):
        for path, cfg in self.cfgs.items():
            with self.subTest(config=_rel(path)):
                trees = [
                    loader['dataset'].get('tree')
                    for loader in _dataloaders(cfg).values()
                ]
                model_tree = _model_tree(cfg['model'])
                outputs = _num_outputs(cfg['model'])
                if trees[0] is None:  # mmpretrain's flat CIFAR100
                    self.assertIsNone(model_tree)
                    continue
                self.assertEqual(trees[1:], trees[:1] * 2)
                if model_tree is not None:
                    self.assertEqual(model_tree, trees[0])
                else:
                    # a flat model: one output per node of the data's tree
                    self.assertEqual(outputs,
                                     ClassTree.build(trees[0]).num_nodes)
