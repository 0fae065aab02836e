# Copyright (c) mmhier contributors. All rights reserved.
import importlib.util
import json
import os.path as osp
import tempfile
from unittest import TestCase

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        'beam_search_benchmark', osp.join(ROOT, 'benchmarks',
                                          'beam_search.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestBeamSearchBenchmark(TestCase):

    def test_quick_mode(self):
        bench = load_benchmark()
        threads = torch.get_num_threads()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                rows = bench.main(['--quick', '--out', tmp])
                with open(osp.join(tmp, 'beam_search.json')) as f:
                    saved = json.load(f)
                with open(osp.join(tmp, 'beam_search.md')) as f:
                    table = f.read()
        finally:
            torch.set_num_threads(threads)
        # 2 trees x 2 modes x k in {1, 2}
        self.assertEqual(len(rows), 8)
        self.assertEqual(saved['rows'], json.loads(json.dumps(rows)))
        for row in rows:
            self.assertTrue(row['identical'], row)
            self.assertTrue(row['torch_ref_identical'], row)
            self.assertGreater(row['speedup'], 0)
        self.assertEqual(table.count('| yes |'), 16)  # 8 rows, 2 references
        self.assertNotIn('NO', table)

    def test_reference_matches_brute_force(self):
        # The benchmark's reference itself, on a tree small enough for a
        # beam as wide as the widest level: the exact top paths.
        bench = load_benchmark()
        tree = bench.generated_tree([3, 5, 6], seed=0)
        lp = torch.randn(4, 3, tree.num_nodes).log_softmax(-1)
        children = [tree.children(i) for i in range(tree.num_nodes)]
        children.append(tree.children(-1))
        paths, scores = bench.reference_search(lp.numpy(), children,
                                               tree.is_leaf.tolist(), 3, 6,
                                               False)
        pm = torch.from_numpy(tree.path_matrix[tree.leaves])
        steps = torch.arange(3).expand_as(pm)
        full = torch.where(pm >= 0, lp[:, steps, pm.clamp(min=0)], 0.).sum(-1)
        k = min(6, len(tree.leaves))
        want_s, want_i = full.topk(k, dim=1)
        self.assertTrue(
            torch.equal(torch.from_numpy(paths[:, :k]), pm[want_i]))
        self.assertTrue(
            torch.allclose(torch.from_numpy(scores[:, :k]), want_s))
