# Copyright (c) mmhier contributors. All rights reserved.
"""``make demo``'s script end to end on small fake Fashion-MNIST files."""
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
from unittest import TestCase

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_datasets'))
from fixture_writers import write_fashion_mnist  # noqa: E402


class TestDemo(TestCase):

    def test_two_tables_and_the_picture(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = osp.join(tmp, 'data')
            os.makedirs(data)
            write_fashion_mnist(data, train_labels=list(range(10)) * 6)
            work = osp.join(tmp, 'demo')
            proc = subprocess.run([
                sys.executable,
                osp.join(REPO, 'tools',
                         'demo.py'), '--data-root', data, '--work-dir', work,
                '--train-size', '60', '--epochs', '1', '--fine-fraction', '0.2'
            ],
                                  capture_output=True,
                                  text=True,
                                  cwd=REPO,
                                  timeout=600)
            self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
            out = proc.stdout
            self.assertIn('## Full labels', out)
            self.assertIn('## Partial labels: 20% of each class', out)
            self.assertEqual(out.count('hierarchical - flat:'), 2)
            self.assertTrue(osp.getsize(osp.join(work, 'predictions.png')))
            with open(osp.join(work, 'results.json')) as f:
                results = json.load(f)
        full_flat = results['full_flat']
        part_flat = results['partial0.2_flat']
        part_hier = results['partial0.2_hier']
        # the flat model sees the fully labelled images only: 20% of the 6
        # images of each class, rounded, one per class
        self.assertEqual(full_flat['train_images'], 60)
        self.assertEqual(full_flat['full_paths'], 60)
        self.assertEqual(part_flat['train_images'], 10)
        self.assertEqual(part_flat['full_paths'], 10)
        # the hierarchical model sees all 60, 10 of them with a full path
        # (listed 5 times an epoch: --fine-repeat's default)
        self.assertEqual(part_hier['train_images'], 60)
        self.assertEqual(part_hier['full_paths'], 10)
        self.assertIn('| 60 (10) |', out)
        for res in results.values():
            self.assertIn('hier/path_acc', res['metrics'])
            self.assertTrue(0 <= res['metrics']['hier/path_acc'] <= 100)
