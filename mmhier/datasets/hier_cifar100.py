# Copyright (c) mmhier contributors. All rights reserved.
import pickle
from typing import Any, List, Optional

import numpy as np
from mmengine.fileio import exists, get, join_path
from mmpretrain.datasets import CIFAR100
from mmpretrain.datasets.utils import check_md5
from mmpretrain.registry import DATASETS

from mmhier.structures import ClassTree
from .hier_base import InMemoryHierMixin


@DATASETS.register_module()
class HierCIFAR100(InMemoryHierMixin, CIFAR100):
    """CIFAR-100 as a two-level tree: 20 superclasses over 100 classes.

    Reads the official python pickles (``cifar-100-python/train``,
    ``test`` and ``meta``) the way mmpretrain's ``CIFAR100`` does, but keeps
    both ``coarse_labels`` and ``fine_labels``. By default the tree is built
    from the data: level 1 the ``coarse_label_names`` (in label order),
    level 2 the ``fine_label_names`` under their superclass (in label order),
    after checking that every fine class has exactly one superclass. So node
    ``c`` (0-19) is superclass ``c`` and node ``20 + k`` is the k-th fine
    class in superclass order (not fine label ``k``). Images stay in memory
    as ``img`` (uint8 HxWx3).

    Args:
        data_root: Folder holding ``cifar-100-python/``.
        split: ``'train'`` or ``'test'``.
        tree: ``None`` (build from the data) or a tree holding every fine
            class name as a node; samples get the path of their fine class.
        metainfo: Meta information; ``classes`` / ``class_tree`` come from
            the tree.
        download: Download when missing (mmpretrain's download).
        verify_md5: Check the files' md5 sums as mmpretrain does (turn off
            for re-packed or test files).
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``.
    """

    METAINFO: dict = dict()

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 tree: Any = None,
                 metainfo: Optional[dict] = None,
                 download: bool = True,
                 verify_md5: bool = True,
                 **kwargs):
        self.verify_md5 = verify_md5
        metainfo = self._prepare_metainfo(tree, metainfo,
                                          kwargs.pop('classes', None))
        super().__init__(
            data_root=data_root,
            split=split,
            metainfo=metainfo,
            download=download,
            **kwargs)

    def _path(self, name: str) -> str:
        return join_path(self.data_prefix['root'], self.base_folder, name)

    def _check_integrity(self) -> bool:
        entries = self.train_list + self.test_list + [
            (self.meta['filename'], self.meta['md5'])
        ]
        for name, md5 in entries:
            path = self._path(name)
            if not exists(path):
                return False
            if self.verify_md5 and md5 is not None and not check_md5(
                    path, md5):
                return False
        return True

    def _load_pickle(self, name: str) -> dict:
        path = self._path(name)
        data = pickle.loads(get(path), encoding='latin1')
        if not isinstance(data, dict):
            raise ValueError(f'{path}: expected a pickled dict, got '
                             f'{type(data).__name__}')
        return data

    def load_data_list(self) -> List[dict]:
        """Read images, fine and coarse labels; map them to tree nodes."""
        if not self._check_integrity():
            super().load_data_list()  # downloads or raises mmpretrain's error
        names = self.train_list if self.split == 'train' else self.test_list
        imgs, fine, coarse = [], [], []
        for name, _ in names:
            entry = self._load_pickle(name)
            missing = {'data', 'fine_labels', 'coarse_labels'} - set(entry)
            if missing:
                raise ValueError(f'{self._path(name)}: missing keys '
                                 f'{sorted(missing)} (CIFAR-100 python '
                                 'format)')
            imgs.append(entry['data'])
            fine.extend(entry['fine_labels'])
            coarse.extend(entry['coarse_labels'])
        imgs = np.vstack(imgs).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        fine = np.asarray(fine, dtype=np.int64)
        coarse = np.asarray(coarse, dtype=np.int64)
        meta = self._load_pickle(self.meta['filename'])
        fine_names = list(meta['fine_label_names'])
        coarse_names = list(meta['coarse_label_names'])
        if len(imgs) != len(fine):
            raise ValueError(f'{self._path(names[0][0])}: {len(imgs)} images '
                             f'but {len(fine)} labels')
        for what, lab, num in (('fine', fine, len(fine_names)),
                               ('coarse', coarse, len(coarse_names))):
            bad = np.flatnonzero((lab < 0) | (lab >= num))
            if bad.size:
                raise ValueError(f'{what} label {lab[bad[0]]} of image '
                                 f'{bad[0]} is not in 0..{num - 1}')
        tree = self._metainfo.get('class_tree')
        if tree is None:
            tree = self.tree_from_labels(fine, coarse, fine_names,
                                         coarse_names)
            self._set_tree(tree)
        missing = [n for n in fine_names if n not in tree]
        if missing:
            raise ValueError(f'fine classes {missing[:5]} are not nodes of '
                             f'the tree {tree!r}')
        node_of_fine = np.array([tree.index(n) for n in fine_names])
        self._check_coarse(tree, node_of_fine[fine], coarse, coarse_names)
        return self._rows_data_list(imgs, node_of_fine[fine])

    def _check_coarse(self, tree: ClassTree, nodes: np.ndarray,
                      coarse: np.ndarray, coarse_names: List[str]) -> None:
        """A given tree must place each image's class below the
        superclass of its ``coarse_labels`` entry, when the tree names the
        superclasses at all (a tree of other groupings is not checked)."""
        if not all(n in tree for n in coarse_names):
            return
        coarse_node = np.array([tree.index(n) for n in coarse_names])
        ok = (tree.path_matrix[nodes] == coarse_node[coarse][:, None]).any(1)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise ValueError(
                f'image {i}: the data puts class '
                f'{tree.names[nodes[i]]!r} under superclass '
                f'{coarse_names[coarse[i]]!r}, but the tree puts it under '
                f'{"/".join(tree.decode(tree.path(int(nodes[i]))[:-1]))!r} '
                f'({int((~ok).sum())} images disagree)')

    @staticmethod
    def tree_from_labels(fine: np.ndarray, coarse: np.ndarray,
                         fine_names: List[str],
                         coarse_names: List[str]) -> ClassTree:
        """The two-level tree implied by (fine, coarse) label pairs.

        Raises:
            ValueError: a fine class with several superclasses or with no
                sample (so no known superclass), naming it.
        """
        nf = len(fine_names)
        pairs = np.unique(fine * len(coarse_names) + coarse)
        pf, pc = pairs // len(coarse_names), pairs % len(coarse_names)
        counts = np.bincount(pf, minlength=nf)
        if (counts > 1).any():
            k = int(np.flatnonzero(counts > 1)[0])
            parents = [coarse_names[c] for c in pc[pf == k]]
            raise ValueError(f'fine class {fine_names[k]!r} appears under '
                             f'several superclasses {parents}; CIFAR-100 '
                             'gives each class exactly one')
        if (counts == 0).any():
            absent = [fine_names[k] for k in np.flatnonzero(counts == 0)]
            raise ValueError(f'fine classes {absent[:5]} have no sample, so '
                             'their superclass is unknown')
        parent = np.empty(nf, dtype=np.int64)
        parent[pf] = pc
        # Fine classes grouped by superclass, each group in label order.
        order = np.argsort(parent, kind='stable')
        names = list(coarse_names) + [fine_names[k] for k in order]
        parents = [None] * len(coarse_names) + [
            coarse_names[parent[k]] for k in order
        ]
        return ClassTree(names, parents)
