# Copyright (c) mmhier contributors. All rights reserved.
"""Write in-memory images as a tree-shaped image folder with annotations."""
import os
import os.path as osp
from typing import Dict

import numpy as np
from PIL import Image

from mmhier.structures import ClassTree
from mmhier.utils.progress_bar import SparseProgressBar


def export_image_folder(imgs: np.ndarray, nodes: np.ndarray,
                        tree: ClassTree, out_dir: str, split: str) -> Dict:
    """Save ``imgs`` as ``out_dir/split/<path of node>/<index>.png`` and
    write ``out_dir/split.txt`` in mmhier's text annotation format (a tab
    between file and label: node names may hold spaces).

    The folders mirror the tree, so the result loads both as a text
    annotation file and as a folder layout with ``HierDataset``.

    Args:
        imgs: ``(n, H, W)`` or ``(n, H, W, C)`` uint8 images.
        nodes: ``(n,)`` tree node index of each image.
        tree: The class tree.
        out_dir: Output folder.
        split: Name of the split (sub-folder and annotation file).

    Returns:
        dict: ``samples`` and ``samples_per_level``.
    """
    n = len(imgs)
    print(f'{split}: writing {n} images to {osp.join(out_dir, split)}')
    bar = SparseProgressBar(n, desc=split)
    lines = []
    for i in range(n):
        names = tree.decode(tree.path(int(nodes[i])))
        rel = '/'.join([split] + names + [f'{i:05d}.png'])
        os.makedirs(osp.join(out_dir, osp.dirname(rel)), exist_ok=True)
        Image.fromarray(imgs[i]).save(osp.join(out_dir, rel))
        lines.append(f'{rel}\t{"/".join(names)}')
        bar.update()
    bar.close()
    with open(osp.join(out_dir, f'{split}.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    # every image counts once at each level its path reaches
    per_level = np.bincount(
        tree.depths[np.asarray(nodes[:n], dtype=np.int64)],
        minlength=tree.max_depth + 1)[::-1].cumsum()[::-1][1:]
    per_level = [int(c) for c in per_level]
    print(f'{split}: {n} samples, per level {per_level}')
    return dict(samples=n, samples_per_level=per_level)
