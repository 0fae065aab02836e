# Copyright (c) mmhier contributors. All rights reserved.
"""Every config under configs/ loads, is complete and builds a model that runs.

What is checked, per config (``configs/**.py`` without ``_base_`` and the
``_``-prefixed helper scripts):

- it loads with ``Config.fromfile`` and has the train, val and test parts
  that ``tools/train.py`` and ``tools/test.py`` need; every registered type
  it names (data sets, transforms, metrics, hooks) exists; loaders without
  workers do not ask for persistent workers; alternating training comes
  with a DDP wrapper that finds unused parameters;
- the model and the data sets read the same class tree, and flat heads
  have one output per tree node;
- the model builds, and runs a forward pass, a prediction (scored by the
  config's own val / test metrics, except the test metrics that need the
  validation threshold) and a loss on a small batch at the input size of
  its data (one image of 224 px for the Open Images / custom-data models;
  the full ``model(x)`` forward for one model per backbone, the neck and
  head of the others on that backbone's stage maps, which is what their
  configs change). The orthogonal initialisation of their big LSTMs is
  skipped (see ``test_every_model_builds_and_runs``).

Configs whose tree only exists once the data is prepared (Open Images,
your own data, HierNet's grouped CIFAR-100 tree) get a stand-in tree of the
same kind: the Open Images tree of the converter's spec, the fixed-depth
Fashion-MNIST tree, the CIFAR-100 superclass tree. Models are built once per
distinct model config (a config with and without alternating training share
one). ``test_config_builds.py`` checks each model's parameters against a
record.
"""
import copy
import functools
import glob
import json
import os.path as osp
from typing import Any, Dict, List
from unittest import TestCase, mock, skipUnless

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmpretrain.registry import (DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS)
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401
from mmhier.structures import PATH_END, ClassTree

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs')
CONFIGS = sorted(
    p for p in glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True) if
    '_base_' not in p.split(osp.sep) and not osp.basename(p).startswith('_'))
FMNIST_DIR = '/usr/share/datasets/fashion-mnist'
HAVE_FMNIST = osp.isfile(osp.join(FMNIST_DIR, 't10k-images-idx3-ubyte.gz'))


def _rel(path: str) -> str:
    return osp.relpath(path, REPO)


def _spec_tree() -> dict:
    """The Open Images tree of the converter's spec, as a nested dict."""
    spec = osp.join(REPO, 'tools', 'dataset_converters', 'specs',
                    'dhnn_oi_tree.json')
    with open(spec, encoding='utf-8') as f:
        nodes = json.load(f)['tree']

    def walk(items):
        out = {}
        for node in items:
            if isinstance(node, str):
                out[node] = None
            else:
                name = node.get('name') or node.get('class') or node['group']
                out[name] = walk(node.get('children', []))
        return out

    return walk(nodes)


def _stand_in(path: str) -> Any:
    """A tree of the same kind for a tree file that the data would give."""
    if 'openimages' in path:
        return _spec_tree()
    if 'cifar100' in path:
        cfg = Config.fromfile(
            osp.join(CONFIG_DIR, '_base_', 'datasets', 'cifar100_hier.py'))
        return cfg.class_tree.to_dict()
    # your own data: a fixed-depth tree of depth 3, as the CNN-RNN expects
    return osp.join(REPO, 'mmhier', 'datasets', 'trees',
                    'fashion_mnist_fixed.json')


def _replace(obj: Any, old: str, new: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _replace(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_replace(v, old, new) for v in obj)
    return new if isinstance(obj, str) and obj == old else obj


@functools.lru_cache(maxsize=None)
def _load(path: str) -> Dict[str, Any]:
    cfg = Config.fromfile(path).to_dict()
    tree = cfg.get('class_tree')
    if isinstance(tree, str) and not osp.isfile(tree):
        cfg = _replace(cfg, tree, _stand_in(tree))
    return cfg


def load(path: str) -> Dict[str, Any]:
    """The config as a plain dict, missing data trees replaced."""
    return copy.deepcopy(_load(path))


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


def _num_outputs(model: dict) -> Any:
    """Outputs of a flat classifier, None for hierarchical heads."""
    head = model.get('head') or {}
    if 'num_classes' in head:
        return head['num_classes']
    if model['type'] == 'ImageClassifier' and model['backbone'][
            'type'] == 'VGG':
        return model['backbone'].get('num_classes')
    return None


def _input_shape(cfg: dict) -> tuple:
    dataset = cfg['train_dataloader']['dataset']['type']
    return {
        'HierFashionMNIST': (1, 28, 28),
        'HierCIFAR100': (3, 32, 32),
        'CIFAR100': (3, 32, 32),
    }.get(dataset, (3, 224, 224))


def _samples(tree: ClassTree, batch: int, multi_label: bool,
             num_labels: Any) -> List[DataSample]:
    """Data samples with ``gt_path`` of the tree's leaves (two paths each
    when multi-label) and the matching ``gt_label``."""
    leaves = [int(n) for n in tree.leaves]
    out = []
    for b in range(batch):
        nodes = [leaves[b % len(leaves)]]
        if multi_label:
            nodes.append(leaves[(b + 3) % len(leaves)])
        paths = torch.as_tensor(tree.path_matrix[nodes])
        sample = DataSample(gt_path=paths)
        if num_labels is not None and num_labels != tree.num_nodes:
            sample.set_gt_label(0)  # mmpretrain's own labels (0..C-1)
        else:
            sample.set_gt_label(nodes if multi_label else nodes[0])
        out.append(sample)
    return out


def _is_multi_label(cfg: dict) -> bool:
    return bool(cfg['train_dataloader']['dataset'].get('multi_label', False))


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


class TestConfigModels(TestCase):
    """Build every distinct model and run it on a small batch."""

    def _run_small(self, cfg: dict, model, tree) -> None:
        """Full forward, predict, metrics and loss at the data size."""
        shape = _input_shape(cfg)
        x = torch.rand(2, *shape) * 255
        samples = _samples(tree, 2, False, _num_outputs(cfg['model'])) \
            if tree is not None else [DataSample().set_gt_label(0)] * 2
        model.eval()
        with torch.no_grad():
            data = model.data_preprocessor(dict(inputs=x), False)
            out = model(data['inputs'], mode='tensor')
            out = out if isinstance(out, (tuple, list)) else (out, )
            # no NaN (Guo et al.'s level classifiers put -inf outside the
            # nodes of each level by design)
            self.assertFalse(any(torch.isnan(o).any() for o in out))
            data = model.data_preprocessor(
                dict(inputs=x, data_samples=copy.deepcopy(samples)), False)
            preds = model(**data, mode='predict')
        self._check_preds(preds, tree, 2)
        self._evaluate(cfg, preds, tree)
        if tree is not None:
            model.train()
            data = model.data_preprocessor(
                dict(inputs=x, data_samples=samples), True)
            losses = model(**data, mode='loss')
            loss = sum(v for k, v in losses.items() if 'loss' in k)
            self.assertTrue(torch.isfinite(loss) and loss > 0)

    def _evaluate(self, cfg: dict, preds, tree) -> None:
        """The config's metrics accept the model's predictions (the test
        metrics that read the threshold chosen on validation are left
        out: no validation has run)."""
        for key in ('val_evaluator', 'test_evaluator'):
            metrics = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
            if any(m.get('threshold') == 'from_val' for m in metrics):
                continue
            with DefaultScope.overwrite_default_scope(cfg['default_scope']):
                evaluator = Evaluator(copy.deepcopy(metrics))
            if tree is not None:
                evaluator.dataset_meta = dict(
                    classes=tuple(tree.names), class_tree=tree)
            evaluator.process(preds)
            results = evaluator.evaluate(len(preds))
            self.assertTrue(results, key)

    def _check_preds(self, preds, tree, batch) -> None:
        self.assertEqual(len(preds), batch)
        for p in preds:
            if 'pred_path' in p:
                self.assertEqual(tuple(p.pred_path.shape), (tree.max_depth, ))
                self.assertGreaterEqual(int(p.pred_path[0]), 0)
            else:
                self.assertIn('pred_score', p)

    def test_every_model_builds_and_runs(self):
        seen, big = set(), {}
        for path in CONFIGS:
            cfg = load(path)
            model_cfg = copy.deepcopy(cfg['model'])
            model_cfg.setdefault('data_preprocessor',
                                 cfg.get('data_preprocessor'))
            key = repr(model_cfg)
            if key in seen:
                continue
            seen.add(key)
            tree_src = cfg['train_dataloader']['dataset'].get('tree')
            tree = ClassTree.build(tree_src) if tree_src else None
            with self.subTest(config=_rel(path)):
                torch.manual_seed(0)
                if _input_shape(cfg)[-1] < 224:
                    model = MODELS.build(model_cfg)
                    self._run_small(cfg, model, tree)
                else:
                    # The LSTMs of the 224 px models (h up to 2048) get
                    # their orthogonal initialisation from QR decompositions
                    # that take seconds each on a CPU; the values do not
                    # matter here (the heads' own tests cover them), so the
                    # blocks keep PyTorch's default initialisation.
                    with mock.patch.object(
                            torch.nn.init,
                            'orthogonal_',
                            lambda tensor, gain=1: tensor):
                        model = MODELS.build(model_cfg)
                    big.setdefault(repr(model_cfg['backbone']), []).append(
                        (path, cfg, model, tree))
        self.assertGreater(len(seen), 30)
        for group in big.values():
            self._run_group(group)

    def _run_group(self, group) -> None:
        """Models that share a backbone config, at 224 px: the first runs
        end to end, the others run their neck and head on its stage maps."""
        x = torch.rand(1, 3, 224, 224) * 255
        feats = None
        for path, cfg, model, tree in group:
            with self.subTest(config=_rel(path)):
                model.eval()
                multi = _is_multi_label(cfg)
                samples = _samples(tree, 1, multi, _num_outputs(cfg['model']))
                with torch.no_grad():
                    inputs = model.data_preprocessor(dict(inputs=x),
                                                     False)['inputs']
                    if feats is None:
                        feats = model.backbone(inputs)
                        out = model(inputs, mode='tensor')
                        out = out if isinstance(out, torch.Tensor) else out[-1]
                        self.assertFalse(torch.isnan(out).any())
                    neck_out = model.neck(feats) if model.with_neck else feats
                    preds = model.head.predict(neck_out,
                                               copy.deepcopy(samples))
                    self._check_preds(preds, tree, 1)
                    if multi and 'pred_path' in preds[0]:
                        self.assertIn('pred_paths', preds[0])
                self._evaluate(cfg, preds, tree)
                model.train()
                losses = model.head.loss(
                    model.neck(feats) if model.with_neck else feats, samples)
                loss = sum(v for k, v in losses.items() if 'loss' in k)
                self.assertTrue(torch.isfinite(loss) and loss > 0)
                if cfg['model']['head'].get('type') in ('HierRNNHead',
                                                        'HierS2SHead'):
                    # one neck step per stage group; the RNN one per level
                    self.assertEqual(neck_out[0].shape[1],
                                     len(cfg['model']['neck']['stage_groups']))


@skipUnless(HAVE_FMNIST, f'Fashion-MNIST files not in {FMNIST_DIR}')
class TestFashionMNISTConfigsOnRealData(TestCase):
    """The demo's configs read the real files and are scored end to end."""

    def test_val_step_and_metrics_on_real_images(self):
        for name in ('hier/s2s-pool_resnet18-tiny_fmnist.py',
                     'flat/flat_resnet18-tiny_fmnist.py',
                     'hier/rnn-pool_resnet18-tiny_fmnist-fixed.py'):
            with self.subTest(config=name):
                cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
                cfg.val_dataloader.dataset.data_root = FMNIST_DIR
                dataset = DATASETS.build(cfg.val_dataloader.dataset)
                batch = pseudo_collate([dataset[i] for i in range(4)])
                model_cfg = cfg.model.to_dict()
                model_cfg.setdefault('data_preprocessor',
                                     cfg.data_preprocessor.to_dict())
                model = MODELS.build(model_cfg)
                model.eval()
                with torch.no_grad():
                    preds = model.test_step(batch)
                with DefaultScope.overwrite_default_scope(cfg.default_scope):
                    evaluator = Evaluator(cfg.val_evaluator.copy())
                evaluator.dataset_meta = dataset.metainfo
                evaluator.process(preds, batch)
                results = evaluator.evaluate(4)
                for key in ('hier/path_acc', 'hier/node_acc', 'hier/h_f1',
                            'hier/hdist@5'):
                    self.assertIn(key, results)
                    self.assertGreaterEqual(results[key], 0)
                tree = dataset.metainfo['class_tree']
                for p in preds:
                    path = p.pred_path if 'pred_path' in p else torch.tensor(
                        tree.path_matrix[int(p.pred_label)])
                    self.assertTrue(
                        tree.is_valid_path(path[path != PATH_END].tolist()))
