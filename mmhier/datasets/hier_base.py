# Copyright (c) mmhier contributors. All rights reserved.
"""Tree handling shared by every hierarchical dataset of mmhier."""
import pickle
from typing import Any, List, Mapping, Optional, Tuple

import numpy as np
from mmengine.fileio import list_from_file
from mmengine.logging import MMLogger

from mmhier.structures import ClassTree
from .label_parsing import last_known_nodes


def log_summary(dataset: Any,
                source: str,
                depth: np.ndarray,
                skipped: int = 0) -> None:
    """Log the number of samples annotated down to each level.

    Args:
        dataset: The dataset (for its name and tree).
        source: Where the samples came from.
        depth: Deepest annotated level of each sample.
        skipped: Samples dropped with ``on_error='skip'``.
    """
    tree = dataset._metainfo['class_tree']
    per_depth = np.bincount(depth, minlength=tree.max_depth + 1)
    per_level = per_depth[::-1].cumsum()[::-1][1:]
    MMLogger.get_current_instance().info(
        f'{type(dataset).__name__}: {len(depth)} samples from {source}, per '
        f'level {per_level.tolist()}' +
        (f', {skipped} skipped' if skipped else ''))


def check_classes(classes: Any, tree: ClassTree) -> None:
    """Refuse ``classes`` that are not the tree's node names in order."""
    if classes is not None and list(classes) != list(tree.names):
        raise ValueError(
            f'classes ({len(classes)} names, first {list(classes)[:3]}) do '
            f'not match the class tree nodes ({tree.num_nodes} names in '
            f'index order, first {tree.names[:3]}); leave classes out, they '
            'come from the tree')


class HierDatasetMixin:
    """Class-tree plumbing for mmpretrain datasets.

    Mixed in before an mmpretrain dataset class (``class X(HierDatasetMixin,
    BaseDataset)``). It takes the tree from the ``tree=`` argument or from
    ``metainfo['tree']`` (anything :meth:`ClassTree.build` accepts), and
    puts ``classes`` (the N node names in index order) and ``class_tree``
    (the :class:`ClassTree`) in the dataset's metainfo, as the design asks.
    Every ``data_info`` holds ``gt_label`` (int: last annotated node of the
    first path, so mmpretrain's tools keep a flat meaning) and ``gt_path``
    (int64 ``(P, T)``, padded with ``PATH_END`` / ``PATH_UNKNOWN``).
    """

    @staticmethod
    def _prepare_metainfo(tree: Any,
                          metainfo: Optional[Mapping],
                          classes: Any = None) -> dict:
        """Metainfo with the tree built, ready for ``BaseDataset.__init__``.

        The tree leaves ``metainfo`` first (mmengine would read a string
        ``metainfo['tree']`` as a list of lines); when a tree is given,
        ``class_tree`` and ``classes`` are set from it, after checking any
        ``classes`` the user gave.

        Args:
            tree: The ``tree=`` argument (or ``None``).
            metainfo: The ``metainfo=`` argument; may hold ``tree`` or
                ``class_tree``.
            classes: mmpretrain's ``classes=`` argument, if any.
        """
        metainfo = dict(metainfo or {})
        sources = {
            k: metainfo.pop(k)
            for k in ('tree', 'class_tree') if metainfo.get(k) is not None
        }
        if tree is not None:
            sources = {'tree=': tree, **sources}
        if len(sources) > 1:
            raise ValueError('the class tree is given more than once ('
                             f'{", ".join(sources)}); give it once')
        if isinstance(classes, str):
            classes = list_from_file(classes)
        if classes is not None:
            metainfo.setdefault('classes', tuple(classes))
        if sources:
            class_tree = ClassTree.build(next(iter(sources.values())))
            check_classes(metainfo.get('classes'), class_tree)
            metainfo['class_tree'] = class_tree
            metainfo['classes'] = tuple(class_tree.names)
        return metainfo

    def _set_tree(self, tree: ClassTree) -> None:
        """Store a tree found at load time, checking any ``classes``."""
        check_classes(self._metainfo.get('classes'), tree)
        self._metainfo['class_tree'] = tree
        self._metainfo['classes'] = tuple(tree.names)

    @property
    def class_tree(self) -> ClassTree:
        """The dataset's :class:`ClassTree`."""
        tree = self._metainfo.get('class_tree')
        if tree is None:
            self.full_init()  # the tree may come with the annotation file
            tree = self._metainfo.get('class_tree')
        return tree

    def get_cat_ids(self, idx: int) -> List[int]:
        """Node indices a sample is labelled with (the last annotated node
        of each of its paths), as ``ClassBalancedDataset`` expects."""
        nodes = last_known_nodes(self.get_data_info(idx)['gt_path'])
        return sorted(set(int(n) for n in nodes))

    def get_gt_paths(self) -> List[np.ndarray]:
        """The ``(P, T)`` ``gt_path`` array of every sample."""
        if not self.serialize_data:
            return [info['gt_path'] for info in self.data_list]
        return [self.get_data_info(i)['gt_path'] for i in range(len(self))]

    def _all_paths(self) -> Tuple[np.ndarray, np.ndarray]:
        """All paths stacked ``(M, T)`` and the sample of each ``(M,)``."""
        paths = self.get_gt_paths()
        if not paths:
            t = self.class_tree.max_depth
            return np.zeros((0, t), np.int64), np.zeros(0, np.int64)
        rows = np.array([len(p) for p in paths])
        return (np.concatenate(paths,
                               axis=0), np.repeat(np.arange(len(paths)), rows))

    def _path_pairs(self) -> Tuple[np.ndarray, np.ndarray]:
        """Annotated (sample, node) pairs, each once per sample."""
        flat, owner = self._all_paths()
        owner = np.broadcast_to(owner[:, None], flat.shape)
        known = flat >= 0
        if len(owner) and (np.diff(owner[:, 0]) > 0).all():
            # One path per sample: the nodes of a path are distinct.
            return owner[known], flat[known]
        n = self.class_tree.num_nodes
        pairs = np.unique(owner[known] * n + flat[known])
        return pairs // n, pairs % n

    def node_counts(self) -> np.ndarray:
        """Int64 ``(N,)``: number of samples whose paths pass through each
        node (the annotated part only)."""
        _, nodes = self._path_pairs()
        return np.bincount(nodes, minlength=self.class_tree.num_nodes)

    def level_counts(self) -> np.ndarray:
        """Int64 ``(T,)``: number of samples annotated down to at least
        level ``t + 1`` (depth of their deepest annotated node >= t + 1)."""
        tree = self.class_tree
        samples, nodes = self._path_pairs()
        depths = tree.depths[nodes]
        pairs = np.unique(samples * (tree.max_depth + 1) + depths)
        return np.bincount(
            pairs % (tree.max_depth + 1), minlength=tree.max_depth + 1)[1:]


class InMemoryHierMixin(HierDatasetMixin):
    """For datasets read whole into memory (Fashion-MNIST, CIFAR).

    The images and the node of each sample live in two arrays;
    ``data_list`` only holds row numbers. Pickling 60,000 dicts of numpy
    arrays (mmengine's ``serialize_data``) takes seconds, a list of row
    numbers milliseconds, and workers share the arrays.
    ``get_data_info`` returns the usual ``img`` (a copy), ``gt_label`` and
    ``gt_path``.
    """

    def _rows_data_list(self, imgs: np.ndarray,
                        nodes: np.ndarray) -> List[dict]:
        """Keep the arrays and return the row-number data list."""
        self._imgs = imgs
        self._nodes = np.asarray(nodes, dtype=np.int64)
        tree = self._metainfo['class_tree']
        log_summary(self, self.data_prefix['root'], tree.depths[self._nodes])
        return [{'row': i} for i in range(len(self._nodes))]

    def _rows(self) -> np.ndarray:
        """Row of every sample (after ``indices`` / ``get_subset``)."""
        if not self.serialize_data:
            return np.array([info['row'] for info in self.data_list],
                            dtype=np.int64)
        # Unpickle the serialized infos directly: get_data_info costs ten
        # times more per call.
        ends = self.data_address.tolist()
        starts = [0] + ends[:-1]
        buf = memoryview(self.data_bytes)
        return np.array(
            [pickle.loads(buf[s:e])['row'] for s, e in zip(starts, ends)],
            dtype=np.int64)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        row = info.pop('row')
        node = int(self._nodes[row])
        info['img'] = self._imgs[row].copy()
        info['gt_label'] = node
        info['gt_path'] = self.class_tree.path_matrix[node][None].copy()
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        row = super(InMemoryHierMixin, self).get_data_info(idx)['row']
        return [int(self._nodes[row])]

    def get_gt_labels(self) -> np.ndarray:
        """Node index of every sample (mmpretrain's flat labels)."""
        return self._nodes[self._rows()]

    def get_gt_paths(self) -> List[np.ndarray]:
        pm = self.class_tree.path_matrix
        return list(pm[self.get_gt_labels()][:, None, :])

    def _all_paths(self) -> Tuple[np.ndarray, np.ndarray]:
        nodes = self.get_gt_labels()
        return self.class_tree.path_matrix[nodes], np.arange(len(nodes))
