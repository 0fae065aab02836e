# Copyright (c) mmhier contributors. All rights reserved.
"""Fashion-MNIST (idx files) -> image folders + mmhier annotations.

For users who prefer files to ``HierFashionMNIST``'s in-memory arrays.
Reads the official idx files (extracted or ``.gz``, e.g. Debian's
``/usr/share/datasets/fashion-mnist``) and writes, for a WordNet-derived
tree (``fixed`` or ``variable``, see ``fashion_mnist_wordnet_tree.py``)::

    OUT/fashion_mnist_<tree>.json           the tree
    OUT/train/clothing/garment/Coat/00000.png   folders = the class's path
    OUT/train.txt                           "train/.../00000.png a/b/c"
    OUT/test/... and OUT/test.txt

Load with ``HierDataset(ann_file='train.txt', data_prefix=OUT,
tree='OUT/fashion_mnist_fixed.json')``.

Example::

    python tools/dataset_converters/fashion_mnist_to_folder.py \\
        /usr/share/datasets/fashion-mnist data/fmnist_folder --tree variable
"""
import argparse
import os
import os.path as osp
import shutil
import sys

import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(osp.dirname(HERE)))

from mmpretrain.datasets.mnist import \
    read_sn3_pascalvincent_tensor  # noqa: E402

from mmhier.datasets.hier_fashion_mnist import HierFashionMNIST  # noqa: E402
from mmhier.datasets.image_folder_export import \
    export_image_folder  # noqa: E402
from mmhier.structures import ClassTree  # noqa: E402

FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def find(root: str, name: str) -> str:
    for cand in (osp.join(root, name), osp.join(root, name + '.gz')):
        if osp.isfile(cand):
            return cand
    raise FileNotFoundError(f'{name}(.gz) not found in {root}')


def convert(data_root: str,
            out_dir: str,
            tree: str = 'fixed',
            splits=('train', 'test'),
            limit: int = 0) -> dict:
    tree_file = HierFashionMNIST.TREES.get(tree, tree)
    class_tree = ClassTree.build(tree_file)
    nodes = np.array(
        [class_tree.index(n) for n in HierFashionMNIST.CLASS_NODES])
    os.makedirs(out_dir, exist_ok=True)
    name = f'fashion_mnist_{tree}.json' if tree in HierFashionMNIST.TREES \
        else osp.basename(tree_file)
    shutil.copyfile(tree_file, osp.join(out_dir, name))
    summary = {}
    for split in splits:
        img_file, label_file = (find(data_root, f) for f in FILES[split])
        imgs = read_sn3_pascalvincent_tensor(img_file, strict=False).numpy()
        labels = read_sn3_pascalvincent_tensor(
            label_file, strict=False).numpy()
        n = min(limit, len(imgs)) if limit else len(imgs)
        summary[split] = export_image_folder(imgs[:n], nodes[labels[:n]],
                                             class_tree, out_dir, split)
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('data_root', help='folder with the idx files')
    p.add_argument('out_dir')
    p.add_argument(
        '--tree', default='fixed', help="'fixed', 'variable' or a tree file")
    p.add_argument(
        '--splits',
        nargs='+',
        default=['train', 'test'],
        choices=['train', 'test'])
    p.add_argument(
        '--limit',
        type=int,
        default=0,
        help='write only the first N images of each split')
    args = p.parse_args(argv)
    convert(args.data_root, args.out_dir, args.tree, args.splits, args.limit)
    return 0


if __name__ == '__main__':
    sys.exit(main())
