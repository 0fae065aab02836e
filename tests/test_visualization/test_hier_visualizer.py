# Copyright (c) mmhier contributors. All rights reserved.
import os.path as osp
import tempfile
from unittest import TestCase

import cv2
import numpy as np
import torch
from mmpretrain.registry import VISUALIZERS
from mmpretrain.structures import DataSample

from mmhier.structures import ClassTree
from mmhier.visualization import draw_hier_prediction, format_path

SLIDES = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}


def beam_sample():
    """A prediction of a beam-search head on the slides' tree."""
    sample = DataSample()
    sample.set_field(torch.tensor([[1, 5], [0, 2], [1, 4]]), 'pred_beam_paths')
    sample.set_field(torch.tensor([0.6, 0.3, 0.1]).log(), 'pred_beam_scores')
    sample.set_field(torch.tensor([1, 5]), 'pred_path')
    sample.set_pred_label(torch.tensor([5]))
    sample.set_field(torch.tensor([[0, 3]]), 'gt_path')
    return sample


class TestFormatPath(TestCase):

    def test_format(self):
        self.assertEqual(format_path(['a', 'b']), 'a > b')
        self.assertEqual(format_path(['a'], 0.5), ' 50.00%  a')
        self.assertEqual(format_path(['a'], 2.5), '2.500  a')
        self.assertEqual(format_path([]), '(empty path)')


class TestDrawHierPrediction(TestCase):

    def test_draws_with_and_without_tree(self):
        tree = ClassTree.from_dict(SLIDES)
        rng = np.random.default_rng(0)
        image = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
        paths = [[1, 5], [0, 2]]
        small = draw_hier_prediction(image, paths, [0.6, 0.3], tree, title='x')
        big = draw_hier_prediction(
            image, paths, [0.6, 0.3], tree, draw_tree=True, title='x')
        self.assertEqual(small.shape[0], big.shape[0])
        self.assertGreater(big.shape[1], small.shape[1] + 100)
        # grey images draw too
        grey = draw_hier_prediction(image[..., 0], paths[:1], [0.6], tree)
        self.assertEqual(grey.ndim, 3)
        with self.assertRaisesRegex(ValueError, '2 paths but 1 scores'):
            draw_hier_prediction(image, paths, [0.6], tree)
        with self.assertRaisesRegex(ValueError, r'\(4, 4, 2\)'):
            draw_hier_prediction(np.zeros((4, 4, 2)), paths, [1, 1], tree)


class TestHierVisualizer(TestCase):

    def test_visualize_hier_writes_png(self):
        tree = ClassTree.from_dict(SLIDES)
        vis = VISUALIZERS.build(
            dict(
                type='HierVisualizer',
                name='test_hier_vis_1',
                tree=tree,
                topk=2))
        image = np.full((32, 32, 3), 128, np.uint8)
        with tempfile.TemporaryDirectory() as tmp:
            out = osp.join(tmp, 'p.png')
            drawn = vis.visualize_hier(image, beam_sample(), out_file=out)
            saved = cv2.imread(out)
        self.assertEqual(saved.shape, drawn.shape)
        self.assertGreater(drawn.std(), 10)
        np.testing.assert_array_equal(vis.get_image(), drawn)

    def test_visualize_cls_uses_dataset_tree(self):
        tree = ClassTree.from_dict(SLIDES)
        vis = VISUALIZERS.build(
            dict(type='HierVisualizer', name='test_hier_vis_2'))
        image = np.full((32, 32, 3), 128, np.uint8)
        flat = vis.visualize_cls(image, beam_sample())  # no tree: flat text
        self.assertEqual(flat.shape, image.shape)
        vis.dataset_meta = dict(classes=tree.names, class_tree=tree)
        hier = vis.visualize_cls(image, beam_sample())
        self.assertGreater(hier.shape[0], 200)  # the path drawing
        np.testing.assert_array_equal(
            hier, vis.visualize_hier(image, beam_sample(), tree=tree, topk=3))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, 'topk must be an int'):
            VISUALIZERS.build(
                dict(type='HierVisualizer', name='test_hier_vis_3', topk=0))
        vis = VISUALIZERS.build(
            dict(type='HierVisualizer', name='test_hier_vis_4'))
        with self.assertRaisesRegex(ValueError, 'needs a class tree'):
            vis.visualize_hier(np.zeros((8, 8, 3), np.uint8), beam_sample())
