# Copyright (c) mmhier contributors. All rights reserved.
"""Initialising HierNet's copies of the backbone and loading a trained one.

Every copy of backbone layers (trunk, edges, extra layers) starts as the
backbone would; section 5.4's transfer copies a trained backbone into all.
"""
import copy
from collections import defaultdict
from typing import Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from .backbone_split import split_backbone


class HierNetWeightTransferMixin:
    """Weight initialisation and backbone transfer of
    :class:`HierNetClassifier`.

    Expects the attributes the classifier builds: ``_backbone_cfg`` or
    ``_backbone_proto``, ``_slots`` (owner, module name, backbone unit of
    every copied module), ``backbone_checkpoint``, ``checkpoint_prefix``
    and ``init_cfg``.
    """

    def _new_backbone(self) -> nn.Module:
        """A fresh, uninitialised backbone like the configured one."""
        if self._backbone_cfg is not None:
            return MODELS.build(copy.deepcopy(self._backbone_cfg))
        module = copy.deepcopy(self._backbone_proto[0])
        for m in module.modules():
            if hasattr(m, '_is_init'):
                m._is_init = False
        return module

    @staticmethod
    def _init_quietly(module: nn.Module) -> None:
        """``module.init_weights()`` without mmengine's per-parameter
        report (which a top-level call prints for every template)."""
        if not hasattr(module, 'init_weights'):
            return
        info = defaultdict(dict)
        for p in module.parameters():
            info[p]['init_info'] = 'backbone init (HierNet branch)'
            info[p]['tmp_mean_value'] = p.data.mean().cpu()
        for m in module.modules():
            m._params_init_info = info
        try:
            module.init_weights()
        finally:
            for m in module.modules():
                if hasattr(m, '_params_init_info'):
                    del m._params_init_info

    def _copy_from(self,
                   backbone: nn.Module,
                   owners: Optional[Sequence[str]] = None) -> None:
        """Copy the units of ``backbone`` into the slots of ``owners``
        (all slots when None)."""
        stem, units = split_backbone(backbone)
        with torch.no_grad():
            for owner, name, i in self._slots:
                if owners is not None and owner not in owners:
                    continue
                src = stem if i < 0 else units[i]
                self.get_submodule(name).load_state_dict(src.state_dict())

    def init_weights(self) -> None:
        """Initialise every copy of the backbone layers like the backbone.

        The trunk, each edge and each block of extra layers get their own
        freshly initialised backbone (its ``init_weights``: e.g. Kaiming and
        ``zero_init_residual`` for ResNet, or a ``Pretrained`` init_cfg of
        the backbone config). Then, with ``backbone_checkpoint``, the
        trained backbone is copied into all of them (transfer, section 5.4).
        A ``Pretrained`` ``init_cfg`` of the whole model wins over both.
        """
        super().init_weights()
        cfgs = self.init_cfg or []
        cfgs = [cfgs] if isinstance(cfgs, dict) else cfgs
        if any(c.get('type') == 'Pretrained' for c in cfgs):
            return
        owners = list(dict.fromkeys(o for o, _, _ in self._slots))
        for owner in owners:
            template = self._new_backbone()
            self._init_quietly(template)
            self._copy_from(template, owners=[owner])
        # mmengine's per-parameter report above predates these copies.
        print_log(
            f'HierNetClassifier: initialised {len(owners)} copies of the '
            'backbone layers (trunk, edges, extra layers) with the '
            "backbone's own init_weights",
            logger='current')
        if self.backbone_checkpoint is not None:
            self.load_backbone(self.backbone_checkpoint)
            print_log(
                'HierNetClassifier: copied the backbone of '
                f'{self.backbone_checkpoint} into the trunk and all '
                'branches',
                logger='current')

    def load_backbone(self,
                      source: Union[str, Mapping, nn.Module],
                      prefix: Optional[str] = None) -> None:
        """Copy a trained backbone into the trunk and every branch.

        Args:
            source: A checkpoint file (of a flat classifier or of the
                backbone), a state dict, or a backbone module.
            prefix: Prefix of the backbone keys; defaults to
                ``checkpoint_prefix``. Keys without it are used as they
                are when no key has it.

        Raises:
            ValueError: when the weights do not fit the backbone.
        """
        prefix = self.checkpoint_prefix if prefix is None else prefix
        where = source if isinstance(source, str) else type(source).__name__
        if isinstance(source, nn.Module):
            state = source.state_dict()
        elif isinstance(source, Mapping):
            state = source
        else:
            from mmengine.runner.checkpoint import _load_checkpoint
            ckpt = _load_checkpoint(source, map_location='cpu')
            state = ckpt.get('state_dict', ckpt)
        if prefix and any(k.startswith(prefix) for k in state):
            state = {
                k[len(prefix):]: v
                for k, v in state.items() if k.startswith(prefix)
            }
        template = self._new_backbone()
        try:
            template.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise ValueError(
                f'the backbone weights in {where} (prefix {prefix!r}) do not '
                f'fit the configured backbone: {e}') from None
        self._copy_from(template)
