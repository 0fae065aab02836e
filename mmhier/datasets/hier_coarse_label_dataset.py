# Copyright (c) mmhier contributors. All rights reserved.
"""Partially labelled training data: fine paths for a few, coarse for many."""
import copy
from typing import Any, List, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmpretrain.registry import DATASETS

from mmhier.structures import PATH_UNKNOWN
from .label_parsing import last_known_nodes

#: what ``HierCoarseLabelDataset`` keeps
KEEP = ('all', 'fine')


@DATASETS.register_module()
class HierCoarseLabelDataset:
    """Keep the full path of a fraction of the samples, a coarse prefix of
    the others (the setting of Guo et al., section 4.2).

    For each class (the label node of a sample), a seeded ``fine_fraction``
    of its samples keeps its full path (at least one sample per class when
    ``fine_fraction > 0``). The others keep only the first ``coarse_depth``
    nodes, followed by ``PATH_UNKNOWN``: the annotation ``a/b/*`` of a text
    file, which losses read as "somewhere below b". Paths no deeper than
    ``coarse_depth`` are complete either way and stay as they are.

    ``keep='fine'`` drops the coarse samples instead: the training set of a
    flat model that can only use fine labels.

    ``fine_repeat=r`` lists every fine sample ``r`` times per epoch (the
    coarse ones once), so that the few full paths are not drowned by the
    many coarse ones: at ``fine_fraction=0.1`` and ``r=3`` a quarter of an
    epoch's samples are fine instead of a tenth, as semi-supervised
    training draws labelled and unlabelled batches at a fixed ratio.

    Args:
        dataset (dict | BaseDataset): A hierarchical dataset (its
            ``get_data_info`` gives ``gt_path`` and ``gt_label``) or its
            config.
        fine_fraction (float): Share of each class that keeps its full path,
            in ``[0, 1]``.
        coarse_depth (int): Depth of the coarse prefix. Defaults to 2.
        seed (int): Seed of the choice of fine samples. Defaults to 0.
        keep (str): ``'all'`` or ``'fine'``. Defaults to ``'all'``.
        fine_repeat (int): How often each fine sample is listed per epoch.
            Defaults to 1.

    Examples:
        >>> train = dict(type='HierCoarseLabelDataset', fine_fraction=0.1,
        ...              dataset=dict(type='HierFashionMNIST', ...))
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 fine_fraction: float,
                 coarse_depth: int = 2,
                 seed: int = 0,
                 keep: str = 'all',
                 fine_repeat: int = 1) -> None:
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset
        if not 0. <= float(fine_fraction) <= 1.:
            raise ValueError(f'fine_fraction is a share in [0, 1], got '
                             f'{fine_fraction!r}')
        if not isinstance(coarse_depth, int) or coarse_depth < 1:
            raise ValueError(f'coarse_depth must be an int >= 1, got '
                             f'{coarse_depth!r}')
        if keep not in KEEP:
            raise ValueError(f'keep must be one of {KEEP}, got {keep!r}')
        if not isinstance(fine_repeat, int) or fine_repeat < 1:
            raise ValueError(f'fine_repeat must be an int >= 1, got '
                             f'{fine_repeat!r}')
        self.fine_fraction = float(fine_fraction)
        self.coarse_depth = coarse_depth
        self.seed = seed
        self.keep = keep
        self.fine_repeat = fine_repeat
        self.fine = self._choose_fine()
        fine_idx = np.flatnonzero(self.fine)
        base = fine_idx if keep == 'fine' else np.arange(len(self.fine))
        self.indices = np.concatenate([base] + [fine_idx] * (fine_repeat - 1))
        depths = self.class_tree.depths[self._labels]
        coarse = (~self.fine) & (depths > coarse_depth)
        print_log(
            f'{type(self).__name__}: {int(self.fine.sum())} of '
            f'{len(self.fine)} samples keep their full path (fine_fraction='
            f'{self.fine_fraction}, seed {seed}); {int(coarse.sum())} are cut '
            f'to depth {coarse_depth}; keep={keep!r}, fine_repeat='
            f'{fine_repeat}: {len(self)} samples per epoch',
            logger='current')

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    @property
    def class_tree(self):
        return self.dataset.class_tree

    @property
    def pipeline(self):
        return self.dataset.pipeline

    def _label_nodes(self) -> np.ndarray:
        if hasattr(self.dataset, 'get_gt_labels'):
            return np.asarray(self.dataset.get_gt_labels(), dtype=np.int64)
        return np.array(
            [last_known_nodes(p)[0] for p in self.dataset.get_gt_paths()],
            dtype=np.int64)

    def _choose_fine(self) -> np.ndarray:
        """Bool ``(len(dataset),)``: the samples that keep their full
        path, a seeded share of each class."""
        self._labels = self._label_nodes()
        rng = np.random.default_rng(self.seed)
        fine = np.zeros(len(self._labels), dtype=bool)
        if self.fine_fraction == 0:
            return fine
        for node in np.unique(self._labels):
            members = np.flatnonzero(self._labels == node)
            count = max(1, int(round(self.fine_fraction * len(members))))
            fine[rng.permutation(members)[:count]] = True
        return fine

    def full_init(self) -> None:
        self.dataset.full_init()

    def _cut(self, path: np.ndarray) -> np.ndarray:
        """A ``(P, T)`` path array cut to its first ``coarse_depth`` nodes
        (rows no deeper than that stay whole)."""
        path = np.array(path, copy=True)
        deeper = path[:, self.coarse_depth:]
        deeper[(deeper >= 0).any(-1)] = PATH_UNKNOWN
        return path

    def get_data_info(self, idx: int) -> dict:
        """The wrapped sample's info, its path cut unless it is fine."""
        index = int(self.indices[idx])
        info = self.dataset.get_data_info(index)
        if not self.fine[index]:
            info['gt_path'] = self._cut(info['gt_path'])
            info['gt_label'] = int(last_known_nodes(info['gt_path'])[0])
        return info

    def get_gt_paths(self) -> List[np.ndarray]:
        """The ``(P, T)`` ``gt_path`` of every sample (no image is read)."""
        paths = self.dataset.get_gt_paths()
        return [
            paths[i] if self.fine[i] else self._cut(paths[i])
            for i in self.indices
        ]

    def __getitem__(self, idx: int) -> Any:
        return self.pipeline(self.get_data_info(idx))

    def __len__(self) -> int:
        return len(self.indices)
