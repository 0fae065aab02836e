# Copyright (c) mmhier contributors. All rights reserved.
"""Reseed the global RNGs from (seed, epoch), so that a resumed run
replays an epoch exactly."""
import random
from typing import Optional, Union

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class HierEpochSeedHook(Hook):
    """Seed ``random``, numpy and torch from (seed, epoch) before every
    training epoch (or from (seed, iter) before every iteration of an
    iteration-based loop).

    mmengine seeds the global RNGs once, when the runner is built, and does
    not save their state in checkpoints. A run that is killed in the middle
    of an epoch resumes from the last checkpoint, at the start of that
    epoch, in a fresh process: the sampler's order is the same
    (``DefaultSampler`` draws it from seed + epoch), but everything that
    draws from the global RNGs (random augmentations such as
    ``RandomFlip``, dropout, scheduled sampling, the data loader's worker
    seeds) gets other numbers than in the uninterrupted run, so the weights
    differ. Saving the RNG state with the checkpoint would not be enough
    either: the validation that follows the checkpoint also draws from
    torch's RNG before the next epoch begins. With this hook, what an epoch
    draws is a pure function of (seed, epoch), like the sampler's order and
    the phase of ``AlternatingFreezeHook``, so a resumed run replays the
    killed epoch exactly and, with ``randomness=dict(deterministic=True)``
    on the CPU, ends with the same weights, bit for bit.

    The seed is ``runner.seed`` (the same on all ranks); with
    ``randomness=dict(diff_rank_seed=True)`` each rank also mixes in its
    rank, as mmengine does.

    Args:
        by_epoch (bool, optional): Reseed before every epoch (True) or
            every iteration (False). Defaults to None: by iteration for an
            ``IterBasedTrainLoop``, else by epoch.

    Examples:
        >>> custom_hooks = [dict(type='HierEpochSeedHook')]
        >>> randomness = dict(seed=0, deterministic=True)
    """

    # before the data loader's iterator is made and before any hook that
    # could draw random numbers at the start of an epoch
    priority = 'HIGHEST'

    def __init__(self, by_epoch: Optional[bool] = None) -> None:
        if by_epoch is not None and not isinstance(by_epoch, bool):
            raise TypeError(
                f'by_epoch must be None or a bool, got {by_epoch!r}')
        self.by_epoch = by_epoch
        self._by_epoch = True

    def before_train(self, runner) -> None:
        """Decide between epochs and iterations."""
        if self.by_epoch is None:
            self._by_epoch = not isinstance(runner.train_loop,
                                            IterBasedTrainLoop)
        else:
            self._by_epoch = self.by_epoch

    def before_train_epoch(self, runner) -> None:
        """Reseed from (seed, epoch)."""
        if self._by_epoch:
            self._reseed(runner, 0, runner.epoch)

    def before_train_iter(
            self,
            runner,
            batch_idx: int,
            data_batch: Optional[Union[dict, tuple, list]] = None) -> None:
        """Reseed from (seed, iter) in iteration mode."""
        if not self._by_epoch:
            self._reseed(runner, 1, runner.iter)

    @staticmethod
    def epoch_seed(seed: int, unit: int, rank: int = 0, kind: int = 0) -> int:
        """The seed of an epoch (``kind=0``) or an iteration (``kind=1``).

        Args:
            seed (int): The run's seed.
            unit (int): The 0-based epoch or iteration.
            rank (int): Mixed in for ``diff_rank_seed``. Defaults to 0.
            kind (int): 0 for epochs, 1 for iterations. Defaults to 0.

        Returns:
            int: A seed in ``[0, 2**32)``, well spread for neighbouring
            units (not ``seed + epoch``, which would make run seed 1 at
            epoch 0 equal to run seed 0 at epoch 1).
        """
        seq = np.random.SeedSequence([int(seed) % 2**32, kind, unit, rank])
        return int(seq.generate_state(1)[0])

    def _reseed(self, runner, kind: int, unit: int) -> None:
        seed = runner.seed
        if seed is None:
            return
        rank = get_rank() if runner._randomness_cfg.get(
            'diff_rank_seed', False) else 0
        value = self.epoch_seed(seed, unit, rank, kind)
        random.seed(value)
        np.random.seed(value)
        # also seeds every CUDA device
        torch.manual_seed(value)
