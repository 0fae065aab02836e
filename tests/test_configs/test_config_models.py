# Copyright (c) mmhier contributors. All rights reserved.
"""Every config under configs/ builds a model that runs.

Per config (``configs/**.py`` without ``_base_`` and the ``_``-prefixed
helper scripts), the model builds, and runs a forward pass, a prediction
(scored by the config's own val / test metrics, except the test metrics
that need the validation threshold) and a loss on a small batch at the
input size of its data (one image of 224 px for the Open Images /
custom-data models; the full ``model(x)`` forward for one model per
backbone, the neck and head of the others on that backbone's stage maps,
which is what their configs change). The orthogonal initialisation of
their big LSTMs is skipped (see ``test_every_model_builds_and_runs``).

Configs whose tree only exists once the data is prepared get a stand-in
tree of the same kind (``config_loading.py``). Models are built once per
distinct model config (a config with and without alternating training
share one). ``test_configs.py`` checks the other parts of each config.
"""
import copy
import os.path as osp
import sys
from typing import Any, List
from unittest import TestCase, mock, skipUnless

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401
from mmhier.structures import PATH_END, ClassTree

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from config_loading import (CONFIG_DIR, CONFIGS, _num_outputs,  # noqa: E402
                            _rel, load)

FMNIST_DIR = '/usr/share/datasets/fashion-mnist'
HAVE_FMNIST = osp.isfile(osp.join(FMNIST_DIR, 't10k-images-idx3-ubyte.gz'))


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
