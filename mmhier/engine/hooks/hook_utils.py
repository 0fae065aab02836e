# Copyright (c) mmhier contributors. All rights reserved.
"""What the data hooks share: the datasets behind a dataloader."""
from typing import Any, Iterator, Optional, Tuple

from mmengine.model import is_model_wrapper

#: The runner's dataloader and loop of each phase.
PHASES = {
    'train': 'train_loop',
    'val': 'val_loop',
    'test': 'test_loop',
}


def iter_datasets(dataset: Any, key: str) -> Iterator[Tuple[str, Any]]:
    """``(config key, dataset)`` of ``dataset`` and of the datasets that a
    wrapper (``ConcatDataset``, ``RepeatDataset``, ``ClassBalancedDataset``)
    holds, innermost last."""
    yield key, dataset
    inner = getattr(dataset, 'datasets', None)
    if isinstance(inner, (list, tuple)):
        for i, d in enumerate(inner):
            yield from iter_datasets(d, f'{key}.datasets[{i}]')
    elif getattr(dataset, 'dataset', None) is not None:
        yield from iter_datasets(dataset.dataset, f'{key}.dataset')


def phase_datasets(runner: Any, phase: str) -> Iterator[Tuple[str, Any]]:
    """``(config key, dataset)`` of every dataset of the phase's dataloader
    (``'train'``, ``'val'`` or ``'test'``), once its loop is built."""
    loop = getattr(runner, f'_{PHASES[phase]}', None)
    dataloader = getattr(loop, 'dataloader', None)
    dataset: Optional[Any] = getattr(dataloader, 'dataset', None)
    if dataset is None:
        return
    yield from iter_datasets(dataset, f'{phase}_dataloader.dataset')


def unwrap(model: Any) -> Any:
    """The model inside a DDP (or other) wrapper."""
    return model.module if is_model_wrapper(model) else model
