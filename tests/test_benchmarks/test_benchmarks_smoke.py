# Copyright (c) mmhier contributors. All rights reserved.
"""Run each benchmark script in its smallest mode, so that they don't rot.

The scripts live in ``benchmarks/`` (not a package); they are loaded by
path and their ``main(argv)`` is called in this process, which saves the
start-up of a new interpreter per script. Each check reads back the JSON
and markdown the script wrote and the numbers in them.
"""
import gzip
import importlib.util
import json
import math
import os
import os.path as osp
import struct
import sys
import tempfile
import unittest

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCH = osp.join(REPO, 'benchmarks')


def load_script(name: str):
    """Import ``benchmarks/<name>.py`` as a module."""
    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    spec = importlib.util.spec_from_file_location(
        f'bench_{name}', osp.join(BENCH, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_fake_fashion_mnist(root: str, train: int, test: int) -> None:
    """The four idx files in Fashion-MNIST's format (gzipped), random
    images, labels cycling through the 10 classes."""
    rng = np.random.default_rng(0)
    for split, n in (('train', train), ('t10k', test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        with gzip.open(osp.join(root, f'{split}-images-idx3-ubyte.gz'),
                       'wb') as f:
            f.write(struct.pack('>IIII', 2051, n, 28, 28))
            f.write(images.tobytes())
        labels = (np.arange(n) % 10).astype(np.uint8)
        with gzip.open(osp.join(root, f'{split}-labels-idx1-ubyte.gz'),
                       'wb') as f:
            f.write(struct.pack('>II', 2049, n))
            f.write(labels.tobytes())


class TestOverheadScript(unittest.TestCase):

    def test_smoke(self):
        overhead = load_script('overhead')
        with tempfile.TemporaryDirectory() as out:
            overhead.main(['--smoke', '--no-memory', '--out', out])
            with open(osp.join(out, 'overhead_cpu.json')) as f:
                report = json.load(f)
            with open(osp.join(out, 'overhead_cpu.md')) as f:
                text = f.read()
        rows = {
            r['model']: r
            for r in report['tables']['Overhead per model']['rows']
        }
        self.assertEqual(
            set(rows), {'flat', 'rnn-pool-small', 's2s-pool-large'})
        # ratios are to the flat model of the same repetition
        self.assertEqual(rows['flat']['train_ratio'], 1.0)
        for row in rows.values():
            self.assertGreater(row['train_ms'], 0)
            self.assertGreater(row['infer_ms'], 0)
        # the flat model adds nothing; the S2S head adds parameters
        self.assertEqual(rows['flat']['added_params'], 0)
        self.assertGreater(rows['s2s-pool-large']['added_params'], 0)
        self.assertIn('train syncs 0: met', rows['s2s-pool-large']['target'])
        # work ops and host syncs of a train and an inference step
        self.assertEqual(rows['flat']['train_added_ops'], 0)
        for name in ('rnn-pool-small', 's2s-pool-large'):
            self.assertGreater(rows[name]['train_added_ops'], 0)
            self.assertEqual(rows[name]['train_syncs'], 0)
            self.assertLessEqual(rows[name]['infer_syncs'], 1)
        self.assertIn('infer: Tensor.tolist x1',
                      rows['rnn-pool-small']['sync_ops'])
        self.assertIn('| s2s-pool-large |', text)
        self.assertIn('- command: `python benchmarks/', text)

    def test_variant_names_and_errors(self):
        overhead = load_script('overhead')
        args = overhead.parse_args([])
        names = [s['name'] for s in overhead.variant_specs(args)]
        # flat + RNN/S2S x linear/conv/pool x small/large + the paper's
        # Res-S2S-Pool
        self.assertEqual(len(names), 14)
        self.assertEqual(names[0], 'flat')
        self.assertEqual(names[-1], 's2s-pool-paper')
        self.assertIn('s2s-pool-small', names)
        args = overhead.parse_args(['--variants', 'rnn-pol-small'])
        with self.assertRaisesRegex(ValueError, 'rnn-pol-small'):
            overhead.variant_specs(args)

    def test_pool_resolution(self):
        """Plain pooling where every stage pools to p exactly (ResNet-50,
        p=2048), pooling + n-mode products where it cannot (p=256)."""
        overhead = load_script('overhead')
        import mmhier  # noqa: F401
        args = overhead.parse_args([])
        specs = {s['name']: s for s in overhead.variant_specs(args)}
        self.assertEqual(
            overhead.neck_cfg(specs['s2s-pool-large'], args)['conversion'],
            'pool')
        self.assertEqual(
            overhead.neck_cfg(specs['s2s-pool-small'], args)['conversion'],
            'pool_mode')


class TestHierNetSpeedScript(unittest.TestCase):

    def test_smoke(self):
        speed = load_script('hiernet_speed')
        with tempfile.TemporaryDirectory() as out:
            speed.main(['--smoke', '--out', out])
            with open(osp.join(out, 'hiernet_speed_cpu.json')) as f:
                report = json.load(f)
        rows = {
            r['model']: r
            for r in report['tables']['Images per second']['rows']
        }
        self.assertEqual(
            set(rows), {'backbone', 'hiernet-fast', 'hiernet-slow'})
        self.assertEqual(rows['backbone']['speed_vs_backbone'], 1.0)
        for row in rows.values():
            self.assertGreater(row['img_per_s'], 0)
        # HierNet copies the later layers into every inner node
        self.assertGreater(rows['hiernet-slow']['params'],
                           rows['backbone']['params'])


class TestAccuracyScript(unittest.TestCase):

    def test_smoke(self):
        """Three models that exercise the kinds of config the benchmark
        reads: a flat one (flat), one with a hook (rnn-alt) and a different
        classifier with two evaluations (hiernet), on fake Fashion-MNIST
        files; every row names its config file."""
        accuracy = load_script('accuracy')
        with tempfile.TemporaryDirectory() as tmp:
            data = osp.join(tmp, 'data')
            out = osp.join(tmp, 'out')
            os.makedirs(data)
            write_fake_fashion_mnist(data, train=24, test=12)
            accuracy.main([
                '--smoke', '--jobs', '0', '--data-root', data, '--out', out,
                '--models', 'flat', 'rnn-alt', 'hiernet', '--train-images',
                '16', '--test-images', '12'
            ])
            with open(osp.join(out, 'accuracy_fmnist_smoke.json')) as f:
                report = json.load(f)
            self.assertTrue(
                osp.exists(osp.join(out, 'accuracy_fmnist_smoke_curves.png')))
            # the saved runs can be summarised again without training
            accuracy.main([
                '--smoke', '--summarise-only', '--data-root', data, '--out',
                out, '--models', 'flat', 'rnn-alt', 'hiernet', '--name',
                'again'
            ])
            with open(osp.join(out, 'again.json')) as f:
                again = json.load(f)
        table = report['tables']['Test metrics (last epoch)']
        rows = {r['model']: r for r in table['rows']}
        self.assertEqual(
            set(rows), {'flat', 'rnn-alt', 'hiernet-slow', 'hiernet-fast'})
        for row in rows.values():
            mean = float(row['path_acc'].split(' ± ')[0])
            self.assertTrue(0 <= mean <= 100, row)
        self.assertIn('(vs flat)', rows['rnn-alt']['path_acc_vs_flat'])
        sources = {
            r['model']: r['config']
            for r in report['tables']['Where each model comes from']['rows']
        }
        self.assertTrue(sources['flat'].startswith('configs/flat/'))
        self.assertEqual(
            sources['hiernet-slow'],
            'configs/hiernet/hiernet_resnet18-tiny_fmnist-fixed.py')
        for source in sources.values():
            self.assertTrue(osp.isfile(osp.join(REPO, source)), source)
        # one run per model, one validation epoch each, 12 test images
        runs = report['runs']
        self.assertEqual(len(runs), 3)
        for run in runs:
            self.assertEqual(len(run['epochs']), 1)
        self.assertEqual(again['tables']['Test metrics (last epoch)']['rows'],
                         table['rows'])

    def test_partial_labels_smoke(self):
        """--fine-fraction: the joint model learns from all images, the
        flat model from the fine ones only, for the same iterations."""
        accuracy = load_script('accuracy')
        with tempfile.TemporaryDirectory() as tmp:
            data = osp.join(tmp, 'data')
            out = osp.join(tmp, 'out')
            os.makedirs(data)
            write_fake_fashion_mnist(data, train=40, test=12)
            accuracy.main([
                '--smoke', '--jobs', '0', '--data-root', data, '--out', out,
                '--models', 'flat-fine', 'joint-rnn', '--train-images', '40',
                '--test-images', '12', '--batch', '8', '--epochs', '2',
                '--fine-fraction', '0.25', '--eval-last'
            ])
            with open(osp.join(out, 'accuracy_fmnist_smoke.json')) as f:
                report = json.load(f)
            self.assertTrue(
                osp.exists(
                    osp.join(out, 'accuracy_fmnist_smoke_fractions.png')))
        rows = {
            r['model']: r
            for r in report['tables']['Test metrics (last epoch)']['rows']
        }
        self.assertEqual(set(rows), {'flat-fine@0.25', 'joint-rnn@0.25'})
        self.assertIn('(vs flat-fine@0.25)',
                      rows['joint-rnn@0.25']['path_acc_vs_flat'])
        runs = {r['model']: r for r in report['runs']}
        # --eval-last: one evaluation, after the last epoch
        self.assertEqual(len(runs['joint-rnn@0.25']['epochs']), 1)
        self.assertEqual(len(runs['flat-fine@0.25']['epochs']), 1)
        self.assertEqual(report['settings']['fine_fraction'], [0.25])

    def test_scores_by_hand(self):
        """The collector's scores equal hand-computed values on a 2-level
        tree: one right path, one wrong at level 2, one wrong at level 1."""
        accuracy = load_script('accuracy')
        import torch
        from mmpretrain.structures import DataSample

        from mmhier.structures import ClassTree
        tree = ClassTree.build({'A': ['C', 'D'], 'B': ['E', 'F']})
        # indices: A0 B1 C2 D3 E4 F5
        gt = [[0, 2], [0, 2], [0, 2]]
        pred = [[0, 2], [0, 3], [1, 4]]
        samples = []
        for g, p in zip(gt, pred):
            s = DataSample()
            s.set_field(torch.tensor([g]), 'gt_path')
            s.set_field(torch.tensor(p), 'pred_path')
            samples.append(s)
        scores = accuracy._Collector(tree).score(samples)['']
        self.assertAlmostEqual(scores['path_acc'], 100 / 3)
        self.assertAlmostEqual(scores['level1_acc'], 200 / 3)
        self.assertAlmostEqual(scores['level2_acc'], 100 / 3)
        self.assertAlmostEqual(scores['node_acc'], 50.0)
        # distances of the two mistakes: 1 (sibling leaf) and 2
        self.assertAlmostEqual(scores['mistake_severity'], 1.5)
        self.assertFalse(math.isnan(scores['h_f1']))

    def test_unknown_model(self):
        accuracy = load_script('accuracy')
        with self.assertRaises(SystemExit):
            accuracy.parse_args(['--models', 'flatt'])


if __name__ == '__main__':
    unittest.main()
