# Copyright (c) mmhier contributors. All rights reserved.
"""tools/deployment/export.py on trained Fashion-MNIST models.

A CNN-RNN (fixed-depth tree), a CNN-S2S (variable-depth tree, the decoder
inside the beam search) and a flat model are trained briefly with
tools/train.py (256 images, one epoch), exported by the tool in
subprocesses, and the ONNX file (under onnxruntime) and the reloaded
``torch.export`` program must give the paths (exactly) and scores (to
float32 rounding) of the PyTorch model's ``predict`` on 32 real test images.
"""
import contextlib
import glob
import importlib.util
import io
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
from unittest import TestCase, skipUnless

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FMNIST_DIR = '/usr/share/datasets/fashion-mnist'
HAVE_FMNIST = osp.isfile(osp.join(FMNIST_DIR, 't10k-images-idx3-ubyte.gz'))
NUM_IMAGES = 32
# name: (config file name, topk, the tool's own check); k below and above
# the configs' beam of 5
CASES = {
    'rnn': ('rnn-pool_resnet18-tiny_fmnist-fixed.py', 3, True),
    's2s': ('s2s-pool_resnet18-tiny_fmnist.py', 6, False),
    'flat': ('flat_resnet18-tiny_fmnist-fixed.py', 5, False),
}


def load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_config(name: str) -> str:
    found = sorted(
        glob.glob(osp.join(REPO_ROOT, 'configs', '**', name), recursive=True))
    if not found:
        raise FileNotFoundError(f'no config {name} under configs/')
    return found[0]


def first_test_images(cfg: Config):
    """The first NUM_IMAGES test images, packed by the test pipeline."""
    from mmpretrain.registry import DATASETS
    dataset = DATASETS.build(
        dict(cfg.test_dataloader.dataset, indices=NUM_IMAGES))
    return pseudo_collate([dataset[i] for i in range(NUM_IMAGES)])


@skipUnless(
    HAVE_FMNIST, f'the real Fashion-MNIST files are not in {FMNIST_DIR}; '
    'install them with `apt-get install dataset-fashion-mnist` (Debian)')
class TestExportTool(TestCase):

    @classmethod
    def setUpClass(cls):
        os.environ['FASHION_MNIST_DIR'] = FMNIST_DIR
        cls.tmp = tempfile.mkdtemp()
        train = load_file('mmhier_tools_train',
                          osp.join(REPO_ROOT, 'tools', 'train.py'))
        cls.configs, cls.ckpts, cls.outs = {}, {}, {}
        cls.references = {}
        for name, (config, _, _) in CASES.items():
            cls.configs[name] = find_config(config)
            work_dir = osp.join(cls.tmp, name)
            with contextlib.redirect_stdout(io.StringIO()):
                train.main([
                    cls.configs[name], '--work-dir', work_dir,
                    '--cfg-options', 'train_dataloader.dataset.indices=256',
                    'train_dataloader.batch_size=64', 'train_cfg.max_epochs=1',
                    'val_dataloader.dataset.indices=32',
                    'default_hooks.logger.interval=100'
                ])
            cls.ckpts[name] = osp.join(work_dir, 'epoch_1.pth')
            MMLogger._instance_dict.clear()
        # the three exports at once (each mostly waits on its imports)
        env = dict(os.environ, OMP_NUM_THREADS='1')
        procs = {}
        for name, (_, k, verify) in CASES.items():
            cls.outs[name] = osp.join(cls.tmp, f'{name}_export')
            procs[name] = subprocess.Popen(
                [
                    sys.executable,
                    osp.join(REPO_ROOT, 'tools', 'deployment', 'export.py'),
                    cls.configs[name], cls.ckpts[name], '--out',
                    cls.outs[name], '--topk',
                    str(k)
                ] + ([] if verify else ['--no-verify']),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=cls.tmp)
        cls.results = {}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=300)
            cls.results[name] = (proc.returncode, out, err)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        MMLogger._instance_dict.clear()

    def reference(self, name: str, k: int):
        """Images and the top-k of the PyTorch model's ``predict``."""
        key = (name, k)
        if key not in self.references:
            self.references[key] = self._reference(name, k)
        return self.references[key]

    def _reference(self, name: str, k: int):
        from mmhier.apis import HierInferencer
        cfg = Config.fromfile(self.configs[name])
        inferencer = HierInferencer(
            cfg, pretrained=self.ckpts[name], device='cpu')
        model, tree = inferencer.model.eval(), inferencer.tree
        data = first_test_images(cfg)
        images = torch.stack(data['inputs']).float()
        head = model.head
        if hasattr(head, 'beam_size'):  # as HierInferencer runs top-k
            head.beam_size = max(head.beam_size, k)
        with torch.no_grad():
            samples = model.test_step(data)
        if name == 'flat':  # DHNN Remark 1: the paths of the k best nodes
            probs, nodes = torch.stack([s.pred_score
                                        for s in samples]).topk(k, -1)
            return images, tree.tensor('path_matrix')[nodes], probs.log(
            ), tree
        paths = torch.stack([s.pred_beam_paths[:k] for s in samples])
        scores = torch.stack([s.pred_beam_scores[:k] for s in samples])
        return images, paths, scores, tree

    def check_case(self, name: str):
        import onnxruntime as ort
        rc, out, err = self.results[name]
        self.assertEqual(rc, 0, err[-3000:])
        k, verify = CASES[name][1:]
        images, paths, scores, tree = self.reference(name, k)
        self.assertEqual(paths.shape, (NUM_IMAGES, k, tree.max_depth))
        self.assertTrue(tree.valid_paths(paths).all())
        onnx_file = osp.join(self.outs[name], 'model.onnx')
        pt2_file = osp.join(self.outs[name], 'model.pt2')
        meta_file = osp.join(self.outs[name], 'model.json')
        # the summary says where the files are, and the names and shapes
        for text in (onnx_file, pt2_file, meta_file, 'input  images',
                     f'(batch, {k}, {tree.max_depth})', 'output scores'):
            self.assertIn(text, out)
        self.assertEqual('check onnx: paths equal' in out, verify)
        with open(meta_file) as f:
            meta = json.load(f)
        self.assertEqual(meta['nodes'], list(tree.names))
        self.assertEqual(meta['outputs'][0]['shape'],
                         ['batch', k, tree.max_depth])

        session = ort.InferenceSession(
            onnx_file, providers=['CPUExecutionProvider'])
        self.assertEqual([i.name for i in session.get_inputs()], ['images'])
        self.assertEqual([o.name for o in session.get_outputs()],
                         ['paths', 'scores'])
        onnx_paths, onnx_scores = session.run(None,
                                              {'images': images.numpy()})
        program = torch.export.load(pt2_file).module()
        with torch.no_grad():
            pt2_paths, pt2_scores = program(images)
        for what, (got_paths, got_scores) in dict(
                onnx=(torch.from_numpy(onnx_paths),
                      torch.from_numpy(onnx_scores)),
                pt2=(pt2_paths, pt2_scores)).items():
            with self.subTest(format=what):
                self.assertEqual(got_paths.dtype, torch.int64)
                self.assertTrue(torch.equal(got_paths, paths))
                torch.testing.assert_close(
                    got_scores, scores.float(), rtol=1e-5, atol=1e-4)

    def test_cnn_rnn(self):
        self.check_case('rnn')

    def test_cnn_s2s(self):
        self.check_case('s2s')
        # the variable-depth tree: paths of several lengths were compared
        _, paths, _, _ = self.reference('s2s', CASES['s2s'][1])
        self.assertGreater(len(set((paths >= 0).sum(-1).flatten().tolist())),
                           1)

    def test_flat(self):
        self.check_case('flat')


class TestExportToolErrors(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tool = load_file(
            'mmhier_tools_export',
            osp.join(REPO_ROOT, 'tools', 'deployment', 'export.py'))

    def test_missing_checkpoint_is_named(self):
        config = find_config(CASES['rnn'][0])
        with self.assertRaisesRegex(FileNotFoundError,
                                    'checkpoint file not found: nope.pth'):
            self.tool.main([config, 'nope.pth'])

    def test_bad_arguments(self):
        config = find_config(CASES['rnn'][0])
        for argv, message in (
            (['--opset', '13'], '--opset must be >= 17, got 13'),
            (['--topk', '0'], '--topk must be >= 1, got 0'),
            (['--formats', 'tflite'], "invalid choice: 'tflite'"),
        ):
            err = io.StringIO()
            with self.subTest(argv=argv), contextlib.redirect_stderr(err):
                with self.assertRaises(SystemExit):
                    self.tool.main([config, 'x.pth'] + argv)
                self.assertIn(message, err.getvalue())

    def test_input_shape_from_config(self):
        cfg = Config.fromfile(find_config(CASES['s2s'][0]))
        self.assertEqual(self.tool.input_shape(cfg), (1, 28, 28))
        cfg.model.neck.pop('input_size')
        cfg.test_dataloader.dataset.pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(40, 30)),  # (w, h)
            dict(type='PackHierInputs')
        ]
        self.assertEqual(self.tool.input_shape(cfg), (1, 30, 40))
        cfg.test_dataloader.dataset.pipeline = []
        self.assertIsNone(self.tool.input_shape(cfg))
        cfg.test_dataloader.dataset.data_root = osp.join(REPO_ROOT, 'nope')
        cfg.test_dataloader.dataset.download = False
        with self.assertRaisesRegex(ValueError, '--input-shape C H W'):
            self.tool.dataset_input_shape(cfg)

    @skipUnless(HAVE_FMNIST, f'no Fashion-MNIST files in {FMNIST_DIR}')
    def test_input_shape_from_the_data_set(self):
        cfg = Config.fromfile(find_config(CASES['flat'][0]))
        cfg.test_dataloader.dataset.data_root = FMNIST_DIR
        self.assertIsNone(self.tool.input_shape(cfg))  # no size in it
        self.assertEqual(self.tool.dataset_input_shape(cfg), (1, 28, 28))
