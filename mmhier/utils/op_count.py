# Copyright (c) mmhier contributors. All rights reserved.
"""Count the aten ops and host syncs of a piece of work, on the CPU.

On a GPU the cost of a small head is mostly fixed per-step overhead: one
kernel launch per op, and every host sync (a value read back to Python)
stops the CPU until the GPU has drained its queue. Both can be counted on
the CPU with torch's profiler, which is how the benchmarks and the tests
stand in for a GPU:

- **work ops**: top-level aten ops (what a Python call dispatches; the
  autograd engine's backward functions and the optimizer's step are looked
  through) that do work, i.e. that are not, and do not only call, view
  or metadata ops (``view``, ``reshape`` without a copy, ``expand``,
  ``select``, ``empty``, ...);
- **host syncs**: top-level ops that read a tensor back to the host
  (``item``, ``is_nonzero`` behind ``if tensor:``, ``nonzero`` and the
  boolean-mask indexing that calls it, ...) and calls of
  ``Tensor.tolist`` / ``Tensor.numpy`` (which the profiler does not see
  on the CPU). ``torch._assert_async`` reads its flag back on the CPU
  only; on a GPU it is asynchronous, so it is not counted. Not seen on
  the CPU: copies from host memory to a GPU (``torch.tensor(data,
  device='cuda')``, ``.to('cuda')``), which wait for the GPU unless the
  memory is pinned; on a GPU ``torch.cuda.set_sync_debug_mode`` finds
  them.

Examples:
    >>> x = torch.rand(8, 3)
    >>> count_ops(lambda: x.softmax(-1).sum().item())
    OpCount(work_ops=2, host_syncs=1, syncs={'aten::item': 1})
"""
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, NamedTuple

import torch
from torch.profiler import ProfilerActivity, profile

__all__ = ['OpCount', 'count_ops', 'NON_WORK_OPS', 'SYNC_OPS']

#: aten ops that only make views, read metadata or allocate
NON_WORK_OPS = frozenset(
    f'aten::{name}'
    for name in ('view', '_unsafe_view', 'reshape', '_reshape_alias',
                 'view_as', 'expand', 'expand_as', 'as_strided', 'as_strided_',
                 'select', 'slice', 'narrow', 'unsqueeze', 'unsqueeze_',
                 'squeeze', 'squeeze_', 'transpose', 'transpose_', 't', 't_',
                 'permute', 'movedim', 'swapaxes', 'mT', 'numpy_T', 'diagonal',
                 'unfold', 'detach', 'detach_', 'alias', 'split',
                 'split_with_sizes', 'chunk', 'unbind', 'flatten', 'unflatten',
                 'contiguous', 'to', 'type_as', 'empty', 'empty_like',
                 'empty_strided', 'new_empty', 'new_empty_strided', 'resize_',
                 'set_', 'lift_fresh', 'resolve_conj', 'resolve_neg', 'conj',
                 '_conj', 'real', 'result_type', 'is_same_size', 'size',
                 'stride', 'dim', 'sym_size', 'sym_stride', 'sym_numel',
                 '_shape_as_tensor', 'align_to', 'refine_names', 'retain_grad',
                 'requires_grad_', 'zero_grad', '_version', 'promote_types',
                 'record_stream', 'is_complex', 'is_floating_point',
                 '_has_same_storage_numel'))

#: aten ops that read device values back to the host
SYNC_OPS = frozenset(f'aten::{name}'
                     for name in ('_local_scalar_dense', 'nonzero',
                                  'masked_select', '_unique', '_unique2',
                                  'unique_dim', 'unique_consecutive'))

#: the flag of an asynchronous assert is read back on the CPU only
_ASYNC = frozenset({'aten::_assert_async'})


class OpCount(NamedTuple):
    """What :func:`count_ops` found.

    Attributes:
        work_ops: Top-level aten ops that do work.
        host_syncs: Top-level ops (and Python reads) that sync the host.
        syncs: Host syncs by the name of the top-level op (or of the
            Python method, ``Tensor.tolist``).
    """
    work_ops: int
    host_syncs: int
    syncs: Dict[str, int]


def _subtree_names(event) -> Iterator[str]:
    yield event.name
    for child in event.cpu_children:
        yield from _subtree_names(child)


def _top_level(events) -> List:
    """The outermost aten ops, looking through the non-aten ranges
    (autograd's ``evaluate_function``, backward nodes, optimizer steps,
    ``record_function`` ranges)."""
    out = []

    def visit(event):
        if event.name.startswith('aten::'):
            out.append(event)
        else:
            for child in event.cpu_children:
                visit(child)

    for event in events:
        if event.cpu_parent is None:
            visit(event)
    return out


def _is_sync(event) -> bool:
    if event.name in _ASYNC:
        return False
    return any(name in SYNC_OPS for name in _subtree_names(event))


#: reading a value back is a sync, not a kernel
_READS = frozenset(
    ('aten::item', 'aten::is_nonzero', 'aten::_local_scalar_dense'))


def _is_work(event) -> bool:
    return any(
        name.startswith('aten::') and name not in NON_WORK_OPS
        and name not in _READS for name in _subtree_names(event))


@contextmanager
def _count_python_reads(counter: Counter) -> Iterator[None]:
    """Count ``Tensor.tolist`` / ``Tensor.numpy`` calls (no aten op on the
    CPU, a device-to-host copy on a GPU)."""
    originals = {
        name: getattr(torch.Tensor, name)
        for name in ('tolist', 'numpy')
    }

    def wrap(name, fn):

        def method(self, *args, **kwargs):
            counter[f'Tensor.{name}'] += 1
            return fn(self, *args, **kwargs)

        return method

    for name, fn in originals.items():
        setattr(torch.Tensor, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(torch.Tensor, name, fn)


def count_ops(fn: Callable[[], object]) -> OpCount:
    """Run ``fn()`` once under the CPU profiler and count its work ops and
    host syncs (see the module docstring).

    Args:
        fn: The work, e.g. ``lambda: model.train_step(batch, wrapper)``.

    Returns:
        OpCount.
    """
    reads: Counter = Counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof, \
            _count_python_reads(reads):
        fn()
    top = _top_level(prof.events())
    syncs = Counter(e.name for e in top if _is_sync(e))
    syncs.update(reads)
    return OpCount(
        work_ops=sum(_is_work(e) for e in top),
        host_syncs=sum(syncs.values()),
        syncs=dict(sorted(syncs.items())))
