# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the heads)
from mmhier.structures import PATH_END, PATH_UNKNOWN

E_, U_ = PATH_END, PATH_UNKNOWN
# A=0, B=1; C=2, D=3 under A; E=4, F=5, G=6 under B.
FIXED_TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}
FIXED_PATHS = [[0, 2], [0, 3], [1, 4], [1, 5], [1, 6]]
# A=0, B=1, C=2, D=3, E=4, F=5, H=6, I=7 (levels: [A, B], [C, D, E, F],
# [H, I]); "none" is column 8.
VAR_TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F']}
VAR_PATHS = [[0, E_, E_], [1, E_, E_], [0, 2, E_], [0, 3, E_], [1, 4, E_],
             [1, 5, E_], [0, 2, 6], [0, 2, 7]]
NONE = 8


def samples(paths):
    out = []
    for p in paths:
        d = DataSample()
        d.set_field(torch.tensor(p).view(1, -1), 'gt_path')
        out.append(d)
    return out


def build(tree=FIXED_TREE, **kwargs):
    cfg = dict(type='HierMultiLevelHead', tree=tree, in_channels=6)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def local_target(head, level, node):
    """Index of a node (or "none") among the outputs of its level."""
    cols = head._level_cols[level].tolist()
    return cols.index(node)


class TestHierMultiLevelHead(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls._threads)

    def test_layout(self):
        head = build()
        self.assertEqual(head.level_sizes, [2, 5])
        self.assertEqual([fc.in_features for fc in head.fcs], [6, 6])
        v = torch.rand(3, 6)
        logits = head((v, ))
        self.assertEqual(tuple(logits.shape), (3, 2, 7))
        # level t's scores in its own columns, -inf elsewhere
        level_mask = head.tree.level_mask()
        self.assertTrue(torch.isfinite(logits[:, level_mask]).all())
        self.assertTrue(torch.isinf(logits[:, ~level_mask]).all())
        self.assertTrue(torch.allclose(logits[:, 0, :2], head.fcs[0](v)))
        self.assertTrue(torch.allclose(logits[:, 1, 2:], head.fcs[1](v)))
        # variable depth: a "none" class on every level after the first
        vhead = build(VAR_TREE)
        self.assertEqual(vhead.level_sizes, [2, 5, 3])
        self.assertEqual(tuple(vhead((v, )).shape), (3, 3, 9))
        self.assertTrue(torch.isinf(vhead((v, ))[:, 0, NONE]).all())
        # a conversion neck's sequence: its last step by default
        u = torch.rand(3, 4, 6)
        self.assertTrue(torch.allclose(head((u, )), head((u[:, -1], ))))
        out = head.predict((torch.rand(1, 6), ))  # a batch of one
        self.assertEqual(tuple(out[0].pred_beam_paths.shape), (1, 2))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "decoder.*'beam'"):
            build(decoder='beam')
        with self.assertRaisesRegex(ValueError, "serial_input.*'soft'"):
            build(serial_input='soft')
        with self.assertRaisesRegex(ValueError, 'in_channels.*0'):
            build(in_channels=0)
        with self.assertRaisesRegex(ValueError, 'in_channels=6'):
            build()((torch.rand(2, 5), ))
        # fixed depth: a path may not stop early (checked where the paths
        # enter the head, not by targets())
        head = build()
        with self.assertRaisesRegex(ValueError, 'data sample 1 stops'):
            head.check_gt_paths(torch.tensor([[0, 2], [1, E_]]))

    def test_loss_eq1(self):
        # eq. (1): sum over levels of each level's softmax CE, mean over
        # images; coarse-only levels are left out
        for tree, paths in ((FIXED_TREE, FIXED_PATHS[:3] + [[1, U_]]),
                            (VAR_TREE, VAR_PATHS[::2] + [[0, 2, U_]])):
            head = build(tree)
            v = torch.rand(len(paths), 6)
            z = head.level_logits(v)
            ref = 0.
            for b, path in enumerate(paths):
                for t, node in enumerate(path):
                    if node == U_:
                        continue
                    node = NONE if node == E_ else node
                    ref += F.cross_entropy(
                        z[t][b:b + 1],
                        torch.tensor([local_target(head, t, node)]))
            loss = head.loss((v, ), samples(paths))['loss']
            self.assertAlmostEqual(
                loss.item(), ref.item() / len(paths), places=5)

    def test_coarse_only_masking(self):
        v = torch.rand(1, 6)
        head = build()
        coarse = head.loss((v, ), samples([[1, U_]]))['loss']
        ref = F.cross_entropy(head.fcs[0](v), torch.tensor([1]))
        self.assertAlmostEqual(coarse.item(), ref.item(), places=6)
        head.zero_grad()
        coarse.backward()
        self.assertEqual(head.fcs[1].weight.grad.abs().sum().item(), 0.)
        self.assertGreater(head.fcs[0].weight.grad.abs().sum().item(), 0.)

    def test_independent_decoding(self):
        # per-level argmax: with B best at level 1 and C best at level 2 the
        # path is B/C, not a path of the tree (the paper does not tie the
        # levels); the 'tree' decoder gives a valid path
        head = build()
        with torch.no_grad():
            head.fcs[0].bias[:] = torch.tensor([0., 5.])
            head.fcs[1].bias[0] = 20.
        v = torch.rand(2, 6) * 0.01
        out = head.predict((v, ))
        self.assertEqual(out[0].pred_path.tolist(), [1, 2])
        self.assertFalse(head.tree.is_valid_path([1, 2]))
        lp = [z.log_softmax(-1) for z in head.level_logits(v)]
        self.assertAlmostEqual(
            out[0].pred_path_score.item(), (lp[0][0, 1] + lp[1][0, 0]).item(),
            places=5)
        self.assertEqual(out[0].pred_label.item(), 2)
        head.decoder = 'tree'
        path = head.predict((v, ))[0].pred_path.tolist()
        self.assertTrue(head.tree.is_valid_path(path))

    def test_independent_cut_at_none(self):
        vhead = build(VAR_TREE)
        with torch.no_grad():
            vhead.fcs[0].bias[:] = torch.tensor([9., 0.])  # A
            vhead.fcs[1].bias[:] = torch.tensor([0., 0., 0., 0., 9.])  # none
            vhead.fcs[2].bias[:] = torch.tensor([9., 0., 0.])  # H
        v = torch.rand(1, 6) * 0.01
        o = vhead.predict((v, ))[0]
        self.assertEqual(o.pred_path.tolist(), [0, E_, E_])
        lp = [z.log_softmax(-1)[0] for z in vhead.level_logits(v)]
        self.assertAlmostEqual(
            o.pred_path_score.item(), (lp[0][0] + lp[1][4]).item(), places=5)

    def test_tree_decoder_equals_brute_force(self):
        torch.manual_seed(0)
        for tree, paths in ((FIXED_TREE, FIXED_PATHS), (VAR_TREE, VAR_PATHS)):
            head = build(tree, decoder='tree', beam_size=len(paths))
            v = torch.randn(2, 6) * 2
            lp = [z.log_softmax(-1) for z in head.level_logits(v)]
            out = head.predict((v, ))
            for b in range(2):
                brute = []
                for p in paths:
                    s = 0.
                    for t, node in enumerate(p):
                        node = NONE if node == E_ else node
                        s = s + lp[t][b, local_target(head, t, node)]
                        if node == NONE:
                            break
                    brute.append(s)
                brute = torch.stack(brute)
                order = brute.argsort(descending=True).tolist()
                self.assertTrue(
                    torch.allclose(
                        out[b].pred_beam_scores, brute[order], atol=1e-4))
                self.assertEqual(out[b].pred_beam_paths.tolist(),
                                 [paths[i] for i in order])

    def test_node_scores(self):
        head = build(VAR_TREE)
        v = torch.rand(2, 6)
        o = head.predict((v, ))[0]
        z = [x.softmax(-1)[0] for x in head.level_logits(v)]
        ref = torch.cat([z[0], z[1][:4], z[2][:2]])  # BFS order
        self.assertTrue(torch.allclose(o.pred_node_score, ref, atol=1e-6))

    def test_overfit(self):
        torch.manual_seed(0)
        head = build(VAR_TREE, in_channels=8)
        v = torch.randn(len(VAR_PATHS), 8)
        opt = torch.optim.Adam(head.parameters(), lr=0.1)
        losses = []
        for _ in range(60):
            loss = head.loss((v, ), samples(VAR_PATHS))['loss']
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        self.assertLess(losses[-1], 0.1 * losses[0])
        pred = [o.pred_path.tolist() for o in head.predict((v, ))]
        self.assertEqual(pred, VAR_PATHS)
