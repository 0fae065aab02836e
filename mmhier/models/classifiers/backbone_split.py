# Copyright (c) mmhier contributors. All rights reserved.
"""Cut a backbone into a stem and an ordered list of layers (units).

HierNet (Tempfli and Sandor, section 3.1) spreads the layers of a
sequential backbone over the edges of a tree: every root-to-leaf route
applies the backbone's layers in their original order. This module turns a
backbone into ``(stem, units)`` such that::

    x = stem(x); for unit in units: x = unit(x)

computes the backbone's last feature map. The split points of
:class:`HierNetClassifier` count ``units``.

Supported backbones (anything else raises a ``TypeError`` naming it):

- mmpretrain ``ResNet`` and the subclasses that keep its ``forward``
  (``ResNetV1c``, ``ResNetV1d``, ``ResNeXt``, ``SEResNet``, ...) and
  ``ResNet_CIFAR``: the stem is conv1-norm1-relu (or the deep stem), plus the
  max pool for ``ResNet``; the units are the residual blocks of
  ``layer1 .. layer4`` in order (the paper counts its split points in
  residual blocks too);
- mmpretrain ``VGG``, ``LeNet5`` and ``AlexNet`` built with
  ``num_classes <= 0``: the units are the modules of ``features`` (for VGG:
  conv modules and pools);
- any ``nn.Sequential`` (e.g. a small CNN registered in MODELS): its
  children are the units;
- any module with a ``hiernet_split()`` method returning ``(stem, units)``
  (``stem`` may be ``None``): the protocol for other backbones.
"""
from typing import List, Optional, Tuple

import torch.nn as nn

SUPPORTED = ('mmpretrain ResNet (and subclasses keeping its forward), '
             'ResNet_CIFAR, VGG/LeNet5/AlexNet with num_classes<=0, '
             'nn.Sequential, or a module with a hiernet_split() method')


def _check_no_freezing(backbone: nn.Module) -> None:
    """HierNet copies layers into branches; freezing knobs of the backbone
    would silently stop applying, so refuse them."""
    frozen = getattr(backbone, 'frozen_stages', -1)
    if isinstance(frozen, int) and frozen >= 0:
        raise ValueError(
            f'{type(backbone).__name__}(frozen_stages={frozen}) is not '
            'supported by HierNetClassifier: its layers are copied into '
            'the tree; leave frozen_stages=-1')
    if getattr(backbone, 'norm_eval', False):
        raise ValueError(
            f'{type(backbone).__name__}(norm_eval=True) is not supported '
            'by HierNetClassifier; leave norm_eval=False')


def split_backbone(
        backbone: nn.Module) -> Tuple[Optional[nn.Module], List[nn.Module]]:
    """Split ``backbone`` into ``(stem, units)``, see the module docstring.

    The returned modules are the backbone's own submodules (no copies).

    Args:
        backbone: A built backbone.

    Returns:
        tuple: ``stem`` (a module or ``None``) and the list of units.

    Raises:
        TypeError: for an unsupported backbone.
        ValueError: for a backbone configured with freezing or a classifier.
    """
    if hasattr(backbone, 'hiernet_split'):
        stem, units = backbone.hiernet_split()
        return stem, list(units)
    if isinstance(backbone, nn.Sequential):
        return None, list(backbone.children())

    # Imported here so that this module stays importable on its own.
    from mmpretrain.models.backbones import (VGG, AlexNet, LeNet5, ResNet,
                                             ResNet_CIFAR)
    name = type(backbone).__name__
    if isinstance(backbone, ResNet):
        _check_no_freezing(backbone)
        forward = type(backbone).forward
        if forward is ResNet_CIFAR.forward:
            stem = nn.Sequential(backbone.conv1, backbone.norm1, backbone.relu)
        elif forward is ResNet.forward:
            if backbone.deep_stem:
                stem = nn.Sequential(backbone.stem, backbone.maxpool)
            else:
                stem = nn.Sequential(backbone.conv1, backbone.norm1,
                                     backbone.relu, backbone.maxpool)
        else:
            raise TypeError(
                f'backbone {name} subclasses ResNet but has its own '
                f'forward, so it cannot be split safely; supported: '
                f'{SUPPORTED}')
        units = [
            block for layer in backbone.res_layers
            for block in getattr(backbone, layer).children()
        ]
        return stem, units
    if isinstance(backbone, (VGG, LeNet5, AlexNet)):
        _check_no_freezing(backbone)
        if getattr(backbone, 'num_classes', -1) > 0:
            raise ValueError(
                f'{name}(num_classes={backbone.num_classes}) carries its '
                'own classifier; build it with num_classes=-1 for '
                'HierNetClassifier (the tree has the classifiers)')
        return None, list(backbone.features.children())
    raise TypeError(f'HierNetClassifier cannot split backbone {name}; '
                    f'supported: {SUPPORTED}')


def module_out_channels(module: nn.Module) -> Optional[int]:
    """Channels of a module's output, read from its layers, or ``None``.

    Looks at ``out_channels`` of the module itself (residual blocks, conv
    modules), then at its submodules from the last one backwards
    (``out_channels`` of convs, ``num_features`` of norms, ``out_features``
    of linears).
    """
    value = getattr(module, 'out_channels', None)
    if isinstance(value, int):
        return value
    for sub in reversed(list(module.modules())):
        for attr in ('out_channels', 'num_features', 'out_features'):
            value = getattr(sub, attr, None)
            if isinstance(value, int):
                return value
    return None


def cut_channels(stem: Optional[nn.Module],
                 units: List[nn.Module]) -> List[Optional[int]]:
    """Channels of the feature map after each cut position.

    Args:
        stem: The stem or ``None``.
        units: The units.

    Returns:
        list[int | None]: ``out[k]`` is the channel count after ``stem`` and
        ``units[:k]``, for ``k = 0 .. len(units)``; ``None`` where no layer
        up to there tells it (e.g. the raw input when there is no stem).
    """
    current = module_out_channels(stem) if stem is not None else None
    out = [current]
    for unit in units:
        found = module_out_channels(unit)
        current = found if found is not None else current
        out.append(current)
    return out
