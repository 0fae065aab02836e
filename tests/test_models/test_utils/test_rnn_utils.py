# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch

from mmhier.models.utils import build_rnn, merge_directions


class TestBuildRNN(TestCase):

    def test_orthogonal_recurrent_weights(self):
        for cell, gates in (('lstm', 4), ('gru', 3)):
            rnn = build_rnn(cell, 5, 8, num_layers=2, bidirectional=True)
            for name, w in rnn.named_parameters():
                if name.startswith('weight_hh'):
                    self.assertEqual(tuple(w.shape), (gates * 8, 8))
                    for g in w.split(8):
                        self.assertTrue(
                            torch.allclose(g @ g.t(), torch.eye(8), atol=1e-5),
                            name)
            if cell == 'lstm':
                self.assertTrue((rnn.bias_ih_l0[8:16] == 1).all())
                self.assertTrue((rnn.bias_ih_l0[:8] == 0).all())
                self.assertTrue((rnn.bias_hh_l0 == 0).all())

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "'rnn'"):
            build_rnn('rnn', 4, 4)
        with self.assertRaisesRegex(ValueError, 'hidden_size.*0'):
            build_rnn('gru', 4, 0)

    def test_merge_directions(self):
        rnn = build_rnn('lstm', 3, 4, num_layers=2, bidirectional=True)
        out, (h, c) = rnn(torch.randn(5, 6, 3))
        h2, c2 = merge_directions((h, c), 2, True)
        self.assertEqual(tuple(h2.shape), (2, 5, 8))
        # top layer: forward state = output at the last step, backward
        # state = output at the first step
        self.assertTrue(torch.allclose(h2[1, :, :4], out[:, -1, :4]))
        self.assertTrue(torch.allclose(h2[1, :, 4:], out[:, 0, 4:]))
        self.assertIs(merge_directions(h, 2, False), h)
