# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

import torch
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS, OPTIM_WRAPPERS
from mmpretrain.structures import DataSample

import mmhier  # noqa: F401


def _build(registry, cfg):
    # as the Runner builds: under mmpretrain's scope, whatever scope an
    # earlier test left current
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return registry.build(cfg)


def _tiny_classifier():
    return _build(
        MODELS,
        dict(
            type='ImageClassifier',
            data_preprocessor=dict(
                type='ClsDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3),
            backbone=dict(
                type='ResNet',
                depth=18,
                stem_channels=4,
                base_channels=4,
                out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=3,
                in_channels=32,
                loss=dict(type='CrossEntropyLoss'))))


def _batch():
    gen = torch.Generator().manual_seed(0)
    inputs = [
        torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8, generator=gen)
        for _ in range(4)
    ]
    samples = [DataSample().set_gt_label(i % 3) for i in range(4)]
    return dict(inputs=inputs, data_samples=samples)


class TestCPUBf16OptimWrapper(TestCase):

    def _train_step_dtypes(self, optim_wrapper_type):
        model = _tiny_classifier()
        optim_wrapper = _build(
            OPTIM_WRAPPERS,
            dict(
                type=optim_wrapper_type,
                optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
        seen = {}

        def record(name):

            def hook(module, inputs, output):
                seen[name] = output.dtype

            return hook

        model.head.fc.register_forward_hook(record('fc'))
        model.backbone.conv1.register_forward_hook(record('conv1'))
        model.head.fc.weight.register_hook(
            lambda grad: seen.__setitem__('grad', grad.dtype))
        before = model.head.fc.weight.detach().clone()
        losses = model.train_step(_batch(), optim_wrapper)
        self.assertTrue(torch.isfinite(losses['loss']))
        # the update happened, in float32 parameters
        self.assertFalse(torch.equal(before, model.head.fc.weight))
        self.assertEqual(model.head.fc.weight.dtype, torch.float32)
        return optim_wrapper, seen

    def test_forward_runs_in_bf16(self):
        optim_wrapper, seen = self._train_step_dtypes('CPUBf16OptimWrapper')
        self.assertIsInstance(optim_wrapper, OptimWrapper)
        self.assertEqual(
            seen,
            dict(conv1=torch.bfloat16, fc=torch.bfloat16, grad=torch.float32))
        # the plain wrapper keeps float32: the test tells the two apart
        _, seen = self._train_step_dtypes('OptimWrapper')
        self.assertEqual(
            seen,
            dict(conv1=torch.float32, fc=torch.float32, grad=torch.float32))

    def test_autocast_only_inside_the_context(self):
        model = torch.nn.Linear(2, 2)
        optim_wrapper = _build(
            OPTIM_WRAPPERS,
            dict(
                type='CPUBf16OptimWrapper',
                optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
        with optim_wrapper.optim_context(model):
            self.assertEqual(model(torch.ones(1, 2)).dtype, torch.bfloat16)
        self.assertEqual(model(torch.ones(1, 2)).dtype, torch.float32)

    def test_built_from_config_by_bare_name(self):
        # as the Runner does: mmengine's builder, default scope mmpretrain
        model = torch.nn.Linear(2, 2)
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            optim_wrapper = build_optim_wrapper(
                model,
                dict(
                    type='CPUBf16OptimWrapper',
                    optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
                    clip_grad=dict(max_norm=1.0)))
        self.assertEqual(type(optim_wrapper).__name__, 'CPUBf16OptimWrapper')
        self.assertEqual(optim_wrapper.optimizer.defaults['momentum'], 0.9)
