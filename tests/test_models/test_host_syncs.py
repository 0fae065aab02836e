# Copyright (c) mmhier contributors. All rights reserved.
"""No host sync in a training step, at most the final read-back in predict.

A host sync (``.item()``, ``if tensor.any():``, ``nonzero``, boolean-mask
indexing, ``.tolist()``) stops the CPU until a GPU has drained its queue.
These tests run the neck and every hierarchical head on the CPU under the
profiler (:func:`mmhier.utils.count_ops`, which also counts ``tolist`` and
``numpy``) with the ground truth batched as ``HierDataPreprocessor`` does
in training, and fail if a sync comes back. On a GPU machine they also run
under ``torch.cuda.set_sync_debug_mode('error')``.
"""
from unittest import TestCase, skipUnless

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the components)
from mmhier.structures import PATH_END, PATH_UNKNOWN
from mmhier.utils import count_ops

# A=0, B=1, C=2, D=3, E=4, F=5, H=6, I=7: leaves at depths 2 and 3
VAR_TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F']}
FIXED_TREE = {'A': ['C', 'D'], 'B': ['E', 'F']}
E_, U_ = PATH_END, PATH_UNKNOWN
P = 8  # features per step of u
SMALL = dict(in_channels=P, hidden_size=8)

#: the heads, single- and multi-label, and their decoding options
HEADS = {
    'rnn':
    dict(type='HierRNNHead', **SMALL),
    'rnn-multi':
    dict(type='HierRNNHead', multi_label=True, **SMALL),
    's2s':
    dict(type='HierS2SHead', mask_levels=True, **SMALL),
    's2s-residual':
    dict(type='HierS2SHead', residual=True, **SMALL),
    's2s-softmax':
    dict(type='HierS2SHead', decoder_input='softmax', **SMALL),
    's2s-sampled':
    dict(type='HierS2SHead', scheduled_sampling=0.5, **SMALL),
    's2s-strict':
    dict(type='HierS2SHead', allow_inner_stop=False, **SMALL),
    's2s-multi':
    dict(type='HierS2SHead', multi_label=True, **SMALL),
    's2s-multi-softmax':
    dict(
        type='HierS2SHead', multi_label=True, decoder_input='softmax',
        **SMALL),
    'joint':
    dict(type='HierJointHead', hier_head=dict(type='HierS2SHead', **SMALL)),
    'joint-crm':
    dict(
        type='HierJointHead',
        decode='crm',
        hier_head=dict(type='HierRNNHead', **SMALL)),
    'guo-greedy':
    dict(type='GuoRNNHead', **SMALL),
    'guo-beam':
    dict(type='GuoRNNHead', decoder='beam', **SMALL),
    'guo-strict':
    dict(type='GuoRNNHead', decoder='beam', allow_inner_stop=False, **SMALL),
    'multi-level':
    dict(type='HierMultiLevelHead', in_channels=P),
    'coarse-to-fine':
    dict(type='HierCoarseToFineHead', in_channels=P, decoder='tree'),
    'fine-to-coarse':
    dict(type='HierFineToCoarseHead', in_channels=P),
}
#: single-label paths valid for every head: leaves, one coarse-only
PATHS = [[0, 2, 6], [1, 4, E_], [0, 3, E_], [1, U_, U_]]
MULTI_PATHS = [[[0, 2, 6], [1, 5, E_]], [[1, 4, E_], [E_, E_, E_]],
               [[0, 3, E_], [0, U_, U_]], [[1, U_, U_], [E_, E_, E_]]]


def collated(paths, depth=3):
    """Samples whose gt_path is batched as in training."""
    pre = MODELS.build(dict(type='HierDataPreprocessor'))
    samples = []
    for p in paths:
        d = DataSample()
        d.set_field(torch.tensor(p).view(-1, depth), 'gt_path')
        samples.append(d)
    data = dict(inputs=torch.zeros(len(paths), 3, 2, 2), data_samples=samples)
    return pre(data, training=True)['data_samples']


def build_neck(conversion):
    return MODELS.build(
        dict(
            type='HierConversionNeck',
            in_shapes=[(4, 8, 8), (8, 4, 4), (16, 2, 2)],
            out_channels=P,
            stage_groups=[[0, 1], [1], [2]],
            conversion=conversion))


def stage_maps(batch=4):
    return tuple(
        torch.rand(batch, d, s, s, requires_grad=True)
        for d, s in ((4, 8), (8, 4), (16, 2)))


class TestNoHostSyncs(TestCase):

    def train_step(self, neck, head, samples):
        maps = stage_maps(len(samples))

        def step():
            losses = head.loss(neck(maps), samples)
            sum(v for k, v in losses.items() if 'loss' in k).backward()

        step()  # caches (tree tables on the device, pooling windows)
        return count_ops(step)

    def test_training_step_has_no_host_sync(self):
        neck = build_neck('pool_mode')
        for name, cfg in HEADS.items():
            multi = cfg.get('multi_label', False)
            tree = FIXED_TREE if name == 'multi-level' else VAR_TREE
            paths = MULTI_PATHS if multi else PATHS
            if tree is FIXED_TREE:
                paths = [[0, 2], [1, 5], [1, U_], [0, 3]]
            with self.subTest(head=name):
                head = MODELS.build(dict(cfg, tree=tree))
                head.train()
                samples = collated(paths, depth=head.max_depth)
                got = self.train_step(neck, head, samples)
                self.assertEqual(got.host_syncs, 0, got.syncs)
                self.assertGreater(got.work_ops, 10)

    def test_neck_conversions_have_no_host_sync(self):
        head = MODELS.build(dict(HEADS['s2s'], tree=VAR_TREE))
        for conversion in ('pool', 'pool_mode', 'linear', 'conv'):
            with self.subTest(conversion=conversion):
                if conversion == 'pool':
                    # weight-free pooling to exactly p values per stage
                    neck = MODELS.build(
                        dict(
                            type='HierConversionNeck',
                            in_shapes=[(2, 8, 8), (8, 4, 4)],
                            out_channels=P,
                            stage_groups=[[0], [0, 1], [1]],
                            conversion='pool'))
                    maps = (torch.rand(4, 2, 8, 8, requires_grad=True),
                            torch.rand(4, 8, 4, 4, requires_grad=True))
                    neck(maps)
                    got = count_ops(lambda: neck(maps)[0].sum().backward())
                else:
                    got = self.train_step(
                        build_neck(conversion), head, collated(PATHS))
                self.assertEqual(got.host_syncs, 0, got.syncs)

    def test_predict_reads_back_once(self):
        neck = build_neck('pool_mode')
        maps = stage_maps()
        for name, cfg in HEADS.items():
            tree = FIXED_TREE if name == 'multi-level' else VAR_TREE
            with self.subTest(head=name):
                head = MODELS.build(dict(cfg, tree=tree)).eval()
                with torch.no_grad():
                    feats = neck(maps)
                    head.predict(feats)
                    got = count_ops(lambda: head.predict(feats))
                # the names of the predicted paths (and, multi-label, the
                # number of selected paths) in one read-back
                self.assertEqual(got.syncs, {'Tensor.tolist': 1})

    def test_model_train_step(self):
        """A whole ImageClassifier step through mmengine's train_step, the
        data preprocessor included."""
        from mmengine.optim import OptimWrapper
        model = MODELS.build(
            dict(
                type='ImageClassifier',
                data_preprocessor=dict(
                    type='HierDataPreprocessor', mean=[0.] * 3, std=[1.] * 3),
                backbone=dict(
                    type='ResNet',
                    depth=18,
                    out_indices=(1, 2, 3),
                    base_channels=8,
                    stem_channels=8),
                neck=dict(
                    type='HierConversionNeck',
                    in_shapes=[(16, 4, 4), (32, 2, 2), (64, 1, 1)],
                    out_channels=P,
                    stage_groups=[[0], [1], [2]],
                    conversion='pool_mode'),
                head=dict(HEADS['s2s'], tree=VAR_TREE)))
        wrapper = OptimWrapper(
            torch.optim.SGD(
                model.parameters(), lr=0.01, momentum=0.9, foreach=True))

        def batch():
            samples = []
            for p in PATHS:
                d = DataSample().set_gt_label(p[0])
                d.set_field(torch.tensor([p]), 'gt_path')
                samples.append(d)
            return dict(
                inputs=torch.rand(len(PATHS), 3, 32, 32) * 255,
                data_samples=samples)

        model.train_step(batch(), wrapper)
        data = batch()  # as fresh from the data loader
        got = count_ops(lambda: model.train_step(data, wrapper))
        self.assertEqual(got.host_syncs, 0, got.syncs)

    @skipUnless(torch.cuda.is_available(), 'needs a GPU')
    def test_no_sync_on_cuda(self):
        """The same on a GPU, with CUDA's own sync detector."""
        neck = build_neck('pool_mode').cuda()
        for name in ('rnn', 's2s', 's2s-softmax', 's2s-multi', 'guo-beam',
                     'joint'):
            cfg = HEADS[name]
            with self.subTest(head=name):
                head = MODELS.build(dict(cfg, tree=VAR_TREE)).cuda()
                multi = cfg.get('multi_label', False)
                samples = collated(MULTI_PATHS if multi else PATHS)
                samples = [s.to('cuda') for s in samples]
                maps = tuple(m.detach().cuda().requires_grad_()
                             for m in stage_maps())

                def step():
                    losses = head.loss(neck(maps), samples)
                    sum(v for k, v in losses.items() if 'loss' in k).backward()

                step()  # the tree's tables reach the device once
                torch.cuda.synchronize()
                torch.cuda.set_sync_debug_mode('error')
                try:
                    step()
                finally:
                    torch.cuda.set_sync_debug_mode('default')
