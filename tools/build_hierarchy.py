# Copyright (c) mmhier contributors. All rights reserved.
"""Build a class tree for HierNet from a trained flat model's confusions.

Section 4 of the HierNet paper (Tempfli and Sandor): the confusion
probability matrix (CPM) of a flat model on validation data gives the
proximity of classes; an agglomerative grouping with a minimum proximity
``p_min`` and a maximum group size ``g_max`` makes the super-classes.

Input, one of:

- the results of ``tools/test.py CONFIG CKPT --out results.pkl`` (a list of
  dicts with ``pred_score`` and ``gt_label``), run on validation data;
- a saved CPM, ``.npy`` of shape ``(C, C)``.

Class names (``--classes``): a names file (``.txt``, one per line), a tree
file (``.json``/``.tsv``/``.csv``; a flat tree, or a deeper tree whose
leaves are the classes, with results over all its nodes), or the name of an
mmpretrain dataset type such as ``CIFAR100``; default ``class_0, ...``.

Examples::

    python tools/test.py configs/.../resnet_cifar100.py ckpt.pth \\
        --out work_dirs/val_results.pkl
    python tools/build_hierarchy.py work_dirs/val_results.pkl \\
        --classes CIFAR100 --p-min 0.0075 --g-max 50 \\
        --out data/cifar100_hiernet_tree.json --save-cpm cpm.npy
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import numpy as np  # noqa: E402

from mmhier.models.classifiers.grouping import (  # noqa: E402
    SINGLETONS, build_group_tree, confusion_probability_matrix,
    describe_groups, tree_leaves)
from mmhier.structures import ClassTree  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Group classes into a HierNet class tree from the '
        'confusions of a flat model (HierNet, section 4)')
    parser.add_argument(
        'input', help='results .pkl of tools/test.py --out, or a CPM .npy')
    parser.add_argument(
        '--out', required=True, help='tree file to write (.json or .tsv)')
    parser.add_argument(
        '--classes',
        help='names file (.txt), tree file, or an mmpretrain dataset type '
        '(e.g. CIFAR100)')
    parser.add_argument(
        '--p-min',
        type=float,
        nargs='+',
        default=[0.0075],
        help='minimum proximity of merged groups; several values build '
        'sub-groups, coarse level first (default 0.0075, the paper)')
    parser.add_argument(
        '--g-max',
        type=int,
        nargs='+',
        default=[50],
        help='maximum group size, one value or one per --p-min '
        '(default 50, the paper)')
    parser.add_argument(
        '--balance',
        type=float,
        default=0.0,
        help='size penalty: merge the pair maximising proximity / '
        'size**balance (0 = the paper; 1 favours balanced groups)')
    parser.add_argument(
        '--singletons',
        choices=SINGLETONS,
        default='group',
        help="'group': a class left alone still gets a group node (fixed "
        "depth); 'leaf': it hangs under the root (variable depth)")
    parser.add_argument(
        '--group-prefix', default='group', help='names of the group nodes')
    parser.add_argument(
        '--logits',
        action='store_true',
        help='pred_score holds logits: apply a softmax first')
    parser.add_argument('--save-cpm', help='also save the CPM as .npy')
    return parser.parse_args(argv)


def load_class_names(spec: Optional[str],
                     num: int) -> Tuple[List[str], Optional[ClassTree]]:
    """Class names, and the tree when ``spec`` is a deeper tree file."""
    if spec is None:
        return [f'class_{i}' for i in range(num)], None
    if osp.isfile(spec):
        if spec.endswith('.txt'):
            with open(spec, encoding='utf-8') as f:
                return [ln.strip() for ln in f if ln.strip()], None
        tree = ClassTree.load(spec)
        if tree.max_depth == 1:
            return list(tree.names), None
        return [tree.names[i] for i in tree.leaves], tree
    from mmpretrain.registry import DATASETS
    try:
        dataset = DATASETS.get(spec)
    except KeyError:
        dataset = None
    classes = getattr(dataset, 'METAINFO', {}).get('classes')
    if classes is None:
        raise ValueError(f'--classes {spec!r} is neither a file nor an '
                         'mmpretrain dataset type with METAINFO classes')
    return list(classes), None


def load_results(path: str, tree: Optional[ClassTree],
                 logits: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Scores ``(M, C)`` and labels ``(M,)`` from a test.py results file;
    with a deeper tree, restricted to its leaves."""
    import mmengine
    results = mmengine.load(path)
    if not isinstance(results, (list, tuple)) or not results:
        raise ValueError(f'{path}: expected a non-empty list of results')
    missing = [k for k in ('pred_score', 'gt_label') if k not in results[0]]
    if missing:
        raise ValueError(f'{path}: results lack {missing}; dump them with '
                         'tools/test.py --out from a model that sets '
                         'pred_score')
    scores = np.stack(
        [np.asarray(r['pred_score'], np.float64) for r in results])
    labels = np.array(
        [int(np.asarray(r['gt_label']).reshape(-1)[0]) for r in results])
    if logits:
        scores = np.exp(scores - scores.max(1, keepdims=True))
        scores /= scores.sum(1, keepdims=True)
    if tree is not None:
        if scores.shape[1] != tree.num_nodes:
            raise ValueError(
                f'{path}: scores have {scores.shape[1]} columns, but the '
                f'tree of --classes has {tree.num_nodes} nodes')
        keep = tree.is_leaf[labels]
        if not keep.all():
            print(f'dropping {int((~keep).sum())} samples whose label is '
                  'not a leaf')
        position = np.full(tree.num_nodes, -1)
        position[tree.leaves] = np.arange(len(tree.leaves))
        scores, labels = scores[keep][:, tree.leaves], position[labels[keep]]
    return scores, labels


def main(argv: Optional[List[str]] = None) -> ClassTree:
    args = parse_args(argv)
    if args.input.endswith('.npy'):
        cpm = np.load(args.input)
        names, _ = load_class_names(args.classes, len(cpm))
    else:
        if not osp.isfile(args.input):
            raise FileNotFoundError(f'no results file {args.input}')
        names, tree = load_class_names(args.classes, 0)
        scores, labels = load_results(args.input, tree, args.logits)
        if args.classes is None:
            names, _ = load_class_names(None, scores.shape[1])
        sums = scores.sum(1)
        if not np.allclose(sums, 1.0, atol=1e-3):
            print('warning: score rows sum to '
                  f'{sums.min():.3f}..{sums.max():.3f}, not 1; pass '
                  '--logits if they are logits')
        cpm = confusion_probability_matrix(scores, labels, len(names))
    if cpm.shape != (len(names), len(names)):
        raise ValueError(f'the CPM is {cpm.shape} but there are '
                         f'{len(names)} class names')
    if args.save_cpm:
        np.save(args.save_cpm, cpm)
        print(f'saved the CPM to {args.save_cpm}')

    p_min = args.p_min if len(args.p_min) > 1 else args.p_min[0]
    g_max = args.g_max if len(args.g_max) > 1 else args.g_max[0]
    if isinstance(p_min, list) and isinstance(g_max, int):
        g_max = [g_max] * len(p_min)
    nested = build_group_tree(
        cpm,
        names,
        p_min,
        g_max,
        balance=args.balance,
        singletons=args.singletons,
        group_prefix=args.group_prefix)
    tree = ClassTree.from_dict(nested)
    tree.save(args.out)

    top = [name for name in nested if nested[name]]
    sizes = sorted((len(tree_leaves(nested[g])) for g in top), reverse=True)
    loose = len(nested) - len(top)
    print(f'{len(names)} classes -> {len(top)} groups' +
          (f' and {loose} classes under the root' if loose else ''))
    if sizes:
        print(f'group sizes: {sizes} (min {min(sizes)}, median '
              f'{int(np.median(sizes))}, max {max(sizes)}, max/min '
              f'{max(sizes) / min(sizes):.1f})')
    for line in describe_groups(nested):
        print(line)
    print(f'wrote {tree!r} to {args.out}')
    return tree


if __name__ == '__main__':
    main()
