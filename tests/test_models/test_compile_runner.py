# Copyright (c) mmhier contributors. All rights reserved.
"""mmengine's ``compile`` config key on a tiny DHNN model: the Runner wraps
``model.train_step`` in ``torch.compile``, one epoch on fake data (two
iterations) trains, and its losses and final weights are those of the same
model trained eagerly from the same initial weights.

The ``eager`` backend (dynamo only) runs everywhere. The default backend,
inductor, with ``mode='reduce-overhead'`` (CUDA graphs, which inductor
skips on the CPU) gives the same results, but compiling the model's ~15
graphs (one gcc call per kernel, cold cache) takes 85 to 95 s on 2 idle CPU
cores and about 3 minutes when they are shared, more than one test of the
suite may take: it runs only with ``MMHIER_TEST_INDUCTOR=1``.
"""
import copy
import os
import tempfile
from unittest import TestCase, mock, skipUnless

import torch
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch._dynamo.utils import counters
from torch.utils.data import Dataset

import mmhier  # noqa: F401 (registers the components)
from mmhier.structures import ClassTree, batched_gt_paths
from mmhier.utils import count_ops

TREE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F']}
LEAVES = [3, 4, 5, 6, 7]  # D, E, F, H, I


class FakeImages(Dataset):
    """4 random 32 px images labelled with leaves of ``TREE``."""
    metainfo = dict(classes=list('ABCDEFHI'), class_tree=ClassTree.build(TREE))

    def __len__(self):
        return 4

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        tree = self.metainfo['class_tree']
        leaf = LEAVES[i % len(LEAVES)]
        sample = DataSample().set_gt_label(leaf)
        sample.gt_path = torch.as_tensor(tree.path_matrix[leaf])[None]
        return dict(
            inputs=torch.randint(0, 256, (3, 32, 32), generator=g,
                                 dtype=torch.uint8),
            data_samples=sample)


def model_cfg():
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='HierDataPreprocessor',
            mean=[127.5] * 3,
            std=[50.] * 3),
        backbone=dict(
            type='ResNet_CIFAR',
            depth=18,
            stem_channels=4,
            base_channels=4,
            out_indices=(0, 1, 2, 3)),
        neck=dict(
            type='HierConversionNeck',
            in_channels=[4, 8, 16, 32],
            input_size=32,
            strides=(1, 2, 4, 8),
            out_channels=8,
            stage_groups='deep_to_coarse',
            num_steps=3,
            conversion='linear'),
        head=dict(
            type='HierS2SHead', tree=TREE, in_channels=8, hidden_size=8))


OPTIM = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))

INDUCTOR_SKIP = (
    'inductor compiles the model in 85 s (2 idle CPU cores) to 3 min (shared '
    'cores) of wall time, too slow for CI; set MMHIER_TEST_INDUCTOR=1 to run '
    'it')


class InitialWeights(Hook):
    """Keeps the weights the Runner starts training from (after
    ``init_weights``, before the first iteration)."""

    def before_train(self, runner):
        self.state_dict = copy.deepcopy(runner.model.state_dict())


class TestCompileConfigKey(TestCase):

    def tearDown(self):
        torch._dynamo.reset()
        MMLogger._instance_dict.clear()

    def run_epoch(self, work_dir, compile_cfg, validate=False):
        """Train one epoch with ``cfg.compile = compile_cfg`` and check it
        against an eager copy of the model; returns the Runner."""
        loader = dict(
            dataset=FakeImages(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0)
        val = dict(
            val_dataloader=loader,
            val_cfg=dict(),
            val_evaluator=dict(type='HierAccuracy')) if validate else {}
        initial = InitialWeights()
        runner = Runner(
            model=model_cfg(),
            work_dir=work_dir,
            train_dataloader=loader,
            train_cfg=dict(by_epoch=True, max_epochs=1),
            optim_wrapper=OPTIM,
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=0)),
            custom_hooks=[initial],
            default_scope='mmpretrain',
            # its own MessageHub, whatever Runners ran before in this second
            experiment_name=self.id(),
            log_level='WARNING',
            # what a config's `compile = dict(...)` gives
            cfg=dict(compile=compile_cfg),
            **val)
        runner.train()
        # the Runner replaced train_step by its compiled wrapper
        model = runner.model
        self.assertIs(
            getattr(model.train_step, '_torchdynamo_orig_callable',
                    None).__func__,
            type(model).train_step)
        losses = torch.as_tensor(
            runner.message_hub.get_scalar('train/loss').data[0],
            dtype=torch.float32)
        self.assertEqual(losses.numel(), 2)  # 4 images, batch size 2
        self.assertTrue(torch.isfinite(losses).all())

        # the same steps on an eager copy of the initial model
        eager = MODELS.build(model_cfg())
        eager.load_state_dict(initial.state_dict)
        optim_wrapper = build_optim_wrapper(eager, OPTIM)
        eager.train()
        want = torch.stack([
            eager.train_step(batch, optim_wrapper)['loss'].detach()
            for batch in runner.train_dataloader
        ])
        torch.testing.assert_close(losses, want, rtol=1e-4, atol=1e-5)
        want = eager.state_dict()
        for name, value in model.state_dict().items():
            torch.testing.assert_close(
                value, want[name], rtol=1e-4, atol=1e-5, msg=name)
        return runner

    def test_one_epoch_with_compile(self):
        with tempfile.TemporaryDirectory() as tmp:
            runner = self.run_epoch(tmp, dict(backend='eager'), validate=True)
            metrics = runner.val_loop.run()
            self.assertTrue(all(0 <= v <= 100 for v in metrics.values()))

    @skipUnless(os.environ.get('MMHIER_TEST_INDUCTOR') == '1', INDUCTOR_SKIP)
    def test_one_epoch_with_inductor_reduce_overhead(self):
        # inductor's caches go to a temporary directory, not the repo or
        # /tmp/torchinductor_$USER; only its precompiled header (~150 MB,
        # global by design: torch._inductor.codecache._HEADER_DIR) goes there
        with tempfile.TemporaryDirectory() as tmp, \
                tempfile.TemporaryDirectory() as cache, \
                mock.patch.dict(os.environ, {
                    'TORCHINDUCTOR_CACHE_DIR': cache,
                    'TRITON_CACHE_DIR': os.path.join(cache, 'triton')}):
            counters.clear()
            self.run_epoch(tmp, dict(mode='reduce-overhead'))
            # inductor compiled the graphs (in the temporary cache) and,
            # the graphs being on the CPU, skipped the CUDA graphs that
            # reduce-overhead asks for (silently: torch logs the skip only
            # for GPU graphs)
            self.assertGreater(counters['inductor']['fxgraph_cache_miss'], 0)
            self.assertGreater(counters['inductor']['cudagraph_skips'], 0)
            self.assertTrue(os.listdir(cache))


class TestPreprocessorUnderInductor(TestCase):
    """The heads find the preprocessor's ``gt_path`` batch in a compiled
    ``train_step`` too: inductor returns the rows as tensors of their own
    (not views of the batch), so the batch is found by identity
    (``gt_path_batch``), else every step would stack and check the paths
    again, reading them back to the host. Only the preprocessor is
    compiled here (one small graph, seconds)."""

    def tearDown(self):
        torch._dynamo.reset()

    def test_batch_found_after_inductor(self):
        pre = MODELS.build(dict(type='HierDataPreprocessor'))
        tree = FakeImages.metainfo['class_tree']
        paths = [tree.path_matrix[leaf] for leaf in LEAVES[:4]]

        def data():
            samples = []
            for path in paths:
                sample = DataSample()
                sample.gt_path = torch.as_tensor(path)[None]
                samples.append(sample)
            return dict(
                inputs=[torch.zeros(3, 8, 8, dtype=torch.uint8)] * 4,
                data_samples=samples)

        with tempfile.TemporaryDirectory() as cache, \
                mock.patch.dict(os.environ,
                                {'TORCHINDUCTOR_CACHE_DIR': cache}):
            counters.clear()
            out = torch.compile(lambda d: pre(d, True))(data())
            self.assertGreater(counters['inductor']['fxgraph_cache_miss'], 0)
        samples = out['data_samples']
        batch = batched_gt_paths(samples)
        self.assertIsNotNone(batch)
        self.assertEqual(batch[:, 0].tolist(), [list(p) for p in paths])
        for i, sample in enumerate(samples):
            self.assertTrue(torch.equal(sample.gt_path, batch[i, :1]))
        # the head reads that batch as it is: no stacking, no host sync
        head = MODELS.build(
            dict(type='HierS2SHead', tree=TREE, in_channels=8, hidden_size=8))
        count = count_ops(lambda: head.get_gt_paths(samples, 'cpu'))
        self.assertEqual(count.host_syncs, 0, count)
        self.assertIs(head.get_gt_paths(samples, 'cpu'), batch)
