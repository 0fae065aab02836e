# Copyright (c) mmhier contributors. All rights reserved.
"""``torch.compile`` of a head gives the eager results (CPU, dynamo with the
eager backend, which keeps the test fast; mmengine's ``compile`` config key
wraps ``model.train_step`` the same way)."""
import sys
from os import path as osp
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS

import mmhier  # noqa: F401 (registers the components)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from test_host_syncs import HEADS, PATHS, VAR_TREE, collated  # noqa: E402


class TestCompile(TestCase):

    def tearDown(self):
        torch._dynamo.reset()

    def test_compiled_head_matches_eager(self):
        # the Guo head's own LSTM cell: dynamo traces all of it (nn.LSTM
        # modules are run eagerly by dynamo unless allow_rnn is set)
        head = MODELS.build(dict(HEADS['guo-beam'], tree=VAR_TREE))
        samples = collated(PATHS)
        u = (torch.rand(4, 3, 8), )
        want = head.loss(u, samples)['loss']
        got = torch.compile(head.loss, backend='eager')(u, samples)['loss']
        self.assertTrue(torch.allclose(got, want))
        head.eval()
        with torch.no_grad():
            want = head.predict(u)
            got = torch.compile(head.predict, backend='eager')(u)
        for a, b in zip(got, want):
            self.assertEqual(a.pred_path.tolist(), b.pred_path.tolist())
            self.assertEqual(a.pred_path_names, b.pred_path_names)
            self.assertTrue(
                torch.allclose(a.pred_beam_scores, b.pred_beam_scores))
