# Copyright (c) mmhier contributors. All rights reserved.
"""Time building and encoding a large ClassTree.

The foundation issue asks that a 25,000-node tree builds and encodes in well
under a second. This script builds a random tree of that size (parents drawn
among earlier nodes, so depths vary), then encodes every node by name and
checks every path, and prints the median of several repetitions.

Usage:
    python benchmarks/class_tree.py [--nodes 25000] [--repeat 5] [--out DIR]
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmhier.structures import ClassTree  # noqa: E402


def random_tree_spec(num_nodes: int, num_top: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    names = [f'n{i}' for i in range(num_nodes)]
    parents = [None] * num_top + [
        f'n{int(rng.integers(0, i))}' for i in range(num_top, num_nodes)
    ]
    return names, parents


def run(num_nodes: int, repeat: int) -> dict:
    names, parents = random_tree_spec(num_nodes)
    build, encode, check = [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        tree = ClassTree(names, parents)
        t1 = time.perf_counter()
        for name in names:
            tree.encode(name)
        t2 = time.perf_counter()
        ok = tree.valid_paths(torch.from_numpy(tree.path_matrix)).all()
        t3 = time.perf_counter()
        assert bool(ok)
        build.append(t1 - t0)
        encode.append(t2 - t1)
        check.append(t3 - t2)
    return dict(
        nodes=num_nodes,
        depth=tree.max_depth,
        build_s=statistics.median(build),
        encode_all_s=statistics.median(encode),
        validate_all_s=statistics.median(check),
        spread_build_s=[min(build), max(build)],
        repeat=repeat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=25000)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--out', default='work_dirs/benchmarks')
    args = parser.parse_args()
    res = run(args.nodes, args.repeat)
    res['machine'] = f'{platform.machine()}, {os.cpu_count()} cores'
    table = ('| nodes | depth | build (s) | encode all nodes (s) | '
             'validate all paths (s) |\n| --- | --- | --- | --- | --- |\n'
             f'| {res["nodes"]} | {res["depth"]} | {res["build_s"]:.3f} | '
             f'{res["encode_all_s"]:.3f} | {res["validate_all_s"]:.3f} |')
    print(table)
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'class_tree.json'), 'w') as f:
        json.dump(res, f, indent=1)
    with open(osp.join(args.out, 'class_tree.md'), 'w') as f:
        f.write(table + '\n')


if __name__ == '__main__':
    main()
