# Copyright (c) mmhier contributors. All rights reserved.
"""A folder of images in class folders nested like the tree -> a tree file,
train / val / test annotation files for ``HierDataset``.

Input: every image lies in the folder of its class, and the folders nest
like the class tree (an image directly in an inner folder is labelled with
that inner node, as in ``HierDataset``'s folder layout)::

    IN/clothing/garment/Coat/0001.jpg
    IN/clothing/garment/Shirt/0002.jpg
    IN/footwear/Sneaker/0003.jpg

Output, the layout of ``configs/_base_/datasets/custom_hier.py``::

    OUT/tree.json                   the folders as a class tree
    OUT/train.txt val.txt test.txt  "image<TAB>clothing/garment/Coat" lines
    OUT/images                      a link to IN (--copy: a copy of it)

The split is drawn per class with ``--seed``, so every class keeps its
share of ``--val`` and ``--test`` images and at least one training image.
Node names must be unique in the tree (``ClassTree``); two folders of the
same name under different parents are refused with both paths named.

Example::

    python tools/dataset_converters/folder_to_hier.py my_images \\
        data/custom_hier --val 0.1 --test 0.1
"""
import argparse
import os
import os.path as osp
import random
import shutil
import sys
from typing import Dict, List, Optional

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(osp.dirname(HERE)))

from mmhier.structures import ClassTree  # noqa: E402

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def scan(root: str) -> Dict[str, List[str]]:
    """Label path (``a/b/c``) -> image paths relative to ``root``."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'{root} is not a folder')
    by_label: Dict[str, List[str]] = {}
    loose = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        rel_dir = osp.relpath(dirpath, root)
        for name in sorted(filenames):
            if not name.lower().endswith(IMG_EXTENSIONS):
                continue
            if rel_dir == '.':
                loose.append(name)
                continue
            label = rel_dir.replace(os.sep, '/')
            by_label.setdefault(label, []).append(f'{label}/{name}')
    if loose:
        raise ValueError(f'{len(loose)} images lie in {root} itself, outside '
                         f'any class folder (e.g. {loose[0]!r}): move them '
                         'into the folder of their class')
    if not by_label:
        raise ValueError(f'no image ({", ".join(IMG_EXTENSIONS)}) under '
                         f'{root}')
    return by_label


def split(by_label: Dict[str, List[str]], val: float, test: float,
          seed: int) -> Dict[str, List[tuple]]:
    """Per-class random split; every class keeps a training image."""
    if val < 0 or test < 0 or val + test >= 1:
        raise ValueError(f'--val {val} and --test {test} must be >= 0 and '
                         'leave a share for training')
    rng = random.Random(seed)
    out: Dict[str, List[tuple]] = dict(train=[], val=[], test=[])
    for label in sorted(by_label):
        files = list(by_label[label])
        rng.shuffle(files)
        n = len(files)
        n_val = min(int(round(n * val)), n - 1)
        n_test = min(int(round(n * test)), n - 1 - n_val)
        parts = dict(
            val=files[:n_val],
            test=files[n_val:n_val + n_test],
            train=files[n_val + n_test:])
        for name, chunk in parts.items():
            out[name] += [(f, label) for f in sorted(chunk)]
    return out


def write_ann(path: str, samples: List[tuple]) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        for img, label in samples:
            f.write(f'{img}\t{label}\n')


def convert(in_dir: str,
            out_dir: str,
            val: float = 0.1,
            test: float = 0.1,
            seed: int = 0,
            copy: bool = False) -> dict:
    by_label = scan(in_dir)
    tree = ClassTree.from_paths(sorted(by_label), source=in_dir)
    splits = split(by_label, val, test, seed)
    os.makedirs(out_dir, exist_ok=True)
    tree.save(osp.join(out_dir, 'tree.json'))

    images = osp.join(out_dir, 'images')
    if osp.realpath(images) != osp.realpath(in_dir):
        if osp.islink(images) or osp.isfile(images):
            os.remove(images)
        elif osp.isdir(images):
            shutil.rmtree(images)
        if copy:
            shutil.copytree(in_dir, images)
        else:
            os.symlink(osp.abspath(in_dir), images)
    test_is_val = not splits['test']
    if test_is_val:
        # the configs read test.txt too: validate and test on the same set
        splits['test'] = splits['val']
    for name, samples in splits.items():
        write_ann(osp.join(out_dir, f'{name}.txt'), samples)
    counts = {name: len(s) for name, s in splits.items()}
    print(f'{in_dir}: {sum(len(v) for v in by_label.values())} images in '
          f'{len(by_label)} classes -> {tree}')
    print(f'wrote {osp.join(out_dir, "tree.json")}, images '
          f'{"copied" if copy else "linked"} as {images}')
    for name, n in counts.items():
        same = ' (the val images)' if name == 'test' and test_is_val else ''
        print(f'{name}: {n} images{same} -> '
              f'{osp.join(out_dir, name + ".txt")}')
    return dict(classes=len(by_label), nodes=tree.num_nodes, **counts)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument(
        'in_dir', help='folder of class folders nested like the '
        'tree')
    p.add_argument(
        'out_dir',
        help='where tree.json, train/val/test.txt and '
        'images go (e.g. data/custom_hier)')
    p.add_argument(
        '--val',
        type=float,
        default=0.1,
        help='share of each '
        'class for validation (default 0.1)')
    p.add_argument(
        '--test',
        type=float,
        default=0.1,
        help='share of each '
        'class for test (default 0.1; 0: test on the val set)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument(
        '--copy',
        action='store_true',
        help='copy the images to '
        'OUT/images instead of linking to IN')
    args = p.parse_args(argv)
    convert(args.in_dir, args.out_dir, args.val, args.test, args.seed,
            args.copy)
    return 0


if __name__ == '__main__':
    sys.exit(main())
