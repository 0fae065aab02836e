# Copyright (c) mmhier contributors. All rights reserved.
"""A real 2-process CPU (gloo) evaluation gives exactly the numbers of a
single-process one on the same data."""
import math
import os.path as osp
import pickle
import tempfile
from unittest import TestCase

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from mmhier.evaluation.functional import imply_paths
from mmhier.structures import ClassTree

VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}
NUM = 11  # odd: the sampler pads rank 1 with a repeat, dropped by size


def make_data():
    """Single-label samples (half from a hierarchical head, half flat) and
    multi-label samples, fixed by a seed."""
    tree = ClassTree.build(VARIABLE)
    gen = torch.Generator().manual_seed(0)
    n = tree.num_nodes

    def rand(*shape):
        return torch.randint(n, shape, generator=gen)

    single, multi = [], []
    for i in range(NUM):
        gt = imply_paths(rand(1), tree)
        if i % 4 == 3:
            gt[0, 1:] = -2  # coarse-only annotation
        score = torch.rand(n, generator=gen)
        sample = dict(gt_path=gt, pred_score=score)
        if i % 2:  # a flat model: only pred_label / pred_score
            sample['pred_label'] = score.argmax().view(1)
        else:  # a hierarchical head with beams
            beams = imply_paths(rand(2), tree)
            sample.update(pred_path=beams[0], pred_beam_paths=beams)
        single.append(sample)
        rows = imply_paths(rand(1 + i % 3), tree)
        multi.append(
            dict(gt_path=rows, pred_score=torch.rand(n, generator=gen)))
    return tree, single, multi


def build_evaluators(work_dir):
    single = [
        dict(type='HierAccuracy'),
        dict(type='HierF1'),
        dict(type='MistakeSeverity', topk=(1, 2)),
        dict(type='HierConfusionMatrix'),
    ]
    multi = [
        dict(
            type='HierMultiLabelMetric',
            threshold='auto',
            average=('micro', 'macro', 'weighted'),
            threshold_file=osp.join(work_dir, 'hier_threshold.json')),
        dict(type='HierF1', threshold=0.5, prefix='hier_ml'),
    ]
    evaluators = []
    for k, cfgs in enumerate((single, multi)):
        metrics = [
            METRICS.build(
                dict(cfg, collect_dir=osp.join(work_dir, f'collect{k}{i}')))
            for i, cfg in enumerate(cfgs)
        ]
        evaluators.append(Evaluator(metrics))
    return evaluators


def evaluate(samples_per_set, tree, work_dir, indices):
    results = {}
    for evaluator, samples in zip(build_evaluators(work_dir), samples_per_set):
        evaluator.dataset_meta = dict(class_tree=tree)
        for b in range(0, len(indices), 2):  # batches of 2
            evaluator.process([samples[i] for i in indices[b:b + 2]])
        results.update(evaluator.evaluate(NUM))
    return results


def _worker(rank, world_size, init_file, work_dir, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=world_size)
    try:
        tree, single, multi = make_data()
        # DistributedSampler(shuffle=False): pad to a multiple of the world
        # size by repeating from the start, then take every world_size-th.
        order = list(range(NUM))
        order += order[:(-NUM) % world_size]
        results = evaluate((single, multi), tree, work_dir,
                           order[rank::world_size])
        with open(osp.join(out_dir, f'rank{rank}.pkl'), 'wb') as f:
            pickle.dump(results, f)
    finally:
        dist.destroy_process_group()


def assert_same(test, got, want):
    test.assertEqual(sorted(got), sorted(want))
    for k, v in want.items():
        if isinstance(v, torch.Tensor):
            test.assertTrue(torch.equal(got[k], v), k)
        elif isinstance(v, float) and math.isnan(v):
            test.assertTrue(math.isnan(got[k]), k)
        else:
            test.assertEqual(got[k], v, k)  # exactly, not approximately


class TestDistributedEvaluation(TestCase):

    def tearDown(self):
        MMLogger._instance_dict.clear()

    def test_two_process_gloo_equals_single_process(self):
        tree, single, multi = make_data()
        with tempfile.TemporaryDirectory() as tmp:
            want = evaluate((single, multi), tree, osp.join(tmp, 'single'),
                            list(range(NUM)))
            # fork: the children reuse the imports of this process (a
            # spawn would import torch and mmpretrain twice more).
            mp.start_processes(
                _worker,
                args=(2, osp.join(tmp, 'init'), osp.join(tmp, 'dist'), tmp),
                nprocs=2,
                join=True,
                start_method='fork')
            got = [
                pickle.load(open(osp.join(tmp, f'rank{r}.pkl'), 'rb'))
                for r in (0, 1)
            ]
            stored = osp.isfile(osp.join(tmp, 'dist', 'hier_threshold.json'))
        self.assertTrue(stored)
        self.assertIn('hier/path_acc', want)
        self.assertIn('hier/threshold', want)
        self.assertIn('hier_confusion/level3', want)
        self.assertIn('hier_ml/h_f1', want)
        assert_same(self, got[0], want)
        assert_same(self, got[1], want)  # every rank gets the numbers
