# Copyright (c) mmhier contributors. All rights reserved.
"""Bounds on the work ops of ``predict`` of the DHNN heads (issue 12).

On a GPU each aten op is a kernel launch, which is what a small head's
``predict`` costs (see docs/benchmarks.md, "Work ops and host syncs per
step"). These tests count the ops of a small head's ``predict`` with
:func:`mmhier.utils.count_ops` on a tree of the DHNN Open Images shape
(2, 4 and 24 nodes on levels 1 to 3, inner nodes may end a path) and fail
when the count grows past what the beam search reached, so a regression
shows. The counts do not depend on the batch or the layer sizes.
"""
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS

import mmhier  # noqa: F401 (registers the components)
from mmhier.utils import count_ops

#: 2, 4 and 24 nodes on levels 1 to 3 (the benchmarks' tree)
TREE = {
    a: {f'{a}{b}': [f'{a}{b}{c}' for c in range(m)]
        for b, m in zip('xy', split)}
    for a, split in zip('ab', ((10, 6), (6, 2)))
}
#: work ops of predict (batch 8, k = 5): beam search, node scores, packing
#: (2026-12-03, second stop; before: 152 -> 87 for the S2S head, 96 -> 45
#: for the RNN head)
BOUNDS = {
    's2s': (dict(type='HierS2SHead'), 64),
    's2s-paper-decoder': (dict(type='HierS2SHead',
                               decoder_input='softmax'), 58),
    'rnn': (dict(type='HierRNNHead'), 40),
}


class TestPredictOpCounts(TestCase):

    def test_predict_work_ops(self):
        torch.manual_seed(0)
        u = torch.randn(8, 3, 16)
        for name, (cfg, bound) in BOUNDS.items():
            with self.subTest(head=name):
                head = MODELS.build(
                    dict(cfg, tree=TREE, in_channels=16,
                         hidden_size=16)).eval()
                with torch.no_grad():
                    head.predict((u, ))  # caches
                    count = count_ops(lambda: head.predict((u, )))
                self.assertLessEqual(count.work_ops, bound, count)
                # the final read-back of the names is the one host sync
                self.assertEqual(count.host_syncs, 1, count)
