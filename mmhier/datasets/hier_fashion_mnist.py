# Copyright (c) mmhier contributors. All rights reserved.
import os.path as osp
from typing import Any, List, Optional, Sequence

import numpy as np
from mmengine.dist import barrier, is_main_process
from mmengine.fileio import exists, get_file_backend, join_path
from mmengine.fileio.backends import LocalBackend
from mmpretrain.datasets import FashionMNIST
from mmpretrain.datasets.mnist import read_sn3_pascalvincent_tensor
from mmpretrain.datasets.utils import rm_suffix
from mmpretrain.registry import DATASETS

from .hier_base import InMemoryHierMixin

TREE_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'trees')
#: The environment variable the Fashion-MNIST configs read data_root from.
DATA_ENV = 'FASHION_MNIST_DIR'
#: Where Debian's ``dataset-fashion-mnist`` package puts the files.
DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are not where the config says; the message says
    where they were expected and how to get them."""


@DATASETS.register_module()
class HierFashionMNIST(InMemoryHierMixin, FashionMNIST):
    """Fashion-MNIST with its classes placed in a WordNet-derived tree.

    Reads the four official idx files with mmpretrain's loader, either
    extracted or gzipped (``*-ubyte.gz``, as Debian's
    ``dataset-fashion-mnist`` installs them in
    ``/usr/share/datasets/fashion-mnist``). The images stay in memory as
    ``img`` (uint8 28x28), like mmpretrain's ``FashionMNIST``.

    Trees (``tree=``), derived from WordNet 3.0 by
    ``tools/dataset_converters/fashion_mnist_wordnet_tree.py``:

    - ``'fixed'``: depth 3, every class a leaf at level 3
      (clothing / footwear / container -> garment, woman's_clothing, shoe,
      boot, bag -> the 10 classes); 18 nodes.
    - ``'variable'``: WordNet followed literally (single-child synsets
      removed): leaves at levels 1 to 5, and ``Shirt`` is an inner node
      (parent of ``T-shirt_top``); 15 nodes.
    - any tree accepted by :meth:`ClassTree.build` holding the nodes named
      in ``class_nodes``.

    ``gt_label`` is the node index of the class (not the 0-9 label),
    ``gt_path`` its ``(1, T)`` path.

    Args:
        data_root: Folder with the idx files.
        split: ``'train'`` (60,000 images) or ``'test'`` (10,000). Unlike
            mmpretrain 1.2.0's ``FashionMNIST``, the split (not
            ``test_mode``) picks the files.
        tree: ``'fixed'``, ``'variable'`` or a tree.
        class_nodes: Node name of each of the 10 labels, in label order.
            Defaults to :attr:`CLASS_NODES`.
        metainfo: Meta information; ``classes`` / ``class_tree`` come from
            the tree.
        download: Download the files when missing (mmpretrain's download).
            Missing files that cannot be downloaded (offline) raise one
            :class:`DataNotFoundError` saying where they were expected and
            how to get them, without the download's traceback.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``.
    """

    METAINFO: dict = dict()
    #: The node name of each Fashion-MNIST label (``/`` is replaced since it
    #: joins the parts of path labels).
    CLASS_NODES = ('T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                   'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
    TREES = {
        'fixed': osp.join(TREE_DIR, 'fashion_mnist_fixed.json'),
        'variable': osp.join(TREE_DIR, 'fashion_mnist_variable.json'),
    }

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 tree: Any = 'fixed',
                 class_nodes: Optional[Sequence[str]] = None,
                 metainfo: Optional[dict] = None,
                 download: bool = True,
                 **kwargs):
        if isinstance(tree, str) and tree in self.TREES:
            tree = self.TREES[tree]
        self.class_nodes = tuple(class_nodes or self.CLASS_NODES)
        if len(self.class_nodes) != 10:
            raise ValueError('class_nodes must name 10 nodes (one per '
                             f'Fashion-MNIST label), got {self.class_nodes}')
        metainfo = self._prepare_metainfo(tree, metainfo,
                                          kwargs.pop('classes', None))
        if metainfo.get('class_tree') is None:
            raise ValueError("HierFashionMNIST needs a tree: 'fixed', "
                             "'variable' or a tree file / dict")
        tree = metainfo['class_tree']
        unknown = [n for n in self.class_nodes if n not in tree]
        if unknown:
            raise ValueError(f'class_nodes {unknown} are not nodes of the '
                             f'tree {tree!r}')
        super().__init__(
            data_root=data_root,
            split=split,
            metainfo=metainfo,
            download=download,
            **kwargs)

    def _file(self, name: str) -> str:
        """The extracted idx file if present, else the ``.gz`` one."""
        root = self.data_prefix['root']
        plain = join_path(root, rm_suffix(name))
        return plain if exists(plain) else join_path(root, name)

    def _check_exists(self) -> bool:
        return all(
            exists(self._file(name))
            for name, _ in self.train_list + self.test_list)

    def load_data_list(self) -> List[dict]:
        """Read images and labels; map labels to tree paths (vectorised)."""
        if not self._check_exists():
            self._download_or_explain()
        files = self.train_list if self.split == 'train' else self.test_list
        imgs = read_sn3_pascalvincent_tensor(
            self._file(files[0][0]), strict=False).numpy()
        labels = read_sn3_pascalvincent_tensor(
            self._file(files[1][0]), strict=False).numpy().astype(np.int64)
        if imgs.ndim != 3 or labels.ndim != 1 or len(imgs) != len(labels):
            raise ValueError(
                f'{self._file(files[0][0])}: expected N x 28 x 28 images and '
                f'N labels, got shapes {imgs.shape} and {labels.shape}')
        bad = np.flatnonzero((labels < 0) | (labels > 9))
        if bad.size:
            raise ValueError(f'{self._file(files[1][0])}: label '
                             f'{labels[bad[0]]} at position {bad[0]} is not '
                             'in 0..9')
        tree = self._metainfo['class_tree']
        nodes = np.array([tree.index(n) for n in self.class_nodes])[labels]
        return self._rows_data_list(imgs, nodes)

    def _download_or_explain(self) -> None:
        """Download the missing files if allowed, else (or when that fails)
        raise one :class:`DataNotFoundError` with what to do."""
        root = self.data_prefix['root']
        failure = None
        local = isinstance(
            get_file_backend(root, enable_singleton=True), LocalBackend)
        if self.download and local and is_main_process():
            try:
                self._download()
            except Exception as e:  # noqa: BLE001 - offline, md5, disk ...
                failure = f'{type(e).__name__}: {e}'
        barrier()  # the other ranks wait for rank 0's download
        if self._check_exists():
            return
        names = ', '.join(name for name, _ in self.train_list +
                          self.test_list)
        if not self.download:
            tried = 'download=False, so nothing was downloaded'
        elif failure is not None:
            tried = f'the download from {self.url_prefix} failed ({failure})'
        else:
            tried = 'the download left the files incomplete'
        raise DataNotFoundError(
            f'Cannot find the Fashion-MNIST files in {osp.abspath(root)!r} '
            f'(data_root={root!r}): expected the four idx files {names} '
            '(gzipped or extracted). Put them there, or point the configs '
            f'at the folder that holds them: export {DATA_ENV}=/path/to/'
            'fashion-mnist (the configs read data_root from it). To get '
            'the files: on Debian, `sudo apt-get install '
            f'dataset-fashion-mnist` puts them in {DEBIAN_DIR} (or run '
            'tools/get_fashion_mnist.sh); when online, download=True '
            f'fetches them from {self.url_prefix}. Here {tried}.') from None
