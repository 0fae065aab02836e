# Copyright (c) mmhier contributors. All rights reserved.
import contextlib
import importlib.util
import io
import os.path as osp
import tempfile
from unittest import TestCase

import mmengine
import torch
from mmengine.logging import MMLogger
from mmpretrain.structures import DataSample

from mmhier.evaluation.functional import save_threshold
from mmhier.structures import ClassTree

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}


def load_tool():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'hier_results.py')
    spec = importlib.util.spec_from_file_location('hier_results', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dumped(samples):
    """What tools/test.py --out writes: DataSample dicts on the CPU."""
    return [s.to_dict() for s in samples]


class TestHierResults(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tool = load_tool()

    def tearDown(self):
        MMLogger._instance_dict.clear()

    def run_tool(self, argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rows = self.tool.main(argv)
        return rows, out.getvalue()

    def test_flat_and_hier_side_by_side(self):
        gts = [[0, 2, -1], [0, 2, 7], [1, 5, -1]]
        hier, flat = [], []
        for gt, path in zip(gts, ([0, 2, -1], [0, 2, 8], [1, 6, -1])):
            s = DataSample()
            s.gt_path = torch.tensor([gt])
            s.pred_path = torch.tensor(path)
            hier.append(s)
        for gt, label in zip(gts, (2, 7, 5)):  # a flat model: all right
            s = DataSample().set_pred_label(label).set_pred_score(
                torch.eye(9)[label])
            s.gt_path = torch.tensor([gt])
            flat.append(s)
        with tempfile.TemporaryDirectory() as tmp:
            tree = osp.join(tmp, 'tree.json')
            ClassTree.build(VARIABLE).save(tree)
            files = [osp.join(tmp, 'hier.pkl'), osp.join(tmp, 'flat.pkl')]
            mmengine.dump(dumped(hier), files[0])
            mmengine.dump(dumped(flat), files[1])
            png = osp.join(tmp, 'cm.png')
            rows, text = self.run_tool(files + [
                '--tree', tree, '--names', 'S2S', 'Res', '--confusion-png',
                png, '--out',
                osp.join(tmp, 'm.json')
            ])
            for name in ('S2S', 'Res'):
                with open(osp.join(tmp, f'cm_{name}.png'), 'rb') as f:
                    self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')
            dumped_rows = mmengine.load(osp.join(tmp, 'm.json'))
            self.assertEqual(dumped_rows['Res']['hier/node_acc'], 100.0)
        # hier: right, H->I (sibling), F->G (sibling): 1 of 3 paths.
        self.assertAlmostEqual(rows['S2S']['hier/path_acc'], 100 / 3)
        self.assertAlmostEqual(rows['S2S']['hier/node_acc'], 500 / 7)
        self.assertEqual(rows['S2S']['hier/mistake_severity'], 1.0)
        self.assertEqual(rows['Res']['hier/path_acc'], 100.0)
        self.assertEqual(rows['Res']['hier/hdist@1'], 0.0)
        lines = text.strip().splitlines()
        table = lines[
            lines.index(next(ln for ln in lines if ln.startswith('| model'))):]
        self.assertIn('path_acc', table[0])
        self.assertTrue(table[2].startswith('| S2S | 33.33 | 71.43 |'))
        self.assertTrue(table[3].startswith('| Res | 100.00 | 100.00 |'))

    def test_multi_label_with_val_threshold(self):
        s = DataSample().set_pred_score(
            torch.tensor([.9, .1, .7, .6, .1, .1, .1, .3, .2]))
        s.gt_path = torch.tensor([[0, 2, -1]])
        with tempfile.TemporaryDirectory() as tmp:
            tree = osp.join(tmp, 'tree.txt')
            ClassTree.build(VARIABLE).save(tree)
            pkl = osp.join(tmp, 'test.pkl')
            mmengine.dump(dumped([s]), pkl)
            thr = osp.join(tmp, 'hier_threshold.json')
            save_threshold(thr, 0.65)
            rows, _ = self.run_tool([
                pkl, '--tree', tree, '--multi-label', '--threshold-file', thr
            ])
            row = rows['test']
            self.assertEqual(row['hier/threshold'], 0.65)
            self.assertEqual(row['hier/path_f1'], 100.0)  # A/C only
            self.assertEqual(row['hier/h_f1'], 100.0)
            rows, _ = self.run_tool([
                pkl, '--tree', tree, '--multi-label', '--threshold', '0.5',
                '--average', 'micro', 'weighted'
            ])
            # A/D is predicted too: half the paths are right (micro), but
            # weighted averaging gives a class without support no weight.
            self.assertAlmostEqual(rows['test']['hier/path_f1_micro'], 200 / 3)
            self.assertEqual(rows['test']['hier/path_f1_weighted'], 100.0)
            with self.assertRaisesRegex(ValueError, '2 --names for 1'):
                self.run_tool([pkl, '--tree', tree, '--names', 'a', 'b'])
