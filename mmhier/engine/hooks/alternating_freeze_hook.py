# Copyright (c) mmhier contributors. All rights reserved.
"""Alternating training of the CNN and RNN parts (DHNN paper, sec. 4.1)."""
from typing import Dict, List, Optional, Sequence, Union

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from mmpretrain.registry import HOOKS
from torch.nn.parallel import DistributedDataParallel

PHASES = ('cnn', 'rnn', 'all')


@HOOKS.register_module()
class AlternatingFreezeHook(Hook):
    """Train the CNN and the RNN part in turn, then everything.

    The DHNN paper (sec. 4.1) updates one part while the other is frozen,
    flips between them early in training, starts with the RNN (the CNN
    already holds ImageNet weights, the RNN is random) and unfreezes the
    whole network in a final phase. It gives no epochs.

    The authors' released code has two settings, ``alt1`` and ``alt2``: it
    flips at every epoch > 0 that is a multiple of ``alt2`` and trains
    everything at every epoch ``> alt1`` (epochs counted from 0, like
    ``runner.epoch``). Here ``period`` is ``alt2`` and
    ``unfreeze_all_after`` is ``alt1 + 1`` (``unfreeze_all_after=n``:
    everything is trained after the first ``n`` epochs, i.e. from 0-based
    epoch ``n`` on). Their Open Images "-Alt" runs use ``alt1=3, alt2=6``,
    i.e. ``period=6, unfreeze_all_after=4``: the RNN part alone for epochs
    0-3, then everything (the CNN part is never trained alone); their runs
    without alternation use ``alt1=-1``, i.e. ``unfreeze_all_after=0``.
    Their code also trains the conversion and the output layer in every
    phase, freezing only the LSTMs in the CNN phase: for that, name only
    the recurrent modules in ``rnn_modules`` (e.g. ``('head.encoder',
    'head.decoder')`` of a ``HierS2SHead``).

    A phase names the part that is trained: ``'rnn'`` (CNN frozen),
    ``'cnn'`` (RNN frozen) or ``'all'``. It is a pure function of
    ``runner.epoch`` (``by_epoch=True``) or ``runner.iter``
    (``by_epoch=False``), both 0-based, see :meth:`get_phase`, so a
    resumed run continues in the right phase without saved state.

    Freezing is done the way that stays correct under DDP:

    - by ``requires_grad`` on the already wrapped model, never at
      construction (parameters frozen before wrapping are left out of DDP
      for good). The model wrapper needs ``find_unused_parameters=True``;
      :meth:`before_train` raises if it is missing.
    - the gradients of frozen parameters are set to ``None``, so neither
      SGD momentum and weight decay nor Adam(W) moves them, whatever
      ``set_to_none`` the optimizer wrapper uses for ``zero_grad``.
    - frozen modules are put in eval mode before every iteration (the
      training loop calls ``model.train()`` after ``before_train_epoch``),
      so their BatchNorm running statistics stay untouched and equal on
      all ranks.

    Only parameters that are trainable when training starts are managed:
    what the model freezes by itself (e.g. ``frozen_stages`` of a ResNet)
    stays frozen in every phase. A line is logged at every switch,
    including the first phase of a run and of a resumed run.

    Args:
        by_epoch (bool): Count phases in epochs (``runner.epoch``) or in
            iterations (``runner.iter``). Defaults to True.
        period (int, optional): Length of each alternating phase, in
            epochs or iterations (the authors' ``alt2``). Required unless
            ``phases`` is given.
        start (str, optional): The part trained in the first phase,
            ``'rnn'`` or ``'cnn'``. Defaults to ``'rnn'`` as in the paper.
        unfreeze_all_after (int, optional): Everything is trained after
            this many epochs (or iterations), i.e. from 0-based epoch
            ``unfreeze_all_after`` on; the authors' ``alt1`` is
            ``unfreeze_all_after - 1``. None alternates to the end.
            Defaults to None.
        phases (list[dict], optional): An explicit schedule instead of
            ``period``/``start``/``unfreeze_all_after``: contiguous
            ``dict(begin=b, end=e, train=part)`` with ``part`` in
            ``('cnn', 'rnn', 'all')``, the first beginning at 0; only the
            last may leave out ``end`` (open-ended).
        cnn_modules (Sequence[str]): Names of the submodules that make the
            CNN part (dotted names reach deeper). Defaults to
            ``('backbone',)``.
        rnn_modules (Sequence[str]): Names of the submodules that make the
            RNN part. Defaults to ``('neck', 'head')``.

    Examples:
        >>> # the authors' Open Images -Alt runs (alt1=3, alt2=6): the RNN
        >>> # part alone in epochs 0-3, everything from epoch 4 on
        >>> custom_hooks = [dict(type='AlternatingFreezeHook', period=6,
        ...                      unfreeze_all_after=4)]
        >>> # mmhier's -Alt configs: flip every 2 epochs, RNN first,
        >>> # everything from epoch 6 on (authors' alt2=2, alt1=5)
        >>> custom_hooks = [dict(type='AlternatingFreezeHook', period=2,
        ...                      unfreeze_all_after=6)]
        >>> # the same as an explicit list of phases
        >>> custom_hooks = [dict(type='AlternatingFreezeHook', phases=[
        ...     dict(begin=0, end=2, train='rnn'),
        ...     dict(begin=2, end=4, train='cnn'),
        ...     dict(begin=4, end=6, train='rnn'),
        ...     dict(begin=6, train='all')])]
        >>> # under DDP the wrapper must find unused parameters
        >>> model_wrapper_cfg = dict(type='MMDistributedDataParallel',
        ...                          find_unused_parameters=True)
    """

    priority = 'NORMAL'

    def __init__(
        self,
        by_epoch: bool = True,
        period: Optional[int] = None,
        start: Optional[str] = None,
        unfreeze_all_after: Optional[int] = None,
        phases: Optional[List[dict]] = None,
        cnn_modules: Union[str, Sequence[str]] = ('backbone', ),
        rnn_modules: Union[str, Sequence[str]] = ('neck', 'head')
    ) -> None:
        if not isinstance(by_epoch, bool):
            raise TypeError(f'by_epoch must be a bool, got {by_epoch!r}')
        self.by_epoch = by_epoch
        if phases is None:
            if period is None:
                raise ValueError('AlternatingFreezeHook needs either period '
                                 '(with start, unfreeze_all_after) or '
                                 'phases, got neither')
            if not _is_int(period) or period < 1:
                raise ValueError(
                    f'period must be a positive int, got {period!r}')
            start = 'rnn' if start is None else start
            if start not in ('rnn', 'cnn'):
                raise ValueError(
                    f"start must be 'rnn' or 'cnn', got {start!r}")
            if unfreeze_all_after is not None and (
                    not _is_int(unfreeze_all_after) or unfreeze_all_after < 0):
                raise ValueError('unfreeze_all_after must be None or an int '
                                 f'>= 0, got {unfreeze_all_after!r}')
        else:
            given = [
                name
                for name, value in (('period', period), ('start', start),
                                    ('unfreeze_all_after', unfreeze_all_after))
                if value is not None
            ]
            if given:
                raise ValueError('give either phases or period/start/'
                                 f'unfreeze_all_after, got phases and '
                                 f'{", ".join(given)}')
            phases = _check_phases(phases)
        self.period = period
        self.start = start
        self.unfreeze_all_after = unfreeze_all_after
        self.phases = phases

        self.cnn_modules = _check_names('cnn_modules', cnn_modules)
        self.rnn_modules = _check_names('rnn_modules', rnn_modules)
        for a in self.cnn_modules:
            for b in self.rnn_modules:
                if a == b or a.startswith(b + '.') or b.startswith(a + '.'):
                    raise ValueError(
                        f'cnn_modules and rnn_modules must not overlap, got '
                        f'{a!r} in cnn_modules and {b!r} in rnn_modules')

        # Filled in before_train; the phase itself is never stored as state
        # that matters: _phase only decides when to log and toggle.
        self._model: Optional[nn.Module] = None
        self._groups: Dict[str, List[nn.Module]] = {}
        self._params: Dict[str, List[nn.Parameter]] = {}
        self._frozen: List[nn.Module] = []
        self._phase: Optional[str] = None

    @property
    def freezes(self) -> bool:
        """bool: Whether the schedule ever freezes a part."""
        if self.phases is not None:
            return any(p['train'] != 'all' for p in self.phases)
        return self.unfreeze_all_after != 0

    def get_phase(self, unit: int) -> str:
        """The part trained at an epoch or iteration.

        Args:
            unit (int): ``runner.epoch`` if ``by_epoch`` else
                ``runner.iter`` (0-based).

        Returns:
            str: ``'rnn'`` (CNN frozen), ``'cnn'`` (RNN frozen) or
            ``'all'``.
        """
        if not _is_int(unit) or unit < 0:
            raise ValueError(f'unit must be an int >= 0, got {unit!r}')
        if self.phases is not None:
            for phase in self.phases:
                end = phase.get('end')
                if phase['begin'] <= unit and (end is None or unit < end):
                    return phase['train']
            raise ValueError(f'{self._unit_name} {unit} lies after the last '
                             f'phase, which ends at {self.phases[-1]["end"]}')
        if (self.unfreeze_all_after is not None
                and unit >= self.unfreeze_all_after):
            return 'all'
        other = 'cnn' if self.start == 'rnn' else 'rnn'
        return self.start if (unit // self.period) % 2 == 0 else other

    @property
    def _unit_name(self) -> str:
        return 'epoch' if self.by_epoch else 'iter'

    def before_train(self, runner) -> None:
        """Check the run and find the modules and parameters of each part."""
        if self.by_epoch and isinstance(runner.train_loop, IterBasedTrainLoop):
            raise ValueError('AlternatingFreezeHook(by_epoch=True) needs an '
                             'epoch-based train loop, got '
                             f'{type(runner.train_loop).__name__}; use '
                             'by_epoch=False')
        if self.phases is not None and self.phases[-1].get('end') is not None:
            total = runner.max_epochs if self.by_epoch else runner.max_iters
            if total > self.phases[-1]['end']:
                raise ValueError(
                    f'phases end at {self._unit_name} '
                    f'{self.phases[-1]["end"]}, but training runs '
                    f'{total} {self._unit_name}s; leave out the last end')
        if self.freezes and isinstance(
                runner.model, DistributedDataParallel
        ) and not runner.model.find_unused_parameters:
            raise RuntimeError(
                'AlternatingFreezeHook freezes parts of a DDP-wrapped model, '
                'which needs model_wrapper_cfg=dict(type='
                "'MMDistributedDataParallel', find_unused_parameters=True)")

        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._model = model
        seen = set()
        for part, names in (('cnn', self.cnn_modules), ('rnn',
                                                        self.rnn_modules)):
            modules = [_get_submodule(model, part, name) for name in names]
            params = []
            for module in modules:
                for param in module.parameters():
                    if param.requires_grad and id(param) not in seen:
                        seen.add(id(param))
                        params.append(param)
            if not params:
                raise ValueError(
                    f'{part}_modules={names!r} hold no trainable '
                    'parameters, so there is nothing to alternate')
            self._groups[part] = modules
            self._params[part] = params
        self._frozen = []
        self._phase = None
        # dotted names (e.g. rnn_modules=('head.encoder', )) may leave
        # parts of a child out of both parts
        others = [
            name for name, child in model.named_children() if any(
                p.requires_grad and id(p) not in seen
                for p in child.parameters())
        ]
        if others:
            runner.logger.info(
                'AlternatingFreezeHook: these modules (or parts of them) are '
                'in neither part and are trained in every phase: '
                f'{", ".join(others)}')

    def before_train_epoch(self, runner) -> None:
        """Switch phase at an epoch boundary (``by_epoch=True``)."""
        if self.by_epoch:
            self._switch(runner, runner.epoch)

    def before_train_iter(
            self,
            runner,
            batch_idx: int,
            data_batch: Optional[Union[dict, tuple, list]] = None) -> None:
        """Switch phase (``by_epoch=False``); keep frozen parts in eval."""
        if not self.by_epoch:
            self._switch(runner, runner.iter)
        # The loop calls model.train() after before_train_epoch (every
        # iteration for iter-based loops): undo it for the frozen part so
        # its BatchNorm statistics do not move.
        for module in self._frozen:
            module.eval()

    def after_train(self, runner) -> None:
        """Leave every managed parameter trainable again."""
        for params in self._params.values():
            for param in params:
                param.requires_grad_(True)
        self._frozen = []
        self._phase = None

    def _switch(self, runner, unit: int) -> None:
        phase = self.get_phase(unit)
        if phase == self._phase:
            return
        frozen = {'rnn': 'cnn', 'cnn': 'rnn', 'all': None}[phase]
        for part, params in self._params.items():
            for param in params:
                param.requires_grad_(part != frozen)
                if part == frozen:
                    # A leftover gradient (zero_grad(set_to_none=False))
                    # would let momentum or weight decay move the weights.
                    param.grad = None
        # Modules that were frozen mid-epoch are still in eval mode: give
        # them back the mode of the model (their own train() keeps e.g. a
        # ResNet's norm_eval and frozen_stages).
        for module in self._frozen:
            module.train(self._model.training)
        self._frozen = list(self._groups[frozen]) if frozen else []

        names = {'cnn': self.cnn_modules, 'rnn': self.rnn_modules}
        if frozen is None:
            what = ('training everything: ' +
                    ', '.join(self.cnn_modules + self.rnn_modules))
        else:
            what = (f'training {phase.upper()} ({", ".join(names[phase])}), '
                    f'frozen {frozen.upper()} ({", ".join(names[frozen])})')
        runner.logger.info(f"AlternatingFreezeHook: phase '{phase}' from "
                           f'{self._unit_name} {unit}: {what}')
        self._phase = phase


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_names(arg: str, names: Union[str, Sequence[str]]) -> tuple:
    if isinstance(names, str):
        names = (names, )
    names = tuple(names)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(
            f'{arg} must be a non-empty sequence of module names, got '
            f'{names!r}')
    return names


def _check_phases(phases: List[dict]) -> List[dict]:
    if not isinstance(phases, (list, tuple)) or not phases:
        raise ValueError(
            f'phases must be a non-empty list of dicts, got {phases!r}')
    checked = []
    for i, phase in enumerate(phases):
        if not isinstance(phase, dict):
            raise ValueError(f'phases[{i}] must be a dict, got {phase!r}')
        unknown = set(phase) - {'begin', 'end', 'train'}
        if unknown or 'begin' not in phase or 'train' not in phase:
            raise ValueError(
                f'phases[{i}] must be dict(begin=..., end=..., train=...) '
                f'(end optional for the last), got {phase!r}')
        if phase['train'] not in PHASES:
            raise ValueError(f'phases[{i}]["train"] must be one of '
                             f'{PHASES}, got {phase["train"]!r}')
        begin, end = phase['begin'], phase.get('end')
        expected = 0 if i == 0 else checked[-1]['end']
        if not _is_int(begin) or begin != expected:
            raise ValueError(
                f'phases must be contiguous from 0: phases[{i}] should begin '
                f'at {expected}, got begin={begin!r}')
        if end is None and i < len(phases) - 1:
            raise ValueError(
                f'only the last phase may leave out end, got {phase!r} '
                f'as phases[{i}]')
        if end is not None and (not _is_int(end) or end <= begin):
            raise ValueError(f'phases[{i}] must end after it begins, got '
                             f'begin={begin!r}, end={end!r}')
        checked.append(dict(begin=begin, end=end, train=phase['train']))
    return checked


def _get_submodule(model: nn.Module, part: str, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        children = [n for n, _ in model.named_children()]
        raise ValueError(
            f'{part}_modules names {name!r}, but {type(model).__name__} has '
            f'no such submodule; its top-level children are {children}'
        ) from None
