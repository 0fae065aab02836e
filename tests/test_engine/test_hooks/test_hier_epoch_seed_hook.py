# Copyright (c) mmhier contributors. All rights reserved.
"""HierEpochSeedHook: what an epoch (or iteration) draws from ``random``,
numpy and torch depends on (seed, epoch) only, not on what ran before it.

The end-to-end check (SIGKILL mid-epoch, ``--resume``, weights equal bit for
bit) is tests/test_tools/test_crash_resume.py."""
import random
from types import SimpleNamespace
from unittest import TestCase, mock

import numpy as np
import torch
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmpretrain.registry import HOOKS

import mmhier  # noqa: F401  (registers HierEpochSeedHook)


def _runner(seed=0, epoch=0, it=0, loop=EpochBasedTrainLoop, **randomness):
    return SimpleNamespace(
        seed=seed,
        epoch=epoch,
        iter=it,
        _randomness_cfg=dict(seed=seed, **randomness),
        train_loop=mock.MagicMock(spec=loop))


def _draw():
    return (random.random(), float(np.random.rand()), float(torch.rand(())))


class TestHierEpochSeedHook(TestCase):

    def setUp(self):
        state = (random.getstate(), np.random.get_state(),
                 torch.get_rng_state())
        self.addCleanup(torch.set_rng_state, state[2])
        self.addCleanup(np.random.set_state, state[1])
        self.addCleanup(random.setstate, state[0])

    def _epoch_draw(self, runner, noise=0, **kwargs):
        hook = HOOKS.build(dict(type='HierEpochSeedHook', **kwargs))
        hook.before_train(runner)
        for _ in range(noise):  # what earlier epochs or a restart drew
            _draw()
        hook.before_train_epoch(runner)
        hook.before_train_iter(runner, 0)
        return _draw()

    def test_epoch_draws_do_not_depend_on_the_past(self):
        runner = _runner(epoch=1)
        first = self._epoch_draw(runner)
        self.assertEqual(self._epoch_draw(runner, noise=5), first)
        # another epoch, another seed; a seed is not seed + epoch
        self.assertNotEqual(self._epoch_draw(_runner(epoch=2)), first)
        self.assertNotEqual(self._epoch_draw(_runner(seed=1, epoch=0)), first)

    def test_iteration_based_loop_reseeds_every_iteration(self):
        runner = _runner(it=7, loop=IterBasedTrainLoop)
        first = self._epoch_draw(runner)
        self.assertEqual(self._epoch_draw(runner, noise=3), first)
        self.assertNotEqual(
            self._epoch_draw(_runner(it=8, loop=IterBasedTrainLoop)), first)
        # by_epoch=True on an iteration-based loop leaves iterations alone
        hook = HOOKS.build(dict(type='HierEpochSeedHook', by_epoch=True))
        hook.before_train(runner)
        hook.before_train_iter(runner, 0)
        a = _draw()
        hook.before_train_iter(runner, 0)
        self.assertNotEqual(_draw(), a)

    def test_diff_rank_seed_mixes_in_the_rank(self):
        runner = _runner(epoch=1, diff_rank_seed=True)
        path = 'mmhier.engine.hooks.hier_epoch_seed_hook.get_rank'
        with mock.patch(path, return_value=0):
            rank0 = self._epoch_draw(runner)
        with mock.patch(path, return_value=1):
            rank1 = self._epoch_draw(runner)
        self.assertNotEqual(rank0, rank1)
        with mock.patch(path, return_value=1):
            # without diff_rank_seed every rank draws the same
            self.assertEqual(self._epoch_draw(_runner(epoch=1)), rank0)

    def test_no_seed_no_reseeding(self):
        runner = _runner(seed=None, epoch=1)
        torch.manual_seed(3)
        expected = float(torch.rand(()))
        torch.manual_seed(3)
        hook = HOOKS.build(dict(type='HierEpochSeedHook'))
        hook.before_train(runner)
        hook.before_train_epoch(runner)
        self.assertEqual(float(torch.rand(())), expected)

    def test_bad_by_epoch(self):
        with self.assertRaisesRegex(TypeError, "by_epoch.*got 'yes'"):
            HOOKS.build(dict(type='HierEpochSeedHook', by_epoch='yes'))
