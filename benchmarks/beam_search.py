# Copyright (c) mmhier contributors. All rights reserved.
"""Batched tree beam search vs a per-sample Python reference.

The heads issue asks that the batched, vectorised beam search
(``mmhier.models.utils.tree_beam_search``) be at least 50x faster on CPU
than a straightforward per-sample Python implementation of the same search
(DHNN slides, Algorithm 1, with the finished-path pool), with identical
results. Both run on the same random log-probabilities, on

- a 30-node tree of depth 4 (the size of the DHNN Open Images tree), and
- a generated tree of about 2,000 nodes and depth up to 18,

for a batch of 1,024 and beam widths k in {1, 2, 5}, in two modes:

- ``rnn``: scores known up front, paths stop at leaves, no end token (the
  CNN-RNN head);
- ``s2s``: an END column, every node may end a path (the CNN-S2S head on a
  general tree; the decoder's cost is not part of the search and is left
  out: its per-step scores are drawn up front).

The reference loops over samples, beams and children with float32 numpy
scalars (so both sum in the same order and precision) and reads each
sample's scores from a numpy view. Results must match exactly: same paths,
same scores.

Usage:
    python benchmarks/beam_search.py [--batch 1024] [--repeat 5]
        [--threads 1] [--device cpu] [--out work_dirs/benchmarks] [--quick]
"""
import argparse
import heapq
import json
import os
import os.path as osp
import platform
import statistics
import sys
import time
from typing import List, Tuple

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmhier.models.utils import tree_beam_search  # noqa: E402
from mmhier.structures import PATH_END, ClassTree  # noqa: E402


def generated_tree(widths: List[int], seed: int) -> ClassTree:
    """A random tree with ``widths[d]`` nodes at depth ``d + 1``, each under
    a uniformly drawn node of the level above; nodes that draw no child are
    leaves, so leaves sit at many depths."""
    rng = np.random.default_rng(seed)
    names, parents, above = [], [], [None]
    for width in widths:
        level = [f'n{len(names) + i}' for i in range(width)]
        picks = rng.integers(0, len(above), size=width)
        parents += [above[int(p)] for p in picks]
        names += level
        above = level
    return ClassTree(names, parents)


def hump(total: int, depth: int) -> List[int]:
    """Level widths that grow then shrink, ``total`` nodes over ``depth``."""
    x = np.sin(np.linspace(0.15, np.pi - 0.35, depth))
    return np.maximum(1, np.round(x / x.sum() * total)).astype(int).tolist()


def reference_search(log_probs: np.ndarray, children: List[List[int]],
                     can_stop: List[bool], depth: int, k: int,
                     end_token: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Per-sample Python beam search with the same semantics as
    ``tree_beam_search``: live beams extended by children, stoppable ones
    offered to a pool of the k best finished paths."""
    b, n = log_probs.shape[0], len(can_stop)
    root = n
    out_paths = np.full((b, k, depth), PATH_END, dtype=np.int64)
    out_scores = np.full((b, k), -np.inf, dtype=np.float32)
    zero = np.float32(0)
    for i in range(b):
        lp = log_probs[i]
        live = [(zero, (), root)]
        finished = []
        for t in range(depth + 1):
            step = lp[t] if (end_token or t < depth) else None
            for score, path, last in live:
                if last != root and can_stop[last]:
                    end = step[n] if end_token else zero
                    finished.append((score + end, path))
            finished = heapq.nlargest(k, finished, key=lambda x: x[0])
            if t == depth:
                break
            cands = []
            for score, path, last in live:
                for c in children[last]:
                    cands.append((score + step[c], path + (c, ), c))
            live = heapq.nlargest(k, cands, key=lambda x: x[0])
        for j, (score, path) in enumerate(finished):
            out_scores[i, j] = score
            out_paths[i, j, :len(path)] = path
    return out_paths, out_scores


def batched_search(log_probs: torch.Tensor, tree: ClassTree,
                   can_stop: torch.Tensor, k: int, end_token: bool):
    """``tree_beam_search`` on scores drawn up front."""

    def step(t, last, state):
        return log_probs[:, t, None, :], None

    return tree_beam_search(
        step,
        tree,
        log_probs.size(0),
        k,
        can_stop=can_stop,
        end_token=end_token,
        device=log_probs.device)


def timed(fn, repeat: int, sync=lambda: None):
    times, out = [], None
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def run_case(tree: ClassTree, tree_name: str, mode: str, batch: int, k: int,
             repeat: int, ref_repeat: int, device: str, seed: int,
             torch_ref: bool) -> dict:
    n, depth = tree.num_nodes, tree.max_depth
    end_token = mode == 's2s'
    g = torch.Generator().manual_seed(seed)
    cols = n + 1 if end_token else n
    steps = depth + 1 if end_token else depth
    log_probs = torch.randn(batch, steps, cols, generator=g).log_softmax(-1)
    if end_token:
        can_stop = torch.ones(n, dtype=torch.bool)
    else:
        can_stop = torch.from_numpy(tree.is_leaf)
    k_eff = min(k, int(can_stop.sum()))

    lp_dev = log_probs.to(device)
    stop_dev = can_stop.to(device)
    sync = (
        torch.cuda.synchronize if str(device).startswith('cuda') else
        (lambda: None))
    batched_search(lp_dev, tree, stop_dev, k_eff, end_token)  # warm-up
    res, t_batched = timed(
        lambda: batched_search(lp_dev, tree, stop_dev, k_eff, end_token),
        repeat, sync)

    children = [tree.children(i) for i in range(n)] + [tree.children(-1)]
    stop_list = can_stop.tolist()
    lp_np = log_probs.numpy()
    (ref_paths, ref_scores), t_ref = timed(
        lambda: reference_search(lp_np, children, stop_list, depth, k_eff,
                                 end_token), ref_repeat)

    paths = res.paths.cpu().numpy()
    scores = res.scores.cpu().numpy()
    row = dict(
        tree=tree_name,
        nodes=n,
        depth=depth,
        widest_level=max(len(lv) for lv in tree.levels),
        mode=mode,
        batch=batch,
        k=k_eff,
        batched_s=t_batched,
        reference_s=t_ref,
        speedup=t_ref / t_batched,
        identical=same_result(paths, scores, ref_paths, ref_scores))
    if torch_ref:
        # The same search run sample by sample (a batch of one each time).
        lp_cpu = log_probs

        def per_sample():
            out = [
                batched_search(lp_cpu[i:i + 1], tree, can_stop, k_eff,
                               end_token) for i in range(batch)
            ]
            return (torch.cat([r.paths for r in out]).numpy(),
                    torch.cat([r.scores for r in out]).numpy())

        (t_paths, t_scores), t_torch = timed(per_sample, ref_repeat)
        row.update(
            torch_ref_s=t_torch,
            torch_ref_speedup=t_torch / t_batched,
            torch_ref_identical=same_result(paths, scores, t_paths, t_scores))
    return row


def same_result(paths, scores, ref_paths, ref_scores) -> bool:
    """Same paths and bit-identical scores (empty slots: -inf both)."""
    finite = np.isfinite(ref_scores)
    return bool(
        np.array_equal(paths, ref_paths)
        and np.array_equal(finite, np.isfinite(scores))
        and np.array_equal(scores[finite], ref_scores[finite]))


def markdown(rows: List[dict], meta: dict) -> str:
    torch_ref = 'torch_ref_s' in rows[0]
    head = ('| tree | nodes | depth | mode | k | batched (ms) | '
            'Python reference (ms) | speedup | identical |')
    rule = '| --- ' * 9
    if torch_ref:
        head += ' per-sample torch (ms) | speedup | identical |'
        rule += '| --- | --- | --- '
    lines = [head, rule + '|']
    yes = lambda x: 'yes' if x else 'NO'  # noqa: E731
    for r in rows:
        line = (f'| {r["tree"]} | {r["nodes"]} | {r["depth"]} | '
                f'{r["mode"]} | {r["k"]} | {1e3 * r["batched_s"]:.2f} | '
                f'{1e3 * r["reference_s"]:.1f} | {r["speedup"]:.1f}x | '
                f'{yes(r["identical"])} |')
        if torch_ref:
            line += (f' {1e3 * r["torch_ref_s"]:.0f} | '
                     f'{r["torch_ref_speedup"]:.0f}x | '
                     f'{yes(r["torch_ref_identical"])} |')
        lines.append(line)
    foot = (f'\nbatch {meta["batch"]}, device {meta["device"]}, '
            f'{meta["threads"]} torch thread(s), {meta["machine"]}, torch '
            f'{meta["torch"]}; median of {meta["repeat"]} (batched) / '
            f'{meta["ref_repeat"]} (references) runs.\n')
    return '\n'.join(lines) + '\n' + foot


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=1024)
    parser.add_argument('--ks', type=int, nargs='+', default=[1, 2, 5])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--ref-repeat', type=int, default=1)
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch CPU threads (default 1: a fair '
        'comparison with the single-threaded reference)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default='work_dirs/benchmarks')
    parser.add_argument(
        '--no-torch-ref',
        action='store_true',
        help='skip the per-sample torch reference')
    parser.add_argument(
        '--quick', action='store_true', help='tiny sizes, for a smoke test')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.quick:
        trees = [('oi-like', generated_tree([4, 8, 10, 8], seed=0)),
                 ('generated', generated_tree(hump(200, 8), seed=1))]
        args.batch, args.ks, args.repeat = min(args.batch, 16), [1, 2], 1
    else:
        trees = [('oi-like', generated_tree([4, 8, 10, 8], seed=0)),
                 ('generated', generated_tree(hump(2000, 18), seed=1))]
    rows = []
    for name, tree in trees:
        for mode in ('rnn', 's2s'):
            for k in args.ks:
                row = run_case(tree, name, mode, args.batch, k, args.repeat,
                               args.ref_repeat, args.device, k,
                               not args.no_torch_ref)
                rows.append(row)
                msg = (
                    f'{name:9s} N={row["nodes"]:5d} T={row["depth"]:2d} '
                    f'{mode:3s} k={row["k"]}: batched '
                    f'{1e3 * row["batched_s"]:8.2f} ms, Python reference '
                    f'{1e3 * row["reference_s"]:8.1f} ms '
                    f'({row["speedup"]:.1f}x, identical={row["identical"]})')
                if 'torch_ref_s' in row:
                    msg += (f', per-sample torch '
                            f'{1e3 * row["torch_ref_s"]:8.0f} ms '
                            f'({row["torch_ref_speedup"]:.0f}x, identical='
                            f'{row["torch_ref_identical"]})')
                print(msg, flush=True)
    meta = dict(
        batch=args.batch,
        device=args.device,
        threads=torch.get_num_threads(),
        repeat=args.repeat,
        ref_repeat=args.ref_repeat,
        quick=args.quick,
        machine=f'{platform.machine()}, {os.cpu_count()} cores',
        torch=torch.__version__)
    table = markdown(rows, meta)
    print()
    print(table)
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'beam_search.json'), 'w') as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    with open(osp.join(args.out, 'beam_search.md'), 'w') as f:
        f.write(table)
    return rows


if __name__ == '__main__':
    main()
