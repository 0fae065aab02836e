# Copyright (c) mmhier contributors. All rights reserved.
"""HierExportWrapper: the traceable top-k paths equal ``model.predict``."""
import sys
from os import path as osp
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS

from mmhier.apis.export_wrapper import HierExportWrapper
from mmhier.structures import ClassTree

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# a general tree (inner node 'dog' may end a path for S2S) and a fixed one
from tiny_hier_model import TREE as GENERAL  # noqa: E402

FIXED = {'A': {'a': ['x', 'y'], 'b': ['z']}, 'B': {'c': ['u', 'v', 'w']}}
PREPROCESSOR = dict(
    type='HierDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)


def build(head: dict, tree=GENERAL, flat: bool = False, seed: int = 0):
    torch.manual_seed(seed)
    backbone = dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=3,
        stem_channels=8,
        base_channels=8,
        out_indices=(3, ) if flat else (0, 1, 2, 3))
    neck = dict(type='GlobalAveragePooling') if flat else dict(
        type='HierConversionNeck',
        in_channels=[8, 16, 32, 64],
        input_size=32,
        strides=(1, 2, 4, 8),
        out_channels=64,
        stage_groups='deep_to_coarse',
        num_steps=ClassTree.build(tree).max_depth,
        conversion='pool_avg')
    if not flat:
        head = dict(head, tree=tree)
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=backbone,
            neck=neck,
            head=head,
            data_preprocessor=PREPROCESSOR))
    with torch.no_grad():  # sharper, image-dependent outputs
        for p in model.head.parameters():
            p.mul_(4.)
    return model.eval()


def images(b: int = 6, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 3, 32, 32), generator=gen).float()


def reference(model, x: torch.Tensor, k: int, flat: bool = False):
    """``(paths, scores)`` of ``model.test_step`` as HierInferencer runs it
    for top-k (beam widened to k)."""
    head = model.head
    if hasattr(head, 'beam_size'):
        head.beam_size = max(head.beam_size, k)
    with torch.no_grad():
        samples = model.test_step(dict(inputs=x.clone(), data_samples=None))
    if flat:
        return torch.stack([s.pred_score for s in samples]).topk(k, -1)
    paths = torch.stack([s.pred_beam_paths[:k] for s in samples])
    scores = torch.stack([s.pred_beam_scores[:k] for s in samples])
    return paths, scores


class TestHierExportWrapper(TestCase):

    def check(self, model, k, tree=None, flat=False, crm=False):
        wrapper = HierExportWrapper(model, tree, topk=k).eval()
        x = images()
        with torch.no_grad():
            paths, scores = wrapper(x)
        t = wrapper.tree.max_depth
        self.assertEqual(paths.shape, (6, k, t))
        self.assertEqual(paths.dtype, torch.int64)
        self.assertEqual(scores.shape, (6, k))
        if flat and not crm:
            probs, nodes = reference(model, x, k, flat=True)
            pm = wrapper.tree.tensor('path_matrix')
            self.assertTrue(torch.equal(paths, pm[nodes]))
            torch.testing.assert_close(scores, probs.log())
        else:
            ref_paths, ref_scores = reference(model, x, k)
            self.assertTrue(torch.equal(paths, ref_paths))
            torch.testing.assert_close(scores, ref_scores)
        self.assertTrue(wrapper.tree.valid_paths(paths).all())
        # best first
        self.assertTrue((scores[:, :-1] >= scores[:, 1:]).all())
        return wrapper, paths

    def test_rnn_head(self):
        model = build(
            dict(
                type='HierRNNHead',
                in_channels=64,
                hidden_size=16,
                bidirectional=True,
                beam_size=2),
            tree=FIXED)
        # k above the beam: the beam is widened as HierInferencer does
        wrapper, _ = self.check(model, 4)
        self.assertEqual(wrapper.beam_size, 4)

    def test_s2s_head_embedding_decoder(self):
        model = build(
            dict(
                type='HierS2SHead',
                in_channels=64,
                hidden_size=16,
                mask_levels=True,
                beam_size=5))
        _, paths = self.check(model, 3)
        # paths of different lengths, padded with PATH_END
        self.assertGreater(len(set((paths >= 0).sum(-1).flatten().tolist())),
                           1)

    def test_s2s_head_free_running_decoder(self):
        model = build(
            dict(
                type='HierS2SHead',
                in_channels=64,
                hidden_size=16,
                decoder_input='softmax',
                beam_size=3))
        self.check(model, 3)

    def test_joint_head(self):
        for decode in ('fused', 'crm'):
            with self.subTest(decode=decode):
                model = build(
                    dict(
                        type='HierJointHead',
                        decode=decode,
                        beam_size=2,
                        hier_head=dict(
                            type='HierRNNHead', in_channels=64,
                            hidden_size=16)),
                    tree=FIXED)
                self.check(model, 3)

    def test_flat_heads(self):
        tree = ClassTree.from_dict(GENERAL)
        head = dict(type='LinearClsHead', num_classes=9, in_channels=64)
        self.check(build(head, flat=True), 4, tree=tree, flat=True)
        crm = dict(
            type='HierLinearClsHead',
            num_classes=9,
            in_channels=64,
            tree=GENERAL,
            decode='crm',
            num_ranked=3)
        # CRM: the ranked candidates and minus their expected cost
        self.check(build(crm, flat=True), 3, flat=True, crm=True)

    def test_torch_export_round_trip(self):
        model = build(
            dict(
                type='HierS2SHead',
                in_channels=64,
                hidden_size=16,
                beam_size=3))
        wrapper = HierExportWrapper(model, topk=3).eval()
        x = images(2)
        with torch.no_grad():
            wrapper(x)
        program = torch.export.export(
            wrapper, (x, ),
            dynamic_shapes={'images': {
                0: torch.export.Dim('batch', min=1, max=64)
            }})
        other = images(5, seed=7)  # another batch size
        with torch.no_grad():
            got = program.module()(other)
            want = wrapper(other)
        self.assertTrue(torch.equal(got[0], want[0]))
        torch.testing.assert_close(got[1], want[1])

    def test_errors_name_the_fault(self):
        s2s = dict(type='HierS2SHead', in_channels=64, hidden_size=8)
        with self.assertRaisesRegex(ValueError, 'multi-label HierS2SHead'):
            HierExportWrapper(build(dict(s2s, multi_label=True)))
        with self.assertRaisesRegex(ValueError, 'topk=10.*only 9 distinct'):
            HierExportWrapper(build(s2s), topk=10)
        with self.assertRaisesRegex(ValueError, 'topk must be an int'):
            HierExportWrapper(build(s2s), topk=0)
        flat = build(
            dict(type='LinearClsHead', num_classes=9, in_channels=64),
            flat=True)
        with self.assertRaisesRegex(ValueError, 'LinearClsHead has no class'):
            HierExportWrapper(flat)
        with self.assertRaisesRegex(ValueError, '9 classes.*11 nodes'):
            HierExportWrapper(flat, tree=ClassTree.from_dict(FIXED))
        multi = build(
            dict(
                type='MultiLabelLinearClsHead', num_classes=9,
                in_channels=64),
            flat=True)
        with self.assertRaisesRegex(ValueError,
                                    'head MultiLabelLinearClsHead'):
            HierExportWrapper(multi, tree=ClassTree.from_dict(GENERAL))
