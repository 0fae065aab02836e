# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the heads)
from mmhier.structures import PATH_END, PATH_UNKNOWN

# A variable-depth tree: A=0, B=1, C=2, D=3, E=4, F=5, H=6, I=7; depth 3;
# leaves D, E, F, H, I; END is index 8.
VAR_TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F']}
END = 8
E_ = PATH_END
ALL_PATHS = [[0, E_, E_], [1, E_, E_], [0, 2, E_], [0, 3, E_], [1, 4, E_],
             [1, 5, E_], [0, 2, 6], [0, 2, 7]]


def samples(paths):
    out = []
    for p in paths:
        d = DataSample()
        d.set_field(torch.tensor(p).view(-1, 3), 'gt_path')
        out.append(d)
    return out


def build(**kwargs):
    cfg = dict(
        type='HierS2SHead', tree=VAR_TREE, in_channels=8, hidden_size=16)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def overfit(head, feats, data, steps=60, lr=0.03):
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = head.loss(feats, data)['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def path_score(log_probs, path):
    """Brute-force log-prob of a path then END from (T + 1, N + 1)."""
    nodes = [j for j in path if j >= 0]
    return sum(log_probs[t, j] for t, j in enumerate(nodes)) + \
        log_probs[len(nodes), END]


class TestHierS2SHead(TestCase):

    @classmethod
    def setUpClass(cls):
        # Tiny models: one thread avoids oversubscribing a shared CPU.
        cls._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls._threads)

    def test_shapes_and_batch_of_one(self):
        head = build(bidirectional=True, num_layers=2)
        self.assertEqual(head.decoder.hidden_size, 32)
        u = torch.rand(2, 4, 8)  # T_in = 4 != depth 3
        self.assertEqual(tuple(head((u, )).shape), (2, 4, 9))
        gt = torch.tensor([[0, 2, 6], [1, E_, E_]])
        self.assertEqual(tuple(head((u, ), gt).shape), (2, 4, 9))
        out = head.predict((torch.rand(1, 2, 8), ))
        self.assertEqual(len(out), 1)
        self.assertTrue(head.tree.is_valid_path(out[0].pred_path))
        self.assertEqual(tuple(out[0].pred_beam_paths.shape), (5, 3))

    def test_targets(self):
        head = build()
        gt = torch.tensor([[0, 2, 6], [0, 3, E_], [0, E_, E_],
                           [1, PATH_UNKNOWN, PATH_UNKNOWN]])
        self.assertEqual(
            head.targets(gt).tolist(), [[0, 2, 6, END], [0, 3, END, -1],
                                        [0, END, -1, -1], [1, -1, -1, -1]])
        # checked where the paths enter the head, not by targets()
        strict = build(allow_inner_stop=False)
        with self.assertRaisesRegex(ValueError, "sample 2.*'A'"):
            strict.check_gt_paths(gt)

    def test_loss_and_teacher_forcing(self):
        head = build(level_weights=[1., 1., 1., 0.5])
        u = torch.rand(2, 3, 8)
        gt = torch.tensor([[0, 2, 6], [1, 4, E_]])
        logits = head((u, ), gt)
        want = (F.cross_entropy(
            logits[0],
            torch.tensor([0, 2, 6, END]),
            weight=None,
            reduction='none') * torch.tensor([1., 1., 1., .5])).sum()
        want = want + F.cross_entropy(
            logits[1, :3], torch.tensor([1, 4, END]), reduction='sum')
        got = head.loss((u, ), samples(gt.tolist()))['loss']
        self.assertTrue(torch.allclose(got, want / 2))
        # teacher forcing: step t reads the embedding of gt node t - 1
        _, state = head.encode((u, ))
        prev = torch.tensor([[8, 0, 2, 6], [8, 1, 4, 8]])
        out, _ = head.decoder(head.embed(prev), state)
        self.assertTrue(torch.allclose(logits, head.fc(out)))
        with self.assertRaisesRegex(ValueError, r'level_weights.*\[1, 2\]'):
            build(level_weights=[1, 2])

    def test_masked_loss(self):
        head = build(mask_levels=True)
        u = torch.rand(1, 3, 8)
        logits = head((u, ), torch.tensor([[0, 2, 6]]))[0]
        # step 0: {A, B}; step 1: level 2 + END; step 2: {H, I} + END;
        # step 3: only END (loss 0)
        want = (
            F.cross_entropy(logits[0, [0, 1]][None], torch.tensor([0])) +
            F.cross_entropy(logits[1, [2, 3, 4, 5, 8]][None], torch.tensor(
                [0])) +
            F.cross_entropy(logits[2, [6, 7, 8]][None], torch.tensor([0])))
        got = head.loss((u, ), samples([[0, 2, 6]]))['loss']
        self.assertTrue(torch.allclose(got, want))

    def test_residual_placement(self):
        head = build(residual=True, bidirectional=True)
        self.assertEqual((head.z.in_features, head.z.out_features), (32, 8))
        self.assertEqual((head.fc.in_features, head.fc.out_features), (8, 9))
        u = torch.rand(2, 2, 8)  # T_in = 2: steps 2 and 3 reuse u_2
        gt = torch.tensor([[0, 2, 6], [1, 4, E_]])
        _, state = head.encode((u, ))
        out, _ = head.decoder(
            head.embed(torch.tensor([[8, 0, 2, 6], [8, 1, 4, 8]])), state)
        u_al = u[:, [0, 1, 1, 1]]
        self.assertTrue(
            torch.allclose(head((u, ), gt), head.fc(u_al + head.z(out))))

    def test_beam_search_equals_brute_force(self):
        torch.manual_seed(3)
        # k = 4 >= widest level (4 nodes at depth 2)
        for kw in (dict(),
                   dict(
                       residual=True,
                       bidirectional=True,
                       cell='gru',
                       mask_levels=True)):
            head = build(beam_size=4, **kw)
            u = torch.randn(3, 2, 8)
            out = head.predict((u, ))
            for b, d in enumerate(out):
                scores = []
                for p in ALL_PATHS:
                    lp = head.log_probs(
                        head((u[b:b + 1], ), torch.tensor([p])))[0]
                    scores.append(path_score(lp, p).item())
                order = sorted(range(8), key=lambda i: -scores[i])[:4]
                self.assertEqual(d.pred_beam_paths.tolist(),
                                 [ALL_PATHS[i] for i in order], kw)
                self.assertTrue(
                    torch.allclose(
                        d.pred_beam_scores,
                        torch.tensor([scores[i] for i in order]),
                        atol=1e-5))
                self.assertEqual(int(d.pred_score.argmax()), int(d.pred_label))

    def test_level_scores_of_the_best_path(self):
        # predict rescores the best path (the search carries no node
        # scores): level t is the softmax of the path's node at step t
        torch.manual_seed(4)
        head = build(beam_size=3, residual=True).eval()
        u = torch.randn(4, 2, 8)
        with torch.no_grad():
            out = head.predict((u, ))
            beams = head.beam_search((u, ), 3, track_nodes=False)
            tracked = head.beam_search((u, ), 3)
        self.assertIsNone(beams.node_scores)
        self.assertIsNone(beams.end_scores)
        self.assertTrue(torch.equal(beams.paths, tracked.paths))
        self.assertTrue(torch.equal(beams.scores, tracked.scores))
        for b, d in enumerate(out):
            path = d.pred_path.tolist()
            with torch.no_grad():
                lp = head.log_probs(head((u[b:b + 1], ), torch.tensor([path])))
            want = [lp[0, t, j].exp() if j >= 0 else 0.
                    for t, j in enumerate(path)]
            torch.testing.assert_close(d.pred_level_scores,
                                       torch.tensor(want))
            torch.testing.assert_close(d.pred_level_scores.log()[:1],
                                       tracked.node_scores[b, 0, :1])
            for t, j in enumerate(path):
                if j >= 0:
                    torch.testing.assert_close(d.pred_node_score[j],
                                               d.pred_level_scores[t])

    def test_overfit_variable_depth(self):
        # labels at leaves and at inner nodes (A, C)
        paths = [[0, 2, 6], [0, 2, 7], [0, 3, E_], [1, 4, E_], [1, 5, E_],
                 [0, 2, E_], [0, E_, E_]]
        for kw in (dict(), dict(residual=True), dict(cell='gru'),
                   dict(
                       residual=True,
                       bidirectional=True,
                       num_layers=2,
                       mask_levels=True)):
            torch.manual_seed(0)
            head = build(beam_size=2, **kw)
            feats = (torch.randn(len(paths), 3, 8), )
            losses = overfit(head, feats, samples(paths))
            self.assertLess(losses[-1], 0.2 * losses[0], kw)
            out = head.predict(feats)
            self.assertEqual([d.pred_path.tolist() for d in out], paths, kw)
            self.assertEqual(out[2].pred_path_names, ['A', 'D'])

    def test_leaf_only_predictions(self):
        torch.manual_seed(0)
        head = build(allow_inner_stop=False, beam_size=3)
        out = head.predict((torch.randn(5, 3, 8), ))
        is_leaf = torch.from_numpy(head.tree.is_leaf)
        for d in out:
            self.assertTrue(head.tree.valid_paths(d.pred_beam_paths).all())
            self.assertTrue(is_leaf[d.pred_label].all())

    def test_multi_label(self):
        torch.manual_seed(0)
        head = build(multi_label=True, residual=True)
        paths = [[[0, 2, 6], [1, 4, E_]], [[0, 3, E_], [E_, E_, E_]],
                 [[1, 5, E_], [0, 2, 7]], [[0, 2, E_], [E_, E_, E_]]]
        data = []
        for p in paths:
            d = DataSample()
            d.set_field(torch.tensor(p), 'gt_path')
            data.append(d)
        feats = (torch.randn(4, 3, 8), )
        self.assertEqual(tuple(head(feats).shape), (4, 3, 9))
        losses = overfit(head, feats, data, steps=80)
        self.assertLess(losses[-1], 0.2 * losses[0])
        out = head.predict(feats)
        for d, ps in zip(out, paths):
            want = sorted(p for p in ps if p[0] >= 0)
            self.assertEqual(sorted(d.pred_paths.tolist()), want)
            self.assertTrue(head.tree.is_valid_path(d.pred_path))


class TestHierS2SHeadDecoderInput(TestCase):
    """The paper's decoder (``decoder_input='softmax'``), scheduled
    sampling and path scoring."""

    @classmethod
    def setUpClass(cls):
        cls._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls._threads)

    def test_paper_decoder_reads_its_own_softmax(self):
        torch.manual_seed(0)
        head = build(decoder_input='softmax', bidirectional=True)
        u = torch.randn(2, 3, 8)
        free = head((u, ))
        # free-running: the ground truth changes nothing
        gt = torch.tensor([[0, 2, 6], [1, E_, E_]])
        torch.testing.assert_close(head((u, ), gt), free)
        # step t + 1 reads W_in softmax(o-bar_t): change W_in, and only the
        # steps after the first change
        with torch.no_grad():
            head.feedback.weight.add_(1.)
        moved = head((u, ))
        torch.testing.assert_close(moved[:, 0], free[:, 0])
        self.assertFalse(torch.allclose(moved[:, 1:], free[:, 1:]))
        # the loss trains W_in through the fed-back softmax
        head.loss((u, ), samples(gt.tolist()))['loss'].backward()
        self.assertGreater(float(head.feedback.weight.grad.abs().sum()), 0)

    def test_paper_decoder_overfits_and_searches_valid_paths(self):
        paths = [[0, 2, 6], [0, 2, 7], [0, 3, E_], [1, 4, E_], [1, 5, E_],
                 [0, 2, E_], [0, E_, E_]]
        torch.manual_seed(0)
        head = build(decoder_input='softmax', beam_size=4)
        feats = (torch.randn(len(paths), 3, 8), )
        losses = overfit(head, feats, samples(paths), steps=80)
        self.assertLess(losses[-1], 0.2 * losses[0])
        out = head.predict(feats)
        self.assertEqual([d.pred_path.tolist() for d in out], paths)
        for d in out:
            self.assertTrue(head.tree.valid_paths(d.pred_beam_paths).all())
        # the beam equals brute force over every path of the tree
        lp = head.log_probs(head(feats))
        for b, d in enumerate(out):
            scores = [path_score(lp[b], p).item() for p in ALL_PATHS]
            order = sorted(range(8), key=lambda i: -scores[i])[:4]
            self.assertEqual(d.pred_beam_paths.tolist(),
                             [ALL_PATHS[i] for i in order])
            torch.testing.assert_close(
                d.pred_beam_scores,
                torch.tensor([scores[i] for i in order]),
                atol=1e-5,
                rtol=0)

    def test_scheduled_sampling(self):
        torch.manual_seed(0)
        gt = torch.tensor([[0, 2, 6], [1, 4, E_], [0, 3, E_]])
        u = torch.randn(3, 2, 8)
        never = build(scheduled_sampling=0.)
        always = build(scheduled_sampling=1.)
        always.load_state_dict(never.state_dict())
        teacher = never.decode_teacher((u, ), gt)
        torch.testing.assert_close(never.train_logits((u, ), gt), teacher)
        # eps = 1 feeds the best child of the node fed before: replay it
        sampled = always.train_logits((u, ), gt)
        torch.testing.assert_close(sampled[:, 0], teacher[:, 0])
        children = always.tree.child_mask()
        prev = torch.full((3, ), 8)
        own = []
        for t in range(3):
            choice = sampled[:, t, :8].masked_fill(~children[prev],
                                                   float('-inf')).argmax(-1)
            alive = gt[:, t] >= 0
            prev = torch.where(alive, choice, 8)
            own.append(prev)
        replay = always.decode_teacher((u, ),
                                       torch.stack(own,
                                                   1).masked_fill(gt < 0, E_))
        torch.testing.assert_close(sampled, replay)
        # evaluation and prediction never sample
        always.eval()
        torch.testing.assert_close(always.train_logits((u, ), gt), teacher)
        # and it still learns the task
        torch.manual_seed(1)
        head = build(scheduled_sampling=0.25, beam_size=2)
        feats = (torch.randn(3, 3, 8), )
        losses = overfit(head, feats, samples(gt.tolist()))
        self.assertLess(losses[-1], 0.2 * losses[0])
        self.assertEqual([d.pred_path.tolist() for d in head.predict(feats)],
                         gt.tolist())

    def test_path_log_probs_equal_brute_force(self):
        torch.manual_seed(2)
        u = torch.randn(2, 3, 8)
        paths = torch.tensor(ALL_PATHS)[None].expand(2, -1, -1)
        for kw in (dict(), dict(decoder_input='softmax', residual=True)):
            head = build(**kw)
            got = head.path_log_probs((u, ), paths)
            for b in range(2):
                for i, p in enumerate(ALL_PATHS):
                    lp = head.log_probs(
                        head((u[b:b + 1], ), torch.tensor([p])))[0]
                    self.assertAlmostEqual(
                        got[b, i].item(), path_score(lp, p).item(), places=5)

    def test_multi_label_paper_decoder_has_no_train_test_mismatch(self):
        torch.manual_seed(0)
        head = build(multi_label=True, decoder_input='softmax')
        self.assertFalse(hasattr(head, 'feedback'))
        u = torch.randn(2, 3, 8)
        data = samples([[[0, 2, 6], [1, 4, E_]], [[0, 3, E_], [E_, E_, E_]]])
        # the loss reads exactly the logits inference reads
        logits = head.decode_soft((u, ))[..., :8]
        from mmhier.structures import stack_gt_paths
        gt = stack_gt_paths(data, 'cpu')
        expected = head.multilabel_bce_loss(logits, gt)
        torch.testing.assert_close(head.loss((u, ), data)['loss'], expected)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(
                ValueError, "decoder_input must be one "
                r"of \('embedding', 'softmax'\), got "
                "'onehot'"):
            build(decoder_input='onehot')
        with self.assertRaisesRegex(ValueError, 'needs decoder_input='):
            build(decoder_input='softmax', scheduled_sampling=0.5)
        with self.assertRaisesRegex(ValueError, r'probability in \[0, 1\], '
                                    'got 1.5'):
            build(scheduled_sampling=1.5)
