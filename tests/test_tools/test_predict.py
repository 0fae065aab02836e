# Copyright (c) mmhier contributors. All rights reserved.
"""tools/predict.py, run in this process through ``main(argv)``."""
import contextlib
import importlib.util
import io
import json
import os.path as osp
import re
import shutil
import tempfile
from unittest import TestCase

import cv2
from mmengine.logging import MMLogger

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


predict = load_file('mmhier_tools_predict',
                    osp.join(REPO_ROOT, 'tools', 'predict.py'))
thm = load_file(
    'tiny_hier_model',
    osp.join(REPO_ROOT, 'tests', 'test_apis', 'tiny_hier_model.py'))


class TestPredictTool(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.cfg = thm.write_config(osp.join(cls.tmp, 'hier.py'), 'hier')
        cls.ckpt = osp.join(cls.tmp, 'hier.pth')
        thm.write_checkpoint(cls.cfg, cls.ckpt)
        cls.img_dir = osp.join(cls.tmp, 'imgs')
        cls.files = thm.write_images(cls.img_dir, sizes=((32, 32), (40, 28)))
        cls.tree = thm.tree()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        MMLogger._instance_dict.clear()

    def run_tool(self, *argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            results = predict.main([str(a) for a in argv])
        return results, out.getvalue()

    def test_prints_paths_and_writes_drawings(self):
        vis = osp.join(self.tmp, 'vis')
        json_file = osp.join(self.tmp, 'res.json')
        results, text = self.run_tool(self.img_dir, self.cfg, self.ckpt,
                                      '--topk', 3, '--device', 'cpu',
                                      '--batch-size', 2, '--show-dir', vis,
                                      '--draw-tree', '--out', json_file)
        self.assertEqual(len(results), 2)
        lines = text.splitlines()
        for f, result in zip(self.files, results):
            i = lines.index(f)
            # the three paths, ranked, as printed by the tool
            for rank, entry in enumerate(result['paths']):
                line = lines[i + 1 + rank]
                m = re.match(r'\s+(\d)\.\s+([\d.]+)%\s+(.*)$', line)
                self.assertIsNotNone(m, line)
                self.assertEqual(int(m.group(1)), rank + 1)
                self.assertAlmostEqual(
                    float(m.group(2)), 100 * entry['score'], delta=0.006)
                names = m.group(3).split(' > ')
                self.assertEqual(names, self.tree.decode(entry['indices']))
                self.assertTrue(self.tree.is_valid_path(entry['indices']))
            png = osp.join(vis, osp.basename(f))
            self.assertIn(f'drawn to {png}', text)
            img = cv2.imread(png)
            self.assertIsNotNone(img)
            self.assertGreater(osp.getsize(png), 20000)
            self.assertGreater(img.shape[1], 800)  # image + tree side by side
        with open(json_file) as f:
            dumped = json.load(f)
        self.assertEqual([d['img_path'] for d in dumped], self.files)
        self.assertEqual(dumped[0]['paths'][0]['indices'],
                         results[0]['paths'][0]['indices'])

    def test_single_file_and_node_names(self):
        results, text = self.run_tool(self.files[0], self.cfg, self.ckpt,
                                      '--topk', 1, '--names', 'nodes')
        self.assertEqual(len(results), 1)
        self.assertEqual(len(results[0]['paths']), 1)
        self.assertNotIn('drawn to', text)

    def test_multi_label_uses_the_checkpoint_threshold(self):
        import torch
        cfg = osp.join(self.tmp, 'ml.py')
        with open(self.cfg) as f:
            text = f.read()
        with open(cfg, 'w') as f:
            f.write(
                text.replace('beam_size=3))',
                             'beam_size=3, multi_label=True))'))
        ckpt = osp.join(self.tmp, 'ml.pth')
        thm.write_checkpoint(cfg, ckpt)
        data = torch.load(ckpt)
        # as HierThresholdHook stores it after validating these weights
        data['meta']['hier_threshold'] = dict(
            threshold=0.37,
            key='hier/threshold',
            thresholds={'hier/threshold': 0.37},
            epoch=4,
            iter=40)
        torch.save(data, ckpt)
        results, text = self.run_tool(self.img_dir, cfg, ckpt, '--device',
                                      'cpu')
        self.assertIn(
            'multi-label threshold 0.37 (from checkpoint '
            f"{ckpt}: meta['hier_threshold'] (hier/threshold validated at "
            'epoch 4, iter 40))', text)
        self.assertIn('selected (multi-label):', text)
        for result in results:
            self.assertEqual(result['threshold'], 0.37)
            for entry in result['selected_paths']:
                self.assertGreaterEqual(entry['score'], 0.37)
        results, text = self.run_tool(self.img_dir, cfg, ckpt, '--device',
                                      'cpu', '--threshold', 0.99)
        self.assertIn(
            'multi-label threshold 0.99 (from the threshold argument)', text)
        self.assertEqual(results[0]['threshold'], 0.99)

    def test_argument_errors(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit):
            predict.parse_args(
                [self.files[0], self.cfg, self.ckpt, '--draw-tree'])
        self.assertIn('--draw-tree needs --show-dir', err.getvalue())
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit):
            predict.parse_args(
                [self.files[0], self.cfg, self.ckpt, '--topk', '0'])
        self.assertIn('--topk must be >= 1', err.getvalue())
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit):
            predict.parse_args(
                [self.files[0], self.cfg, self.ckpt, '--threshold', '1.5'])
        self.assertIn('--threshold must be in [0, 1]', err.getvalue())
