# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401 (registers the heads)
from mmhier.models.heads.guo_rnn_head import GuoLSTMCell
from mmhier.structures import PATH_END, PATH_UNKNOWN

E_, U_ = PATH_END, PATH_UNKNOWN
# Fixed depth (Guo's CIFAR case): A=0, B=1; C=2, D=3 under A; E=4, F=5,
# G=6 under B.
FIXED_TREE = {'A': ['C', 'D'], 'B': ['E', 'F', 'G']}
FIXED_PATHS = [[0, 2], [0, 3], [1, 4], [1, 5], [1, 6]]
# Variable depth (ImageNet-style): A=0, B=1, C=2, D=3, E=4, F=5, H=6,
# I=7; leaves D, E, F, H, I; END is column 8.
VAR_TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F']}
VAR_PATHS = [[0, E_, E_], [1, E_, E_], [0, 2, E_], [0, 3, E_], [1, 4, E_],
             [1, 5, E_], [0, 2, 6], [0, 2, 7]]
END = 8


def samples(paths):
    out = []
    for p in paths:
        d = DataSample()
        d.set_field(torch.tensor(p).view(1, -1), 'gt_path')
        out.append(d)
    return out


def build(tree=FIXED_TREE, **kwargs):
    cfg = dict(
        type='GuoRNNHead',
        tree=tree,
        in_channels=6,
        hidden_size=12,
        embed_dims=5)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def path_log_prob(head, v, path):
    """Brute force: teacher-forced log-prob of one path (and END)."""
    t = head.max_depth
    padded = list(path) + [E_] * (t - len(path))
    lp = head((v, ), torch.tensor([padded])).log_softmax(-1)[0]
    score = sum(lp[s, j] for s, j in enumerate(path))
    if head.end_token:
        score = score + lp[len(path), END]
    return score


class TestGuoLSTMCell(TestCase):

    def test_equations(self):
        torch.manual_seed(0)
        cell = GuoLSTMCell(3, 4, 5)
        x, v = torch.randn(2, 3), torch.randn(2, 5)
        h0, c0 = torch.randn(2, 4), torch.randn(2, 4)
        h, c = cell(x, cell.visual_gates(v), (h0, c0))
        # eqs. (2)-(7) gate by gate, order i, f, o, g
        wx, wh, wv = (cell.x2g.weight.split(4), cell.h2g.weight.split(4),
                      cell.v2g.weight.split(4))
        b = cell.x2g.bias.split(4)
        pre = [
            x @ wx[k].t() + h0 @ wh[k].t() + v @ wv[k].t() + b[k]
            for k in range(4)
        ]
        i, f, o = pre[0].sigmoid(), pre[1].sigmoid(), pre[2].sigmoid()
        g = pre[3].tanh()
        c_ref = f * c0 + i * g
        self.assertTrue(torch.allclose(c, c_ref, atol=1e-6))
        self.assertTrue(torch.allclose(h, o * c_ref.tanh(), atol=1e-6))
        # no state = zero state
        h1, c1 = cell(x, cell.visual_gates(v))
        h2, c2 = cell(x, cell.visual_gates(v), (torch.zeros(2, 4), ) * 2)
        self.assertTrue(torch.allclose(h1, h2) and torch.allclose(c1, c2))

    def test_init(self):
        cell = GuoLSTMCell(3, 4, 5)
        for gate in cell.h2g.weight.split(4):
            self.assertTrue(
                torch.allclose(gate @ gate.t(), torch.eye(4), atol=1e-5))
        self.assertTrue((cell.x2g.bias[4:8] == 1).all())
        self.assertTrue((cell.x2g.bias[:4] == 0).all())
        with self.assertRaisesRegex(ValueError, 'visual_size.*0'):
            GuoLSTMCell(3, 4, 0)


class TestGuoRNNHead(TestCase):

    @classmethod
    def setUpClass(cls):
        cls._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls._threads)

    def test_shapes(self):
        head = build()
        self.assertFalse(head.end_token)  # fixed depth: no END, T steps
        v = torch.rand(3, 6)
        self.assertEqual(tuple(head((v, )).shape), (3, 2, 7))
        gt = torch.tensor([[0, 2], [1, 6], [0, U_]])
        self.assertEqual(tuple(head((v, ), gt).shape), (3, 2, 7))
        vhead = build(VAR_TREE)
        self.assertTrue(vhead.end_token)  # variable depth: END, T + 1
        self.assertEqual(tuple(vhead((v, )).shape), (3, 4, 9))
        out = vhead.predict((torch.rand(1, 6), ))  # a batch of one
        self.assertEqual(len(out), 1)
        self.assertEqual(tuple(out[0].pred_path.shape), (3, ))
        self.assertEqual(tuple(out[0].pred_score.shape), (8, ))
        self.assertEqual(tuple(out[0].pred_beam_paths.shape), (1, 3))
        beam = build(VAR_TREE, decoder='beam', beam_size=3)
        out = beam.predict((v, ))
        self.assertEqual(tuple(out[0].pred_beam_paths.shape), (3, 3))

    def test_sequence_input(self):
        head = build(seq_reduce='last')
        u = torch.rand(2, 4, 6)
        gt = torch.tensor([[0, 2], [1, 5]])
        self.assertTrue(
            torch.allclose(head((u, ), gt), head((u[:, -1], ), gt)))
        head.seq_reduce = 'mean'
        self.assertTrue(
            torch.allclose(head((u, ), gt), head((u.mean(1), ), gt)))

    def test_v_enters_every_step(self):
        # same labels fed, different images: every step changes
        head = build()
        gt = torch.tensor([[0, 2], [0, 2]])
        out = head((torch.rand(2, 6), ), gt)
        self.assertTrue(((out[0] - out[1]).abs().sum(-1) > 1e-4).all())
        # with W_v = 0 the image has no influence at all
        with torch.no_grad():
            head.cell.v2g.weight.zero_()
        out = head((torch.rand(2, 6), ), gt)
        self.assertTrue(torch.allclose(out[0], out[1]))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "decoder.*'beams'"):
            build(decoder='beams')
        with self.assertRaisesRegex(ValueError, 'end_token=False'):
            build(VAR_TREE, end_token=False)
        with self.assertRaisesRegex(ValueError, "seq_reduce.*'max'"):
            build(seq_reduce='max')
        head = build()
        with self.assertRaisesRegex(ValueError, r'\(2, 6, 4, 4\)'):
            head((torch.rand(2, 6, 4, 4), ))
        with self.assertRaisesRegex(ValueError, '5 features.*in_channels=6'):
            head((torch.rand(2, 5), ))
        with self.assertRaisesRegex(ValueError, 'data sample 1'):
            head.loss((torch.rand(2, 6), ), samples([[0, 2], [0, 4]]))
        with self.assertRaisesRegex(ValueError, 'level_weights needs 2'):
            build(level_weights=[1., 1., 1.])
        with self.assertRaisesRegex(ValueError, 'coarse_given'):
            build(coarse_given=True).predict((torch.rand(2, 6), ))

    def test_targets(self):
        head = build(VAR_TREE)
        gt = torch.tensor([[0, 2, 6], [1, E_, E_], [0, U_, U_], [0, 2, U_]])
        self.assertEqual(
            head.targets(gt).tolist(), [[0, 2, 6, END], [1, END, -1, -1],
                                        [0, -1, -1, -1], [0, 2, -1, -1]])
        self.assertEqual(
            build().targets(torch.tensor([[0, 3], [1, U_]])).tolist(),
            [[0, 3], [1, -1]])

    def test_loss_eq8(self):
        # eq. (8): sum over steps of the CE over all N (+ END) outputs,
        # averaged over images
        for tree, paths in ((FIXED_TREE, FIXED_PATHS[:3]), (VAR_TREE,
                                                            VAR_PATHS[:4])):
            head = build(tree)
            v = torch.rand(len(paths), 6)
            gt = torch.tensor(paths)
            logits = head((v, ), gt)
            tgt = head.targets(gt)
            ref = sum(
                F.cross_entropy(logits[b, s:s + 1], tgt[b, s:s + 1])
                for b in range(len(paths))
                for s in range(tgt.size(1)) if tgt[b, s] >= 0) / len(paths)
            loss = head.loss((v, ), samples(paths))['loss']
            self.assertAlmostEqual(loss.item(), ref.item(), places=5)

    def test_coarse_only_masking(self):
        # A coarse-only sample's loss is the loss of its known steps only:
        # the same as the full path's loss with the later steps weighted 0.
        v = torch.rand(1, 6)
        head = build()
        coarse = head.loss((v, ), samples([[1, U_]]))['loss']
        head_w = build(level_weights=[1., 0.])
        head_w.load_state_dict(head.state_dict())
        full = head_w.loss((v, ), samples([[1, 5]]))['loss']
        self.assertAlmostEqual(coarse.item(), full.item(), places=6)
        self.assertGreater(coarse.item(), 0)
        # variable depth: known [A, C], unknown below; no END target
        vhead = build(VAR_TREE)
        coarse = vhead.loss((v, ), samples([[0, 2, U_]]))['loss']
        vhead_w = build(VAR_TREE, level_weights=[1., 1., 0., 0.])
        vhead_w.load_state_dict(vhead.state_dict())
        full = vhead_w.loss((v, ), samples([[0, 2, 6]]))['loss']
        self.assertAlmostEqual(coarse.item(), full.item(), places=6)
        # in a batch: the mean of the per-sample losses
        v2 = torch.rand(2, 6)
        both = vhead.loss((v2, ), samples([[0, 2, 7], [1, U_, U_]]))['loss']
        one = vhead.loss((v2[:1], ), samples([[0, 2, 7]]))['loss']
        two = vhead.loss((v2[1:], ), samples([[1, U_, U_]]))['loss']
        self.assertAlmostEqual(both.item(), (one + two).item() / 2, places=5)
        # nothing of a coarse-only sample reaches the unknown steps
        vhead.zero_grad()
        vhead.loss((v, ), samples([[1, U_, U_]]))['loss'].backward()
        self.assertEqual(vhead.embed.weight.grad[1].abs().sum().item(), 0.)

    def test_greedy_is_the_papers_decoding(self):
        # each step takes the argmax over all outputs given its own
        # previous choice; the path may leave the tree
        torch.manual_seed(1)
        for tree in (FIXED_TREE, VAR_TREE):
            head = build(tree)
            v = torch.randn(6, 6) * 3
            out = head.predict((v, ))
            paths = torch.stack([o.pred_path for o in out])
            logits = head((v, ), paths)
            for b, path in enumerate(paths.tolist()):
                nodes = [j for j in path if j >= 0]
                for s, j in enumerate(nodes):
                    lg = logits[b, s].clone()
                    if s == 0 and head.end_token:
                        lg[END] = float('-inf')  # END not at the 1st step
                    self.assertEqual(lg.argmax().item(), j)
                if head.end_token and len(nodes) < head.max_depth:
                    self.assertEqual(logits[b, len(nodes)].argmax().item(),
                                     END)
                self.assertAlmostEqual(
                    out[b].pred_path_score.item(),
                    path_log_prob(head, v[b:b + 1], nodes).item(),
                    places=4)
        # a huge score for C: greedy emits C at both steps (not a path),
        # the tree-constrained beam search gives A/C
        head = build()
        with torch.no_grad():
            head.fc.bias[2] = 50.
        v = torch.rand(2, 6)
        self.assertEqual(head.predict((v, ))[0].pred_path.tolist(), [2, 2])
        self.assertFalse(head.tree.is_valid_path([2, 2]))
        head.decoder = 'beam'
        self.assertEqual(head.predict((v, ))[0].pred_path.tolist(), [0, 2])

    def test_beam_equals_brute_force(self):
        torch.manual_seed(2)
        for tree, paths in ((FIXED_TREE, FIXED_PATHS), (VAR_TREE, VAR_PATHS)):
            head = build(tree, decoder='beam', beam_size=len(paths))
            v = torch.randn(3, 6) * 2
            out = head.predict((v, ))
            for b in range(3):
                nodes = [[j for j in p if j >= 0] for p in paths]
                brute = torch.stack(
                    [path_log_prob(head, v[b:b + 1], p) for p in nodes])
                order = brute.argsort(descending=True)
                self.assertTrue(
                    torch.allclose(
                        out[b].pred_beam_scores, brute[order], atol=1e-4))
                pad = head.tree.path_matrix
                want = [
                    pad[p[-1]].tolist()
                    for p in [nodes[i] for i in order.tolist()]
                ]
                self.assertEqual(out[b].pred_beam_paths.tolist(), want)

    def test_pred_fields(self):
        torch.manual_seed(3)
        head = build(VAR_TREE, decoder='beam', beam_size=4)
        v = torch.randn(2, 6)
        out = head.predict((v, ))
        for b, o in enumerate(out):
            self.assertTrue(head.tree.is_valid_path(o.pred_path))
            last = [j for j in o.pred_path.tolist() if j >= 0][-1]
            self.assertEqual(o.pred_label.item(), last)
            self.assertEqual(o.pred_score.argmax().item(), last)
            self.assertAlmostEqual(
                o.pred_score[last].item(),
                o.pred_path_score.exp().item(),
                places=5)
            # node scores: softmax at the node's own step along the best path
            probs = head((v[b:b + 1], ), o.pred_path[None]).softmax(-1)[0]
            depth = torch.from_numpy(head.tree.depths)
            ref = probs[depth - 1, torch.arange(8)]
            self.assertTrue(torch.allclose(o.pred_node_score, ref, atol=1e-5))
            self.assertEqual(o.pred_path_names, head.tree.decode(o.pred_path))

    def test_coarse_given(self):
        # Table 6's CNN-RNN*: the known coarse part is fed, the rest
        # predicted
        torch.manual_seed(4)
        for decoder in ('greedy', 'beam'):
            head = build(VAR_TREE, decoder=decoder, coarse_given=True)
            with torch.no_grad():
                head.fc.bias[1] = 50.  # unconstrained: always B first
            v = torch.rand(3, 6)
            gt = [[0, U_, U_], [0, 2, U_], [0, 2, 7]]
            out = head.predict((v, ), samples(gt))
            paths = [o.pred_path.tolist() for o in out]
            self.assertEqual(paths[0][0], 0)
            self.assertEqual(paths[1][:2], [0, 2])
            # complete path: its ancestors [A, C] are given, not I itself
            self.assertEqual(paths[2][:2], [0, 2])
            self.assertEqual(
                head.known_prefix(samples(gt), 'cpu').tolist(),
                [[0, -1, -1], [0, 2, -1], [0, 2, -1]])
            head.coarse_given = False
            free = head.predict((v, ), samples(gt))
            self.assertTrue(all(o.pred_path[0] == 1 for o in free))

    def test_overfit(self):
        torch.manual_seed(0)
        for tree, paths, decoder in ((FIXED_TREE, FIXED_PATHS, 'greedy'),
                                     (VAR_TREE, VAR_PATHS, 'beam')):
            head = build(tree, decoder=decoder)
            v = torch.randn(len(paths), 6)
            data = samples(paths)
            opt = torch.optim.Adam(head.parameters(), lr=0.05)
            losses = []
            for _ in range(80):
                loss = head.loss((v, ), data)['loss']
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            self.assertLess(losses[-1], 0.2 * losses[0])
            pred = [o.pred_path.tolist() for o in head.predict((v, ))]
            self.assertEqual(pred, paths)
