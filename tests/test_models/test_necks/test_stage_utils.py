# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

from mmhier.models.necks import (check_stage_groups, default_strides,
                                 infer_stage_shapes, make_stage_groups,
                                 stage_shapes_from_strides)


class TestStageUtils(TestCase):

    def test_make_stage_groups(self):
        self.assertEqual(make_stage_groups(4, 4), [[0], [1], [2], [3]])
        self.assertEqual(
            make_stage_groups(4, 4, 'deep_to_coarse'), [[3], [2], [1], [0]])
        self.assertEqual(make_stage_groups(4, 2), [[0, 1], [2, 3]])
        self.assertEqual(make_stage_groups(5, 3), [[0, 1], [2, 3], [4]])
        self.assertEqual(
            make_stage_groups(4, 3, 'deep_to_coarse'), [[3], [2], [0, 1]])
        self.assertEqual(
            make_stage_groups(4, 6), [[0], [0], [1], [2], [2], [3]])
        for stages in range(1, 6):
            for steps in range(1, 8):
                groups = make_stage_groups(stages, steps)
                self.assertEqual(len(groups), steps)
                self.assertEqual(check_stage_groups(groups, stages), groups)
                # shallow_to_coarse is the paper's increasing S_t
                flat = [s for g in groups for s in g]
                self.assertEqual(flat, sorted(flat))
        with self.assertRaisesRegex(ValueError, "'coarse_first'"):
            make_stage_groups(4, 2, 'coarse_first')

    def test_strides_and_shapes(self):
        self.assertEqual(default_strides(4), (4, 8, 16, 32))
        self.assertEqual(default_strides(5), (2, 4, 8, 16, 32))
        # ResNet rounds up: 193 -> 49 -> 25 -> 13 -> 7
        self.assertEqual(
            stage_shapes_from_strides((64, 128, 256, 512), (193, 250),
                                      (4, 8, 16, 32)), [(64, 49, 63),
                                                        (128, 25, 32),
                                                        (256, 13, 16),
                                                        (512, 7, 8)])
        with self.assertRaisesRegex(ValueError, 'one stride per stage'):
            stage_shapes_from_strides((64, 128), 224, (4, ))
        with self.assertRaisesRegex(ValueError, 'input_size'):
            stage_shapes_from_strides((64, ), (224, 0), (4, ))

    def test_infer_stage_shapes(self):
        backbone = dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3))
        shapes = infer_stage_shapes(backbone, (65, 96))
        self.assertEqual(shapes, [(64, 17, 24), (128, 9, 12), (256, 5, 6),
                                  (512, 3, 3)])
        self.assertEqual(
            shapes,
            stage_shapes_from_strides((64, 128, 256, 512), (65, 96),
                                      (4, 8, 16, 32)))
