# Copyright (c) mmhier contributors. All rights reserved.
import importlib.util
import os.path as osp
from types import SimpleNamespace
from unittest import TestCase
from unittest.mock import MagicMock

import torch
import torch.nn as nn
from mmengine.runner import IterBasedTrainLoop
from mmpretrain.registry import HOOKS
from torch.nn.parallel import DistributedDataParallel

import mmhier  # noqa: F401

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))
WORKER = osp.join(HERE, '_ddp_freeze_worker.py')
_spec = importlib.util.spec_from_file_location('_ddp_freeze_worker', WORKER)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)

# the scheme of the -Alt configs in configs/hier (ours: the paper gives no
# epochs); the authors' alt2=2, alt1=5
CFG_ALT = dict(type='AlternatingFreezeHook', period=2, unfreeze_all_after=6)
# the authors' released training loop, transcribed
authors_phases = worker.authors_phases


class ToyNet(nn.Module):
    """backbone (conv + BN), a neck without parameters, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.neck = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4, 2)


class FakeDDP(DistributedDataParallel):
    """A DDP instance without a process group, for the argument check."""

    def __init__(self, module: nn.Module, find_unused: bool) -> None:
        nn.Module.__init__(self)
        self.module = module
        self.find_unused_parameters = find_unused


def fake_runner(model=None, **kwargs) -> SimpleNamespace:
    model = ToyNet() if model is None else model
    model.train()
    defaults = dict(
        model=model,
        epoch=0,
        iter=0,
        max_epochs=20,
        max_iters=200,
        train_loop=object(),
        logger=MagicMock())
    defaults.update(kwargs)
    return SimpleNamespace(**defaults)


def logged(runner) -> list:
    return [c.args[0] for c in runner.logger.info.call_args_list]


def grads_on(module: nn.Module) -> list:
    return [p.requires_grad for p in module.parameters()]


class TestAlternatingFreezeHook(TestCase):

    def build(self, **kwargs):
        cfg = dict(type='AlternatingFreezeHook')
        cfg.update(kwargs)
        return HOOKS.build(cfg)

    # ---------------------------------------------------------------
    # the schedule as a pure function
    # ---------------------------------------------------------------
    def test_config_schedule(self):
        hook = HOOKS.build(CFG_ALT)
        self.assertEqual(
            [hook.get_phase(e) for e in range(9)],
            ['rnn', 'rnn', 'cnn', 'cnn', 'rnn', 'rnn', 'all', 'all', 'all'])
        self.assertTrue(hook.freezes)
        self.assertEqual([hook.get_phase(e) for e in range(9)],
                         authors_phases(alt1=5, alt2=2, n_epoch=9))

    def test_authors_epochs(self):
        """period=alt2, unfreeze_all_after=alt1 + 1 switches at exactly
        the epochs of the authors' loop (everything at epoch > alt1)."""
        for alt1 in (-1, 0, 1, 2, 3, 5, 6, 7, 11, 40):
            for alt2 in (1, 2, 3, 6, 20):
                with self.subTest(alt1=alt1, alt2=alt2):
                    hook = self.build(period=alt2, unfreeze_all_after=alt1 + 1)
                    self.assertEqual([hook.get_phase(e) for e in range(30)],
                                     authors_phases(alt1, alt2, 30))
        # the authors' Open Images -Alt runs: alt1=3, alt2=6
        hook = self.build(period=6, unfreeze_all_after=4)
        self.assertEqual([hook.get_phase(e) for e in range(15)],
                         ['rnn'] * 4 + ['all'] * 11)
        # alt1=6, alt2=2: the CNN phase of epoch 6 comes before 'all' at 7
        hook = self.build(period=2, unfreeze_all_after=7)
        self.assertEqual(
            [hook.get_phase(e) for e in range(9)],
            ['rnn', 'rnn', 'cnn', 'cnn', 'rnn', 'rnn', 'cnn', 'all', 'all'])
        # their runs without alternation: alt1=-1, everything from epoch 0
        hook = self.build(period=20, unfreeze_all_after=0)
        self.assertEqual(hook.get_phase(0), 'all')
        self.assertFalse(hook.freezes)

    def test_start_cnn_by_iter_without_unfreeze(self):
        hook = self.build(by_epoch=False, period=3, start='cnn')
        self.assertEqual([hook.get_phase(i) for i in range(8)],
                         ['cnn'] * 3 + ['rnn'] * 3 + ['cnn'] * 2)
        self.assertEqual(hook.get_phase(10**6 + 1), 'rnn')  # 333333 odd

    def test_unfreeze_from_start(self):
        hook = self.build(period=1, unfreeze_all_after=0)
        self.assertEqual(hook.get_phase(0), 'all')
        self.assertFalse(hook.freezes)

    def test_explicit_phases(self):
        hook = self.build(phases=[
            dict(begin=0, end=2, train='rnn'),
            dict(begin=2, end=3, train='cnn'),
            dict(begin=3, train='all')
        ])
        self.assertEqual([hook.get_phase(e) for e in range(6)],
                         ['rnn', 'rnn', 'cnn', 'all', 'all', 'all'])
        closed = self.build(phases=[
            dict(begin=0, end=1, train='cnn'),
            dict(begin=1, end=2, train='all')
        ])
        self.assertEqual(closed.get_phase(1), 'all')
        with self.assertRaisesRegex(ValueError, 'epoch 2 lies after'):
            closed.get_phase(2)
        self.assertFalse(
            self.build(phases=[dict(begin=0, train='all')]).freezes)

    def test_argument_errors(self):
        cases = [
            (dict(), 'either period'),
            (dict(period=0), r'period must be a positive int, got 0'),
            (dict(period=True), r'got True'),
            (dict(period=1.5), r'got 1\.5'),
            (dict(period=1, start='head'), r"got 'head'"),
            (dict(period=1, unfreeze_all_after=-1), r'got -1'),
            (dict(by_epoch='yes', period=1), r"by_epoch .*got 'yes'"),
            (dict(period=2,
                  phases=[dict(begin=0,
                               train='all')]), 'got phases and period'),
            (dict(start='cnn',
                  phases=[dict(begin=0,
                               train='all')]), 'got phases and start'),
            (dict(phases=[]), 'non-empty list'),
            (dict(phases=[dict(begin=1, train='rnn')]),
             r'phases\[0\] should begin at 0, got begin=1'),
            (dict(phases=[
                dict(begin=0, end=2, train='rnn'),
                dict(begin=3, train='all')
            ]), r'phases\[1\] should begin at 2, got begin=3'),
            (dict(phases=[dict(begin=0, train='neck')]),
             r"phases\[0\]\[\"train\"\] .*got 'neck'"),
            (dict(phases=[
                dict(begin=0, train='rnn'),
                dict(begin=2, train='all')
            ]), r'only the last phase may leave out end'),
            (dict(phases=[dict(begin=0, end=0, train='rnn')]),
             'begin=0, end=0'),
            (dict(phases=[dict(begin=0, stop=2, train='rnn')]),
             r"phases\[0\] must be dict.*'stop'"),
            (dict(period=1, cnn_modules=()), r'cnn_modules .*got \(\)'),
            (dict(period=1, rnn_modules=('backbone.layer4', )),
             r"'backbone' in cnn_modules and 'backbone.layer4' in "
             'rnn_modules'),
        ]
        for kwargs, msg in cases:
            with self.subTest(kwargs=kwargs):
                with self.assertRaisesRegex((ValueError, TypeError), msg):
                    self.build(**kwargs)

    # ---------------------------------------------------------------
    # checks against the run in before_train
    # ---------------------------------------------------------------
    def test_unknown_module_lists_children(self):
        hook = self.build(period=1, cnn_modules=('body', ))
        with self.assertRaisesRegex(
                ValueError, r"cnn_modules names 'body', but ToyNet has no "
                r"such submodule; its top-level children are "
                r"\['backbone', 'neck', 'head'\]"):
            hook.before_train(fake_runner())

    def test_part_without_parameters(self):
        hook = self.build(period=1, rnn_modules='neck')
        with self.assertRaisesRegex(ValueError,
                                    r"rnn_modules=\('neck',\) hold no"):
            hook.before_train(fake_runner())

    def test_dotted_rnn_modules_leave_rest_trained(self):
        # the authors' split: only the recurrent layers are frozen in the
        # CNN phase; the output layer is trained in every phase
        model = ToyNet()
        model.head = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
        runner = fake_runner(model=model, epoch=2)
        hook = self.build(period=2, rnn_modules=('head.0', ))
        hook.before_train(runner)
        self.assertIn(
            'these modules (or parts of them) are in neither part and are '
            'trained in every phase: head',
            logged(runner)[0])
        hook.before_train_epoch(runner)  # epoch 2: CNN phase
        self.assertEqual(grads_on(model.head[0]), [False] * 2)
        self.assertEqual(grads_on(model.head[1]), [True] * 2)
        self.assertEqual(grads_on(model.backbone), [True] * 4)

    def test_loop_and_length_checks(self):
        loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
        with self.assertRaisesRegex(ValueError, 'use by_epoch=False'):
            HOOKS.build(CFG_ALT).before_train(fake_runner(train_loop=loop))
        self.build(
            by_epoch=False,
            period=5).before_train(fake_runner(train_loop=loop))
        hook = self.build(phases=[
            dict(begin=0, end=2, train='rnn'),
            dict(begin=2, end=4, train='all')
        ])
        with self.assertRaisesRegex(ValueError,
                                    'end at epoch 4, but training runs 6'):
            hook.before_train(fake_runner(max_epochs=6))
        hook.before_train(fake_runner(max_epochs=4))

    def test_ddp_needs_find_unused_parameters(self):
        with self.assertRaisesRegex(RuntimeError,
                                    'find_unused_parameters=True'):
            HOOKS.build(CFG_ALT).before_train(
                fake_runner(model=FakeDDP(ToyNet(), find_unused=False)))
        # reaches the module inside the wrapper
        wrapped = FakeDDP(ToyNet(), find_unused=True)
        runner = fake_runner(model=wrapped)
        hook = HOOKS.build(CFG_ALT)
        hook.before_train(runner)
        hook.before_train_epoch(runner)
        self.assertEqual(grads_on(wrapped.module.backbone), [False] * 4)
        # a schedule that never freezes does not need it
        self.build(
            period=1, unfreeze_all_after=0).before_train(
                fake_runner(model=FakeDDP(ToyNet(), find_unused=False)))

    # ---------------------------------------------------------------
    # freezing, modes, gradients, logging, resume (no Runner)
    # ---------------------------------------------------------------
    def test_freeze_sets_grads_modes_and_logs(self):
        runner = fake_runner()
        model = runner.model
        for p in model.parameters():  # as left by zero_grad(set_to_none=0)
            p.grad = torch.zeros_like(p)
        hook = HOOKS.build(CFG_ALT)
        hook.before_train(runner)
        hook.before_train_epoch(runner)
        self.assertEqual(grads_on(model.backbone), [False] * 4)
        self.assertEqual(grads_on(model.head), [True] * 2)
        self.assertTrue(
            all(p.grad is None for p in model.backbone.parameters()))
        self.assertTrue(
            all(p.grad is not None for p in model.head.parameters()))
        model.train()  # what the loop does after before_train_epoch
        hook.before_train_iter(runner, 0)
        self.assertFalse(model.backbone[1].training)
        self.assertTrue(model.head.training)
        self.assertEqual(
            logged(runner), [
                "AlternatingFreezeHook: phase 'rnn' from epoch 0: "
                'training RNN (neck, head), frozen CNN (backbone)'
            ])
        # same phase: nothing toggled, nothing logged
        runner.epoch = 1
        hook.before_train_epoch(runner)
        self.assertEqual(len(logged(runner)), 1)
        runner.epoch = 2
        hook.before_train_epoch(runner)
        model.train()
        hook.before_train_iter(runner, 0)
        self.assertEqual(grads_on(model.backbone), [True] * 4)
        self.assertEqual(grads_on(model.head), [False] * 2)
        self.assertTrue(model.backbone[1].training)
        self.assertFalse(model.head.training)
        self.assertIn("phase 'cnn' from epoch 2", logged(runner)[-1])
        runner.epoch = 6
        hook.before_train_epoch(runner)
        self.assertTrue(all(p.requires_grad for p in model.parameters()))
        self.assertEqual(
            logged(runner)[-1],
            "AlternatingFreezeHook: phase 'all' from epoch 6: training "
            'everything: backbone, neck, head')

    def test_resume_mid_phase(self):
        # a fresh hook (new process) at epoch 3 of period=2: CNN phase
        runner = fake_runner(epoch=3)
        hook = HOOKS.build(CFG_ALT)
        hook.before_train(runner)
        hook.before_train_epoch(runner)
        self.assertEqual(grads_on(runner.model.backbone), [True] * 4)
        self.assertEqual(grads_on(runner.model.head), [False] * 2)
        self.assertEqual(len(logged(runner)), 1)
        self.assertIn("phase 'cnn' from epoch 3", logged(runner)[0])
        runner.epoch = 4
        hook.before_train_epoch(runner)
        self.assertIn("phase 'rnn' from epoch 4", logged(runner)[-1])
        self.assertEqual(grads_on(runner.model.backbone), [False] * 4)

        # by iteration: resumed at iter 7 of period=5, start='cnn'
        runner = fake_runner(iter=7)
        hook = self.build(by_epoch=False, period=5, start='cnn')
        hook.before_train(runner)
        hook.before_train_epoch(runner)  # does nothing when by iter
        self.assertEqual(logged(runner), [])
        hook.before_train_iter(runner, 0)
        self.assertEqual(grads_on(runner.model.backbone), [False] * 4)
        self.assertFalse(runner.model.backbone.training)
        self.assertIn("phase 'rnn' from iter 7", logged(runner)[0])

    def test_unfreeze_mid_epoch_restores_train_mode(self):
        runner = fake_runner()
        model = runner.model
        model.backbone[1].requires_grad_(False)  # frozen by the model itself
        hook = self.build(
            by_epoch=False,
            phases=[
                dict(begin=0, end=2, train='rnn'),
                dict(begin=2, train='all')
            ])
        hook.before_train(runner)
        for it in range(3):  # EpochBasedTrainLoop: no model.train() here
            runner.iter = it
            hook.before_train_iter(runner, it)
            self.assertEqual(model.backbone.training, it >= 2)
            self.assertEqual(model.backbone[1].training, it >= 2)
        # what the model froze itself stays frozen when all is trained ...
        self.assertEqual(grads_on(model.backbone), [True, True, False, False])
        hook.after_train(runner)
        # ... and after training
        self.assertEqual(grads_on(model.backbone), [True, True, False, False])
