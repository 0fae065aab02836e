# Copyright (c) mmhier contributors. All rights reserved.
import importlib.util
import os
import os.path as osp
import shutil
import tempfile
from unittest import TestCase, skipUnless

import cv2
import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmpretrain.apis import get_model
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmhier.apis import HierInferencer, inference_hier_model
from mmhier.structures import ClassTree

HERE = osp.dirname(osp.abspath(__file__))


def _load_helper():
    spec = importlib.util.spec_from_file_location(
        'tiny_hier_model', osp.join(HERE, 'tiny_hier_model.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


thm = _load_helper()


def _paths(result):
    return [(p['indices'], p['score']) for p in result['paths']]


class _TinyModels(TestCase):
    """Writes the configs, checkpoints and images once per class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        d = cls.tmp
        cls.tree = thm.tree()
        cls.hier_cfg = thm.write_config(osp.join(d, 'hier.py'), 'hier')
        cls.hier_ckpt = osp.join(d, 'hier.pth')
        cls.hier_state = thm.write_checkpoint(cls.hier_cfg, cls.hier_ckpt)
        cls.flat_cfg = thm.write_config(osp.join(d, 'flat.py'), 'flat')
        cls.flat_ckpt = osp.join(d, 'flat.pth')
        thm.write_checkpoint(cls.flat_cfg, cls.flat_ckpt, seed=1)
        cls.img_dir = osp.join(d, 'imgs')
        cls.files = thm.write_images(cls.img_dir)
        with open(osp.join(cls.img_dir, 'notes.txt'), 'w') as f:
            f.write('not an image')
        cls.hier = HierInferencer(
            cls.hier_cfg, pretrained=cls.hier_ckpt, device='cpu')
        cls.flat = HierInferencer(
            cls.flat_cfg, pretrained=cls.flat_ckpt, device='cpu')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        MMLogger._instance_dict.clear()

    def assertSamePaths(self, a, b, rtol=1e-5):
        self.assertEqual([p['indices'] for p in a['paths']],
                         [p['indices'] for p in b['paths']])
        np.testing.assert_allclose([p['score'] for p in a['paths']],
                                   [p['score'] for p in b['paths']],
                                   rtol=rtol)


class TestHierInferencer(_TinyModels):

    def check_result(self, result, k):
        """Top-k paths valid, decoded right, sorted, label consistent."""
        tree = self.tree
        self.assertEqual(len(result['paths']), k)
        scores = [p['score'] for p in result['paths']]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertTrue(all(0. <= s <= 1. for s in scores), scores)
        seen = set()
        for p in result['paths']:
            self.assertTrue(tree.is_valid_path(p['indices']), p)
            self.assertEqual(p['nodes'], tree.decode(p['indices']))
            self.assertEqual(p['display'],
                             [tree.display_names[i] for i in p['indices']])
            seen.add(tuple(p['indices']))
        self.assertEqual(len(seen), k)  # k distinct paths
        best = result['paths'][0]['indices']
        self.assertEqual(result['pred_label'], best[-1])
        self.assertEqual(result['pred_class'], tree.names[best[-1]])
        self.assertEqual(result['pred_score'], scores[0])

    def test_loads_checkpoint_and_tree(self):
        state = self.hier.model.state_dict()
        for key in ('head.fc.weight', 'backbone.conv1.weight'):
            torch.testing.assert_close(state[key], self.hier_state[key])
        self.assertEqual(self.hier.tree, self.tree)
        self.assertEqual(self.hier.classes, self.tree.names)
        self.assertEqual(str(next(self.hier.model.parameters()).device), 'cpu')

    def test_single_image_equals_manual_forward(self):
        k = 3
        (result, ) = self.hier(self.files[1], topk=k)
        self.check_result(result, k)
        self.assertEqual(result['img_path'], self.files[1])
        # by hand: read BGR, resize to 32x32 (the test pipeline), predict
        img = mmcv.imresize(mmcv.imread(self.files[1]), (32, 32))
        x = torch.from_numpy(img).permute(2, 0, 1).contiguous()
        with torch.no_grad():
            (pred, ) = self.hier.model.test_step(dict(inputs=x[None]))
        paths = pred.pred_beam_paths[:k]
        scores = pred.pred_beam_scores[:k].exp()
        self.assertEqual([p['indices'] for p in result['paths']],
                         [[i for i in row if i >= 0]
                          for row in paths.tolist()])
        np.testing.assert_allclose([p['score'] for p in result['paths']],
                                   scores.numpy(),
                                   rtol=1e-5)
        np.testing.assert_allclose(
            result['pred_scores'], pred.pred_score.numpy(), rtol=1e-5)

    def test_folder_gives_one_result_per_image(self):
        results = self.hier(self.img_dir, topk=2)
        self.assertEqual([r['img_path'] for r in results],
                         sorted(self.files))  # notes.txt is skipped
        for r in results:
            self.check_result(r, 2)
        # not all images alike: the model looks at them
        self.assertGreater(len({repr(_paths(r)) for r in results}), 1)

    def test_batch_size_does_not_change_results(self):
        for inferencer in (self.hier, self.flat):
            # the flat pipeline does not resize: sizes differ in a batch
            one = inferencer(self.files, batch_size=1, topk=3)
            for bs in (2, 5):
                many = inferencer(self.files, batch_size=bs, topk=3)
                for a, b in zip(one, many):
                    self.assertEqual([p['indices'] for p in a['paths']],
                                     [p['indices'] for p in b['paths']])
                    np.testing.assert_allclose(
                        [p['score'] for p in a['paths']],
                        [p['score'] for p in b['paths']],
                        rtol=1e-4)

    def test_array_inputs(self):
        bgr = cv2.imread(self.files[0])
        (from_file, ) = self.hier(self.files[0], topk=3)
        (from_array, ) = self.hier(bgr, topk=3)
        self.assertIsNone(from_array['img_path'])
        self.assertEqual(_paths(from_array), _paths(from_file))
        # (H, W, 1), (H, W) and BGRA arrays
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        a = self.hier(grey[..., None])[0]
        b = self.hier(grey)[0]
        self.assertEqual(_paths(a), _paths(b))
        self.check_result(a, 5)
        bgra = np.concatenate([bgr, np.full_like(bgr[..., :1], 255)], -1)
        self.assertEqual(_paths(self.hier(bgra, topk=3)[0]), _paths(from_file))
        # a (B, H, W, C) array is B images; a list mixes files and arrays
        batch = np.stack([bgr, bgr])
        self.assertEqual(len(self.hier(batch)), 2)
        mixed = self.hier([self.files[0], bgr], topk=3)
        self.assertEqual(_paths(mixed[0]), _paths(mixed[1]))

    def test_topk_wider_than_beam(self):
        head = self.hier.model.head
        self.assertEqual(head.beam_size, 3)
        (result, ) = self.hier(self.files[0], topk=6)
        self.check_result(result, 6)
        self.assertEqual(head.beam_size, 3)  # restored after the call
        # k above the number of paths of the tree: all of them, no more
        all_paths = self.hier(self.files[0], topk=50)[0]['paths']
        self.assertEqual(len(all_paths), self.tree.num_nodes)

    def test_flat_model_paths_are_implied(self):
        (result, ) = self.flat(self.files[2], topk=4)
        self.check_result(result, 4)
        score = torch.as_tensor(result['pred_scores'])
        top = score.topk(4)
        for entry, node, value in zip(result['paths'], top.indices,
                                      top.values):
            self.assertEqual(entry['indices'], self.tree.path(int(node)))
            self.assertAlmostEqual(entry['score'], float(value), places=6)
        self.assertEqual(result['pred_label'], int(score.argmax()))

    def test_return_datasamples(self):
        preds = self.hier(self.files[:2], return_datasamples=True)
        self.assertEqual(len(preds), 2)
        self.assertIsInstance(preds[0], DataSample)
        self.assertIn('pred_beam_paths', preds[0])
        paths, scores = self.hier.topk_paths(preds[0], topk=2)
        self.assertEqual(tuple(paths.shape), (2, self.tree.max_depth))

    def test_show_dir_writes_drawings(self):
        out = osp.join(self.tmp, 'vis')
        results = self.hier(self.files[:1], show_dir=out, draw_tree=True)
        for r, f in zip(results, self.files[:1]):
            stem = osp.splitext(osp.basename(f))[0]
            self.assertEqual(r['vis_file'], osp.join(out, stem + '.png'))
            img = cv2.imread(r['vis_file'])
            self.assertIsNotNone(img)
            self.assertGreater(min(img.shape[:2]), 200)
            self.assertGreater(img.std(), 10)  # not a blank canvas
        # without show / show_dir nothing is drawn
        self.assertNotIn('vis_file', self.hier(self.files[0])[0])

    def test_tree_sources(self):
        # no tree in the checkpoint: the head's tree
        ckpt = osp.join(self.tmp, 'no_tree.pth')
        thm.write_checkpoint(self.hier_cfg, ckpt, meta_tree=False)
        inf = HierInferencer(self.hier_cfg, pretrained=ckpt, device='cpu')
        self.assertEqual(inf.tree, self.tree)
        # an override with display names: same nodes, other names shown
        names = self.tree.names
        display = [n.upper() for n in names]
        parents = [None if p < 0 else names[p] for p in self.tree.parents]
        shown = ClassTree(names, parents, display_names=display)
        inf = HierInferencer(
            self.hier_cfg, pretrained=ckpt, device='cpu', tree=shown)
        (r, ) = inf(self.files[0], topk=2)
        self.assertEqual(r['paths'][0]['display'],
                         [n.upper() for n in r['paths'][0]['nodes']])
        # a tree with two sibling leaves swapped: same size, other classes
        names = list(self.tree.names)
        leaves = [i for i in range(len(names)) if self.tree.is_leaf[i]]
        sib = next((i, j) for i in leaves for j in leaves
                   if i < j and self.tree.parents[i] == self.tree.parents[j])
        order = list(range(len(names)))
        order[sib[0]], order[sib[1]] = order[sib[1]], order[sib[0]]
        swapped = ClassTree([names[i] for i in order], [
            None if self.tree.parents[i] < 0 else
            names[self.tree.parents[i]] for i in order
        ])
        self.assertEqual(swapped.num_nodes, self.tree.num_nodes)
        with self.assertRaisesRegex(
                ValueError, r"the model's head \(model.head.tree\).*"
                r'the tree argument.*differ'):
            HierInferencer(
                self.hier_cfg, pretrained=ckpt, device='cpu', tree=swapped)
        # a tree of another size than the model's
        with self.assertRaisesRegex(ValueError, r'9 nodes.*4 nodes'):
            HierInferencer(
                self.hier_cfg,
                pretrained=ckpt,
                device='cpu',
                tree={
                    'a': ['b', 'c'],
                    'd': []
                })
        # a flat model whose checkpoint and config hold no tree
        cfg = thm.write_config(
            osp.join(self.tmp, 'flat_no_tree.py'), 'flat', dataset_tree=False)
        ckpt = osp.join(self.tmp, 'flat_no_tree.pth')
        thm.write_checkpoint(cfg, ckpt, meta_tree=False)
        with self.assertRaisesRegex(ValueError, 'needs a class tree'):
            HierInferencer(cfg, pretrained=ckpt, device='cpu')
        inf = HierInferencer(cfg, pretrained=ckpt, device='cpu', tree=thm.TREE)
        self.check_result(inf(self.files[0], topk=2)[0], 2)
        # a flat head that does not score every tree node
        with self.assertRaisesRegex(ValueError, '9 classes.*3 nodes'):
            HierInferencer(
                cfg, pretrained=ckpt, device='cpu', tree={'a': ['b', 'c']})

    def test_grey_model_and_memory_pipeline(self):
        # one-channel model: colour files and arrays become grey
        cfg = thm.write_config(
            osp.join(self.tmp, 'grey.py'), 'flat', grey=True)
        ckpt = osp.join(self.tmp, 'grey.pth')
        thm.write_checkpoint(cfg, ckpt)
        inf = HierInferencer(cfg, pretrained=ckpt, device='cpu')
        self.assertEqual(inf.in_channels, 1)
        bgr = cv2.imread(self.files[0])
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        # (cv2 decodes to grey with other rounding than cvtColor)
        self.assertSamePaths(
            inf(self.files[0], topk=3)[0], inf(grey, topk=3)[0], rtol=1e-2)
        self.assertEqual(
            _paths(inf(bgr, topk=3)[0]), _paths(inf(grey, topk=3)[0]))
        # an in-memory pipeline (no LoadImageFromFile) expects RGB
        cfg = thm.write_config(
            osp.join(self.tmp, 'memory.py'),
            'flat',
            pipeline=thm.MEMORY_PIPELINE)
        inf = HierInferencer(cfg, pretrained=self.flat_ckpt, device='cpu')
        self.assertEqual(inf._color_order, 'rgb')
        as_bgr = HierInferencer(
            cfg, pretrained=self.flat_ckpt, device='cpu', color_order='bgr')
        self.assertEqual(
            _paths(inf(bgr, topk=3)[0]),
            _paths(as_bgr(np.ascontiguousarray(bgr[..., ::-1]), topk=3)[0]))
        self.assertNotEqual(
            inf(bgr, topk=1)[0]['pred_scores'].tolist(),
            as_bgr(bgr, topk=1)[0]['pred_scores'].tolist())

    def test_bad_inputs(self):
        missing = osp.join(self.tmp, 'nope.png')
        with self.assertRaisesRegex(FileNotFoundError, 'nope.png'):
            self.hier(missing)
        empty = osp.join(self.tmp, 'empty')
        os.makedirs(empty, exist_ok=True)
        with self.assertRaisesRegex(ValueError, 'holds no image file'):
            self.hier(empty)
        with self.assertRaisesRegex(ValueError, r'\(8, 8, 2\)'):
            self.hier(np.zeros((8, 8, 2), np.uint8))
        with self.assertRaisesRegex(TypeError, 'got int'):
            self.hier([3])
        with self.assertRaisesRegex(ValueError, 'topk must be an int >= 1'):
            self.hier(self.files[0], topk=0)
        with self.assertRaisesRegex(ValueError, 'batch_size'):
            self.hier(self.files[0], batch_size=0)
        with self.assertRaisesRegex(ValueError, "color_order must be"):
            HierInferencer(self.hier_cfg, color_order='RGB')
        with self.assertRaisesRegex(ValueError, 'unknown argument'):
            self.hier(self.files[0], top_k=3)

    @skipUnless(torch.cuda.is_available(), 'needs a GPU')
    def test_cuda_matches_cpu(self):
        gpu = HierInferencer(
            self.hier_cfg, pretrained=self.hier_ckpt, device='cuda')
        self.assertEqual(next(gpu.model.parameters()).device.type, 'cuda')
        for a, b in zip(
                self.hier(self.files, topk=3),
                gpu(self.files, topk=3, batch_size=2)):
            # cuDNN may convolve in TF32: scores agree to ~1e-2 only
            self.assertSamePaths(a, b, rtol=2e-2)


class TestInferenceHierModel(_TinyModels):

    def test_model_object_and_config(self):
        model = get_model(self.hier_cfg, pretrained=self.hier_ckpt)
        one = inference_hier_model(model, self.files[0], topk=2, device='cpu')
        self.assertIsInstance(one, dict)
        self.assertEqual(len(one['paths']), 2)
        expected = self.hier(self.files[0], topk=2)[0]
        self.assertSamePaths(one, expected)
        many = inference_hier_model(
            self.hier_cfg,
            self.img_dir,
            topk=2,
            pretrained=self.hier_ckpt,
            device='cpu',
            batch_size=2)
        self.assertIsInstance(many, list)
        self.assertEqual(len(many), len(self.files))
        self.assertSamePaths(many[0], expected)
        # a bare model without its config cannot be used
        with self.assertRaisesRegex(ValueError, 'must carry its config'):
            inference_hier_model(
                MODELS.build(Config.fromfile(self.hier_cfg).model),
                self.files[0])
