# Copyright (c) mmhier contributors. All rights reserved.
"""CIFAR-100 (official python pickles) -> image folders + mmhier annotations.

For users who prefer files to ``HierCIFAR100``'s in-memory arrays. Reads
``cifar-100-python/{train,test,meta}`` (both ``coarse_labels`` and
``fine_labels``), builds the 20 -> 100 tree from the data (each fine class
must have exactly one superclass) and writes::

    OUT/cifar100_tree.json                   the tree (ClassTree JSON)
    OUT/train/<superclass>/<class>/00000.png images, folders = tree path
    OUT/train.txt                            "train/.../00000.png a/b" lines
    OUT/test/... and OUT/test.txt

Load with ``HierDataset(ann_file='train.txt', data_prefix=OUT,
tree='OUT/cifar100_tree.json')``, or the folders alone with
``HierDataset(data_prefix='OUT/train', tree=...)``.

Example::

    python tools/dataset_converters/cifar100_to_folder.py data/cifar100 \\
        data/cifar100_folder
"""
import argparse
import os
import os.path as osp
import pickle
import sys

import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(osp.dirname(HERE)))


from mmhier.datasets.hier_cifar100 import HierCIFAR100  # noqa: E402
from mmhier.datasets.image_folder_export import \
    export_image_folder  # noqa: E402


def load_pickle(path: str) -> dict:
    with open(path, 'rb') as f:
        return pickle.load(f, encoding='latin1')


def find_folder(root: str) -> str:
    for cand in (osp.join(root, 'cifar-100-python'), root):
        if osp.isfile(osp.join(cand, 'meta')):
            return cand
    raise FileNotFoundError(f'no cifar-100-python/meta under {root}')


def convert(data_root: str,
            out_dir: str,
            splits=('train', 'test'),
            limit: int = 0) -> dict:
    folder = find_folder(data_root)
    meta = load_pickle(osp.join(folder, 'meta'))
    fine_names = list(meta['fine_label_names'])
    coarse_names = list(meta['coarse_label_names'])
    loaded = {}
    for split in splits:
        entry = load_pickle(osp.join(folder, split))
        imgs = np.asarray(entry['data']).reshape(-1, 3, 32, 32)
        loaded[split] = (imgs.transpose(0, 2, 3, 1),
                         np.asarray(entry['fine_labels'], dtype=np.int64),
                         np.asarray(entry['coarse_labels'], dtype=np.int64))
    # One tree for all splits, from all their labels.
    fine = np.concatenate([v[1] for v in loaded.values()])
    coarse = np.concatenate([v[2] for v in loaded.values()])
    tree = HierCIFAR100.tree_from_labels(fine, coarse, fine_names,
                                         coarse_names)
    os.makedirs(out_dir, exist_ok=True)
    tree.save(osp.join(out_dir, 'cifar100_tree.json'))
    node_of_fine = np.array([tree.index(n) for n in fine_names])
    summary = {}
    for split, (imgs, fine, _) in loaded.items():
        n = min(limit, len(imgs)) if limit else len(imgs)
        summary[split] = export_image_folder(imgs[:n],
                                             node_of_fine[fine[:n]], tree,
                                             out_dir, split)
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('data_root', help='folder holding cifar-100-python/')
    p.add_argument('out_dir')
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
    convert(args.data_root, args.out_dir, args.splits, args.limit)
    return 0


if __name__ == '__main__':
    sys.exit(main())
