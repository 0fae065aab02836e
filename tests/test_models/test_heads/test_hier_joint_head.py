# Copyright (c) mmhier contributors. All rights reserved.
import math
from unittest import TestCase

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the heads)
from mmhier.structures import PATH_END, PATH_UNKNOWN

# A=0, B=1, C=2, D=3, E=4, F=5: the leaves C..F are the label nodes
TREE = {'A': ['C', 'D'], 'B': ['E', 'F']}
U_ = PATH_UNKNOWN


def samples(paths):
    out = []
    for p in paths:
        d = DataSample()
        d.set_field(torch.tensor(p).view(1, -1), 'gt_path')
        out.append(d)
    return out


def build(hier=None, **kwargs):
    hier = hier or dict(type='HierRNNHead', in_channels=8, hidden_size=8)
    return MODELS.build(
        dict(type='HierJointHead', tree=TREE, hier_head=hier, **kwargs))


class TestHierJointHead(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls._threads)

    def test_flat_loss_hand_computed(self):
        head = build()
        self.assertEqual(head.label_nodes.tolist(), [2, 3, 4, 5])
        logits = torch.tensor([[1., 2., 0., -1.], [0.5, 0., 2., 1.]])
        gt = torch.tensor([[0, 2], [1, U_]])  # C; coarse "B/*"
        p = logits.softmax(-1)
        expected = (-math.log(p[0, 0]) - math.log(p[1, 2] + p[1, 3])) / 2
        self.assertAlmostEqual(
            head.flat_loss(logits, gt).item(), expected, places=6)

    def test_loss_has_both_parts_and_learns_from_coarse_labels(self):
        torch.manual_seed(0)
        head = build(flat_loss_weight=0.5)
        feats = (torch.randn(4, 2, 8), )
        data = samples([[0, 2], [0, 3], [1, 4], [1, U_]])
        losses = head.loss(feats, data)
        self.assertEqual(set(losses), {'loss_path', 'loss_flat'})
        gt = torch.tensor([[0, 2], [0, 3], [1, 4], [1, U_]])
        torch.testing.assert_close(losses['loss_flat'],
                                   0.5 * head.flat_loss(head(feats), gt))
        torch.testing.assert_close(losses['loss_path'],
                                   head.hier.loss(feats, data)['loss'])

    def test_pseudo_label_loss_hand_computed(self):
        torch.manual_seed(0)
        head = build(
            flat_loss_weight=0.5,
            pseudo_label_weight=2.0,
            pseudo_label_threshold=0.0)
        feats = (torch.randn(3, 2, 8), )
        # a full path, and two coarse-only paths below A and below B
        gt = torch.tensor([[0, 2], [0, U_], [1, U_]])
        losses = head.loss(feats, samples(gt.tolist()))
        self.assertEqual(
            set(losses), {'loss_path', 'loss_flat', 'loss_pseudo',
                          'pseudo_share'})
        # by hand: per coarse sample, the best label node of its subtree by
        # the fused score, then -(log p_path + 0.5 log p_flat) of it
        paths = {2: [0, 2], 3: [0, 3], 4: [1, 4], 5: [1, 5]}
        log_path = head.hier.log_probs(head.hier(feats))  # (B, T, N)
        log_flat = head(feats).log_softmax(-1)  # (B, |L|) = C, D, E, F
        want = 0.
        for b, children in ((1, (2, 3)), (2, (4, 5))):
            scores = {}
            for j in children:
                lp = sum(log_path[b, t, n] for t, n in enumerate(paths[j]))
                scores[j] = (lp, log_flat[b, j - 2])
            best = max(children, key=lambda j: scores[j][0] + scores[j][1])
            want -= scores[best][0] + 0.5 * scores[best][1]
        want = 2.0 * want / 3
        self.assertAlmostEqual(
            losses["loss_pseudo"].item(), float(want.detach()), places=5)
        self.assertAlmostEqual(losses['pseudo_share'].item(), 2 / 3)

    def test_pseudo_label_threshold_and_full_labels(self):
        torch.manual_seed(0)
        head = build(pseudo_label_weight=1.0, pseudo_label_threshold=1.0)
        feats = (torch.randn(2, 2, 8), )
        # nothing is that sure: no pseudo-label, a zero loss
        losses = head.loss(feats, samples([[0, U_], [1, U_]]))
        self.assertEqual(losses['loss_pseudo'].item(), 0.)
        self.assertEqual(losses['pseudo_share'].item(), 0.)
        # fully labelled batches are untouched by the option
        plain = build()
        # the pseudo-label head has one buffer more: its step counter
        missing, unexpected = plain.load_state_dict(
            head.state_dict(), strict=False)
        self.assertEqual((missing, unexpected), ([], ['loss_steps']))
        data = samples([[0, 2], [1, 5]])
        got, want = head.loss(feats, data), plain.loss(feats, data)
        self.assertEqual(got['loss_pseudo'].item(), 0.)
        torch.testing.assert_close(got['loss_flat'], want['loss_flat'])
        torch.testing.assert_close(got['loss_path'], want['loss_path'])
        # the pseudo-label's gradient reaches both experts
        head.zero_grad()
        head.pseudo_label_threshold = 0.
        head.loss(feats, samples([[0, U_], [1, U_]]))['loss_pseudo'] \
            .backward()
        self.assertGreater(head.fc.weight.grad.abs().sum().item(), 0)
        hier_grads = [p.grad for p in head.hier.parameters()
                      if p.grad is not None]
        self.assertTrue(hier_grads)
        self.assertGreater(sum(g.abs().sum() for g in hier_grads), 0)

    def test_fused_prediction(self):
        torch.manual_seed(1)
        head = build(beam_size=3, fusion_weight=0.7)
        head.eval()
        feats = (torch.randn(3, 2, 8), )
        out = head.predict(feats)
        paths = torch.tensor([[0, 2], [0, 3], [1, 4], [1, 5]])
        hier = head.hier.path_log_probs(feats, paths[None].expand(3, -1, -1))
        flat = head(feats).log_softmax(-1)
        fused = (hier + 0.7 * flat).log_softmax(-1)
        for b, d in enumerate(out):
            order = fused[b].argsort(descending=True)[:3]
            self.assertEqual(d.pred_beam_paths.tolist(), paths[order].tolist())
            torch.testing.assert_close(d.pred_beam_scores, fused[b, order])
            self.assertTrue(head.tree.valid_paths(d.pred_beam_paths).all())
            self.assertEqual(int(d.pred_label), int(paths[order[0], -1]))
            # node marginals: a parent holds the mass of its leaves
            probs = fused[b].exp()
            expected = torch.cat(
                [torch.stack([probs[:2].sum(), probs[2:].sum()]), probs])
            torch.testing.assert_close(d.pred_node_score, expected)
            self.assertEqual(d.pred_path_names,
                             head.tree.decode(d.pred_path.tolist()))

    def test_fusion_weight_zero_is_the_path_model(self):
        torch.manual_seed(2)
        head = build(fusion_weight=0., beam_size=4)
        feats = (torch.randn(5, 2, 8), )
        joint = head.predict(feats)
        alone = head.hier.predict(feats)
        for a, b in zip(joint, alone):
            self.assertEqual(a.pred_path.tolist(), b.pred_path.tolist())

    def test_overfits_with_s2s_and_rnn(self):
        paths = [[0, 2], [0, 3], [1, 4], [1, 5]]
        for hier in (dict(
                type='HierRNNHead', in_channels=8, hidden_size=8,
                residual=True),
                     dict(
                         type='HierS2SHead',
                         in_channels=8,
                         hidden_size=8,
                         allow_inner_stop=False),
                     dict(
                         type='HierS2SHead',
                         in_channels=8,
                         hidden_size=8,
                         allow_inner_stop=False,
                         decoder_input='softmax')):
            torch.manual_seed(0)
            head = build(hier)
            feats = (torch.randn(4, 2, 8), )
            opt = torch.optim.Adam(head.parameters(), lr=0.03)
            first = None
            for _ in range(60):
                loss = sum(head.loss(feats, samples(paths)).values())
                first = first if first is not None else loss.item()
                opt.zero_grad()
                loss.backward()
                opt.step()
            self.assertLess(loss.item(), 0.2 * first, hier['type'])
            pred = [d.pred_path.tolist() for d in head.predict(feats)]
            self.assertEqual(pred, paths, hier)

    def test_inner_label_nodes_with_s2s(self):
        torch.manual_seed(0)
        head = build(
            dict(type='HierS2SHead', in_channels=8, hidden_size=8),
            beam_size=6)
        # every node may end a path: all six are label nodes
        self.assertEqual(head.label_nodes.tolist(), list(range(6)))
        # an inner-node label is learnt and predicted as a short path
        paths = [[0, PATH_END], [1, 4], [1, 5], [0, 3]]
        feats = (torch.randn(4, 3, 8), )
        opt = torch.optim.Adam(head.parameters(), lr=0.03)
        for _ in range(60):
            loss = sum(head.loss(feats, samples(paths)).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
        out = head.predict(feats)
        self.assertEqual([d.pred_path.tolist() for d in out], paths)
        for d in out:
            ends = [p[p >= 0][-1].item() for p in d.pred_beam_paths]
            self.assertEqual(sorted(ends), list(range(6)))
            self.assertAlmostEqual(
                d.pred_beam_scores.exp().sum().item(), 1., places=5)

    def test_pseudo_label_ramp(self):
        head = build(pseudo_label_weight=2.0, pseudo_label_warmup=(2, 6))
        feats = (torch.randn(2, 2, 8), )
        data = samples([[0, U_], [1, U_]])
        ramps = []
        for _ in range(8):
            ramps.append(head.pseudo_label_ramp().item())
            head.loss(feats, data)
        # 0 up to step 2, linear to 2.0 at step 6, then 2.0
        self.assertEqual(ramps, [0., 0., 0., 0.5, 1., 1.5, 2., 2.])
        self.assertEqual(head.state_dict()['loss_steps'].item(), 8)
        # not counted outside training
        head.eval()
        head.loss(feats, data)
        self.assertEqual(head.loss_steps.item(), 8)
        # a step function when t_1 == t_2
        head = build(pseudo_label_weight=1.0, pseudo_label_warmup=(1, 1))
        self.assertEqual(head.pseudo_label_ramp().item(), 0.)
        head.loss(feats, data)
        self.assertEqual(head.pseudo_label_ramp().item(), 1.)

    def test_bad_pseudo_label_arguments(self):
        with self.assertRaisesRegex(ValueError, 'pseudo_label_warmup'):
            build(pseudo_label_weight=1., pseudo_label_warmup=(5, 2))
        with self.assertRaisesRegex(ValueError, 'pseudo_label_weight'):
            build(pseudo_label_weight=-1.)
        with self.assertRaisesRegex(ValueError, 'pseudo_label_threshold'):
            build(pseudo_label_threshold=1.5)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, 'give the tree once'):
            build(dict(type='HierRNNHead', in_channels=8, tree=TREE))
        with self.assertRaisesRegex(ValueError, 'single-label head'):
            build(dict(type='HierRNNHead', in_channels=8, multi_label=True))
        with self.assertRaisesRegex(ValueError, 'a head config with a type'):
            build(hier=[1])


class TestHierJointHeadCRM(TestCase):

    def test_crm_picks_the_least_expected_distance(self):
        head = build(decode='crm', beam_size=4)
        # fused probabilities of C, D, E, F set by hand: argmax is E, but
        # A's leaves hold more mass. Tree distances: siblings 2, else 4.
        # Expected distance to C = .25*2 + .36*4 + .05*4 = 2.14,
        # D = .34*2 + .36*4 + .05*4 = 2.32, E = .34*4 + .25*4 + .05*2 =
        # 2.46, F = .34*4 + .25*4 + .36*2 = 3.08
        probs = torch.tensor([[0.34, 0.25, 0.36, 0.05]])
        head.fused_log_probs = lambda feats: probs.log()
        out = head.predict((torch.randn(1, 2, 8), ))
        self.assertEqual(out[0].pred_beam_paths[:, -1].tolist(), [2, 3, 4, 5])
        self.assertEqual(out[0].pred_path_names, ['A', 'C'])
        torch.testing.assert_close(out[0].pred_beam_scores, probs[0].log())
        # the fused argmax alone would say E
        head.decode = 'fused'
        self.assertEqual(
            head.predict((torch.randn(1, 2, 8), ))[0].pred_path_names,
            ['B', 'E'])

    def test_bad_decode(self):
        with self.assertRaisesRegex(
                ValueError, "decode must be one of "
                r"\('fused', 'crm'\), got 'max'"):
            build(decode='max')
