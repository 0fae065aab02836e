# Copyright (c) mmhier contributors. All rights reserved.
"""CBAM-ResNet: ResNet bottlenecks refined by the Convolutional Block
Attention Module (Woo et al., "CBAM", ECCV 2018).

mmpretrain 1.2.0 has SE-ResNet but no CBAM-ResNet, one of the four backbones
of the DHNN paper's Open Images experiments (its Table 3). The layout mirrors
mmpretrain's ``SEResNet``: a bottleneck that applies the attention to the
residual branch before the identity is added, and a ``ResNet`` subclass that
builds its stages from that block.
"""
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from mmpretrain.models.backbones.resnet import Bottleneck, ResLayer, ResNet
from mmpretrain.registry import MODELS

__all__ = ['CBAMLayer', 'CBAMBottleneck', 'CBAMResNet']


class CBAMLayer(BaseModule):
    """Channel attention followed by spatial attention (CBAM, sec. 3).

    For a map ``F`` of shape ``(B, C, H, W)``:

    .. math::
        M_c(F) &= \\sigma(\\mathrm{MLP}(\\mathrm{AvgPool}(F))
                  + \\mathrm{MLP}(\\mathrm{MaxPool}(F))),
                  \\quad F' = M_c(F) \\otimes F, \\\\
        M_s(F') &= \\sigma(f^{7 \\times 7}([\\mathrm{AvgPool}_c(F');
                   \\mathrm{MaxPool}_c(F')])),
                   \\quad F'' = M_s(F') \\otimes F',

    with a shared two-layer MLP ``C -> C / r -> C`` (ReLU between) over the
    spatially average- and max-pooled descriptors (CBAM eq. (2)), and one
    ``k x k`` convolution from the two channel-pooled maps (mean and max
    over the channels) to one map (CBAM eq. (3)). ``F''`` is returned.

    Args:
        channels (int): ``C``.
        ratio (int): Reduction ratio ``r`` of the MLP. The hidden size is
            ``max(C // r, 1)``. Defaults to 16 (the paper's value).
        kernel_size (int): Odd size ``k`` of the spatial convolution.
            Defaults to 7 (the paper's value).
        init_cfg (dict | list[dict], optional): mmengine init config.
            Defaults to None.

    Examples:
        >>> layer = CBAMLayer(64)
        >>> layer(torch.rand(2, 64, 8, 8)).shape
        torch.Size([2, 64, 8, 8])
    """

    def __init__(self,
                 channels: int,
                 ratio: int = 16,
                 kernel_size: int = 7,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('channels', channels), ('ratio', ratio)):
            if isinstance(value,
                          bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got '
                                 f'{value!r}')
        if (isinstance(kernel_size, bool) or not isinstance(kernel_size, int)
                or kernel_size < 1 or kernel_size % 2 == 0):
            raise ValueError(f'kernel_size must be a positive odd int (the '
                             f'map keeps its size), got {kernel_size!r}')
        hidden = max(channels // ratio, 1)
        # the shared MLP as 1x1 convs on (B, C, 1, 1) descriptors
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
        )
        self.spatial_conv = nn.Conv2d(
            2, 1, kernel_size, padding=kernel_size // 2)

    def channel_attention(self, x: torch.Tensor) -> torch.Tensor:
        """``M_c(x)`` of shape ``(B, C, 1, 1)`` (CBAM eq. (2))."""
        avg = x.mean(dim=(2, 3), keepdim=True)
        mx = x.amax(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.mlp(avg) + self.mlp(mx))

    def spatial_attention(self, x: torch.Tensor) -> torch.Tensor:
        """``M_s(x)`` of shape ``(B, 1, H, W)`` (CBAM eq. (3))."""
        pooled = torch.cat(
            [x.mean(dim=1, keepdim=True),
             x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.spatial_conv(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refine ``x`` ``(B, C, H, W)``: ``F'' = M_s(F') F'``, ``F' = M_c(F)
        F`` (CBAM eq. (1))."""
        x = x * self.channel_attention(x)
        return x * self.spatial_attention(x)


class CBAMBottleneck(Bottleneck):
    """mmpretrain's ResNet bottleneck with CBAM on the residual branch.

    As in CBAM's Fig. 3 (and where SE-ResNet puts its SE layer): the output
    of the last conv and norm is refined by :class:`CBAMLayer` before the
    identity is added.

    Args:
        in_channels (int): Input channels of the block.
        out_channels (int): Output channels of the block.
        cbam_ratio (int): Reduction ratio of the channel attention.
            Defaults to 16.
        cbam_kernel_size (int): Kernel of the spatial attention.
            Defaults to 7.
        **kwargs: Other arguments of mmpretrain's ``Bottleneck``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 cbam_ratio: int = 16,
                 cbam_kernel_size: int = 7,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, **kwargs)
        self.cbam = CBAMLayer(
            out_channels, ratio=cbam_ratio, kernel_size=cbam_kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def _inner_forward(x):
            identity = x

            out = self.conv1(x)
            out = self.norm1(out)
            out = self.relu(out)

            out = self.conv2(out)
            out = self.norm2(out)
            out = self.relu(out)

            out = self.conv3(out)
            out = self.norm3(out)

            out = self.cbam(out)

            if self.downsample is not None:
                identity = self.downsample(x)

            out = self.drop_path(out)
            out += identity
            return out

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(_inner_forward, x)
        else:
            out = _inner_forward(x)
        return self.relu(out)


@MODELS.register_module()
class CBAMResNet(ResNet):
    """ResNet with a CBAM in every bottleneck (Woo et al., ECCV 2018).

    The DHNN paper's "CBAM-Res-50" backbone (Table 3). Same stages, strides
    and outputs as mmpretrain's ``ResNet`` of the same depth (ResNet-50
    stages give 256, 512, 1024 and 2048 channels at strides 4, 8, 16 and
    32), so it drops into any config written for ``ResNet`` /
    ``SEResNet``. No ImageNet checkpoint of it ships with mmpretrain: the
    DHNN configs train it from scratch unless ``init_cfg`` names one.

    Args:
        depth (int): Network depth, one of 50, 101, 152.
        cbam_ratio (int): Reduction ratio of the channel attention.
            Defaults to 16.
        cbam_kernel_size (int): Kernel of the spatial attention.
            Defaults to 7.
        **kwargs: Other arguments of mmpretrain's ``ResNet``
            (``out_indices``, ``frozen_stages``, ``norm_cfg``, ...).

    Examples:
        >>> net = MODELS.build(dict(type='CBAMResNet', depth=50,
        ...                         out_indices=(0, 1, 2, 3)))
        >>> [tuple(f.shape) for f in net(torch.rand(1, 3, 64, 64))]
        [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 4, 4), (1, 2048, 2, 2)]
    """

    arch_settings = {
        50: (CBAMBottleneck, (3, 4, 6, 3)),
        101: (CBAMBottleneck, (3, 4, 23, 3)),
        152: (CBAMBottleneck, (3, 8, 36, 3))
    }

    def __init__(self,
                 depth: int,
                 cbam_ratio: int = 16,
                 cbam_kernel_size: int = 7,
                 **kwargs) -> None:
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth!r} for CBAMResNet, use one '
                           f'of {sorted(self.arch_settings)}')
        self.cbam_ratio = cbam_ratio
        self.cbam_kernel_size = cbam_kernel_size
        super().__init__(depth, **kwargs)

    def make_res_layer(self, **kwargs) -> ResLayer:
        return ResLayer(
            cbam_ratio=self.cbam_ratio,
            cbam_kernel_size=self.cbam_kernel_size,
            **kwargs)
