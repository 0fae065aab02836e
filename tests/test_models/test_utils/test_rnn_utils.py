# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS

import mmhier  # noqa: F401
from mmhier.models.utils import build_rnn, init_rnn, merge_directions

TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}


def kernels(rnn):
    """Per layer and direction, the ``(G * h, in + h)`` matrix
    ``[weight_ih, weight_hh]``, the transpose of TensorFlow's kernel."""
    suffixes = [
        f'_l{layer}{d}' for layer in range(rnn.num_layers)
        for d in (('', '_reverse') if rnn.bidirectional else ('', ))
    ]
    return {
        s:
        torch.cat(
            [getattr(rnn, 'weight_ih' + s),
             getattr(rnn, 'weight_hh' + s)], 1)
        for s in suffixes
    }


def is_semi_orthogonal(w):
    """Orthonormal rows or columns, whichever are fewer."""
    small = w @ w.t() if w.size(0) <= w.size(1) else w.t() @ w
    return torch.allclose(small, torch.eye(small.size(0)), atol=1e-5)


class TestBuildRNN(TestCase):

    def test_per_gate_default(self):
        for cell, gates in (('lstm', 4), ('gru', 3)):
            rnn = build_rnn(cell, 5, 8, num_layers=2, bidirectional=True)
            for name, w in rnn.named_parameters():
                if name.startswith('weight_hh'):
                    self.assertEqual(tuple(w.shape), (gates * 8, 8))
                    for g in w.split(8):
                        self.assertTrue(is_semi_orthogonal(g), name)
            # the whole recurrent matrix is not orthogonal (4h x h: its
            # columns would be orthonormal), only each gate's block
            self.assertFalse(is_semi_orthogonal(rnn.weight_hh_l0))
            if cell == 'lstm':
                self.assertTrue((rnn.bias_ih_l0[8:16] == 1).all())
                self.assertTrue((rnn.bias_ih_l0[:8] == 0).all())
                self.assertTrue((rnn.bias_hh_l0 == 0).all())
            else:
                self.assertTrue((rnn.bias_ih_l0 == 0).all())

    def test_orthogonal_whole_kernel(self):
        """The authors' LSTMCell(initializer=tf.orthogonal_initializer()):
        every layer's and direction's [W_x; W_h] kernel is orthogonal."""
        torch.manual_seed(0)
        # (in + h) < 4h, (in + h) > 4h, and a second layer reading 2h
        for in_size, h in ((5, 8), (40, 4)):
            rnn = build_rnn(
                'lstm',
                in_size,
                h,
                num_layers=2,
                bidirectional=True,
                init='orthogonal')
            ks = kernels(rnn)
            self.assertEqual(
                sorted(ks), ['_l0', '_l0_reverse', '_l1', '_l1_reverse'])
            for suffix, k in ks.items():
                first = suffix.startswith('_l0')
                self.assertEqual(
                    tuple(k.shape), (4 * h, (in_size if first else 2 * h) + h))
                self.assertTrue(is_semi_orthogonal(k), suffix)
            # forget_bias=1.0, everything else zero
            for name, b in rnn.named_parameters():
                if name.startswith('bias_ih'):
                    self.assertTrue((b[h:2 * h] == 1).all())
                    self.assertTrue((b[:h] == 0).all())
                    self.assertTrue((b[2 * h:] == 0).all())
                elif name.startswith('bias_hh'):
                    self.assertTrue((b == 0).all())
        # directions and layers are drawn independently
        self.assertFalse(torch.allclose(ks['_l1'], ks['_l1_reverse']))

    def test_orthogonal_gru_kernels(self):
        """A GRU gets TensorFlow's GRUCell kernels: gates and candidate."""
        rnn = build_rnn('gru', 6, 8, init='orthogonal')
        k = kernels(rnn)['_l0']  # (3h, in + h), rows r, z, n
        gates, cand = k[:16], k[16:]
        self.assertTrue(is_semi_orthogonal(gates))
        self.assertTrue(is_semi_orthogonal(cand))
        self.assertTrue((rnn.bias_ih_l0[:16] == 1).all())
        self.assertTrue((rnn.bias_ih_l0[16:] == 0).all())
        self.assertTrue((rnn.bias_hh_l0 == 0).all())

    def test_init_rnn_in_place_and_runs(self):
        rnn = torch.nn.LSTM(3, 4, batch_first=True)
        init_rnn(rnn, 'orthogonal')
        self.assertTrue(is_semi_orthogonal(kernels(rnn)['_l0']))
        out, _ = rnn(torch.randn(2, 5, 3))
        self.assertEqual(tuple(out.shape), (2, 5, 4))

    def test_per_gate_keeps_random_stream(self):
        """The default scheme draws as before the option existed, so seeded
        runs are unchanged."""
        torch.manual_seed(3)
        a = build_rnn('lstm', 5, 8)
        torch.manual_seed(3)
        b = torch.nn.LSTM(5, 8, batch_first=True)
        with torch.no_grad():
            torch.nn.init.xavier_uniform_(b.weight_ih_l0)
            for gate in b.weight_hh_l0.split(8):
                torch.nn.init.orthogonal_(gate)
        self.assertTrue(torch.equal(a.weight_ih_l0, b.weight_ih_l0))
        self.assertTrue(torch.equal(a.weight_hh_l0, b.weight_hh_l0))

    def test_head_passes_rnn_init(self):
        head = MODELS.build(
            dict(
                type='HierRNNHead',
                tree=TREE,
                in_channels=6,
                hidden_size=4,
                num_layers=3,
                bidirectional=True,
                rnn_init='orthogonal'))
        for suffix, k in kernels(head.rnn).items():
            self.assertTrue(is_semi_orthogonal(k), suffix)
        self.assertEqual(tuple(head(torch.rand(2, 2, 6)).shape), (2, 2, 7))
        with self.assertRaisesRegex(ValueError, "got 'xavier'"):
            MODELS.build(
                dict(
                    type='HierRNNHead',
                    tree=TREE,
                    in_channels=6,
                    rnn_init='xavier'))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "'rnn'"):
            build_rnn('rnn', 4, 4)
        with self.assertRaisesRegex(ValueError, 'hidden_size.*0'):
            build_rnn('gru', 4, 0)
        with self.assertRaisesRegex(
                ValueError, r"init must be one of \('per_gate', "
                r"'orthogonal'\), got 'glorot'"):
            build_rnn('lstm', 4, 4, init='glorot')

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
