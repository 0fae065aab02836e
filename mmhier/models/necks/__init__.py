# Copyright (c) mmhier contributors. All rights reserved.
"""Necks of mmhier: the DHNN conversion of stage maps to step inputs.

:class:`HierConversionNeck` takes the tuple of stage maps ``a_s`` (``B x D_s
x H_s x W_s``) of any mmpretrain backbone with several ``out_indices`` and
returns ``(u, )`` with ``u`` of shape ``(B, T, p)``: ``u_t`` is the mean of
``g(a_s)`` over the stages ``s`` of step ``t`` (section 3.1 of the DHNN
paper). The conversions ``g`` (section 3.3) are their own registered
modules, one instance per used stage:

* :class:`HierLinearConversion`: n-mode products ``vec(a x_1 U1 x_2 U2 x_3
  U3)`` with ``m n v = p`` (``full=True``: one ``nn.Linear``);
* :class:`HierConvConversion`: one conv whose filters, kernel, stride and
  padding are solved from ``(D_s, H_s, W_s)`` and ``p`` (appendix A);
* :class:`HierPoolConversion`: weight-free max / average pooling solved from
  appendix B, optionally followed by n-mode products or a linear map to
  ``p``.

The equations of the appendices are solved by the pure functions of
:mod:`.conversion_solvers`.

How the stage shapes are known: the conversions are built eagerly from
*declared* shapes, not lazily on the first batch, because mmengine's Runner
builds the optimizer and loads checkpoints right after building the model,
before any forward pass, and lazily created weights would be missing from
both. Declare the shapes either as ``in_shapes=[(D_s, H_s, W_s), ...]``
(:func:`infer_stage_shapes` computes them by running the backbone once) or as
``in_channels`` plus ``input_size`` (default 224, may be ``(H, W)``) and
``strides`` (default ``(..., 8, 16, 32)``). At run time the neck compares the
actual shapes with the declared ones: the pooling conversion adapts to a new
spatial size, the others raise a ``ValueError`` naming the stage, both shapes
and the ``in_shapes`` to set.

Stage groups: no order is imposed (the paper's definition puts shallow stages
at the coarse steps, its motivation deep ones); :func:`make_stage_groups`
builds either order, ``'shallow_to_coarse'`` or ``'deep_to_coarse'``.
"""
from .base_conversion import BaseHierConversion
from .conversion_solvers import (ConvParams, PoolParams, solve_conv_params,
                                 solve_conv_window, solve_mode_dims,
                                 solve_pool_params, solve_pool_window)
from .hier_conv_conversion import HierConvConversion
from .hier_conversion_neck import CONVERSION_ALIASES, HierConversionNeck
from .hier_linear_conversion import HierLinearConversion
from .hier_pool_conversion import HierPoolConversion
from .stage_utils import (STAGE_ORDERS, check_stage_groups, default_strides,
                          infer_stage_shapes, make_stage_groups,
                          stage_shapes_from_strides)

__all__ = [
    'HierConversionNeck', 'HierLinearConversion', 'HierConvConversion',
    'HierPoolConversion', 'BaseHierConversion', 'CONVERSION_ALIASES',
    'ConvParams', 'PoolParams', 'solve_conv_params', 'solve_conv_window',
    'solve_pool_params', 'solve_pool_window', 'solve_mode_dims',
    'STAGE_ORDERS', 'make_stage_groups', 'check_stage_groups',
    'default_strides', 'stage_shapes_from_strides', 'infer_stage_shapes'
]
