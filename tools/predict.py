# Copyright (c) mmhier contributors. All rights reserved.
"""Predict the top-k label paths of images with a trained model.

Prints, for every image, its k best paths (best first) with their scores;
optionally saves a drawing of every image with its paths (``--show-dir``),
with the class tree and the paths highlighted (``--draw-tree``), and the
results as JSON (``--out``). Runs from a checkout without ``pip install``.

Usage::

    python tools/predict.py IMG CFG CKPT [--topk 5] [--device cpu]
        [--batch-size 8] [--show-dir DIR] [--draw-tree] [--tree FILE]
        [--threshold T] [--out results.json]

``IMG`` is an image file or a folder of images. Scores are probabilities
(see ``mmhier/apis/predictions.py``); a flat model over the tree nodes gets
the paths of its best nodes (DHNN Remark 1). Multi-label models also print
the selected paths, with the threshold validated for the checkpoint (see
``HierInferencer``) unless ``--threshold`` overrides it; the tool says which
threshold it uses and where it came from.
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from mmengine.config import Config, DictAction  # noqa: E402

import mmhier  # noqa: E402,F401  (registers, applies the compat layer)
from mmhier.apis import HierInferencer  # noqa: E402
from mmhier.visualization import format_path  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Predict the top-k label paths of images')
    parser.add_argument('img', help='an image file or a folder of images')
    parser.add_argument('config', help='the model config file')
    parser.add_argument('checkpoint', help='the checkpoint file')
    parser.add_argument(
        '--topk', type=int, default=5, help='paths per image (default 5)')
    parser.add_argument(
        '--device',
        default=None,
        help="'cpu', 'cuda', 'cuda:1', ... (default: cuda when available)")
    parser.add_argument(
        '--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument(
        '--show-dir',
        help='save a drawing of every image with its paths in this folder')
    parser.add_argument(
        '--draw-tree',
        action='store_true',
        help='add the class tree with the paths highlighted to the '
        'drawings (needs --show-dir)')
    parser.add_argument(
        '--tree',
        help='class tree file overriding the one of the checkpoint/config')
    parser.add_argument(
        '--threshold',
        type=float,
        help='multi-label: select paths whose node scores are all >= this '
        "(default: the threshold validated for the checkpoint, stored in "
        "its meta['hier_threshold'] by HierThresholdHook)")
    parser.add_argument(
        '--names',
        choices=('display', 'nodes'),
        default='display',
        help='print display names (default) or node names')
    parser.add_argument('--out', help='also write the results to this JSON')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    args = parser.parse_args(argv)
    if args.draw_tree and not args.show_dir:
        parser.error('--draw-tree needs --show-dir (where the drawings go)')
    if args.topk < 1:
        parser.error(f'--topk must be >= 1, got {args.topk}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        parser.error(f'--threshold must be in [0, 1], got {args.threshold}')
    return args


def _jsonable(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k != 'pred_scores'}
    if 'pred_scores' in result:
        out['pred_scores'] = [float(s) for s in result['pred_scores']]
    return out


def main(argv: Optional[List[str]] = None) -> List[dict]:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    inferencer = HierInferencer(
        cfg,
        pretrained=args.checkpoint,
        device=args.device,
        tree=args.tree,
        topk=args.topk,
        threshold=args.threshold)
    if inferencer.threshold is not None:
        print(f'multi-label threshold {inferencer.threshold:.6g} '
              f'(from {inferencer.threshold_source})')
    kwargs = dict(batch_size=args.batch_size, topk=args.topk)
    if args.show_dir:
        kwargs.update(show_dir=args.show_dir, draw_tree=args.draw_tree)
    inputs = inferencer._inputs_to_list(args.img)
    results = inferencer(inputs, **kwargs)

    for index, result in enumerate(results):
        print(result['img_path'] or f'input {index}')
        for rank, entry in enumerate(result['paths']):
            print(f'  {rank + 1}. ' +
                  format_path(entry[args.names], entry['score']))
        if result.get('selected_paths') is not None:
            print('  selected (multi-label): ' + '; '.join(
                format_path(e[args.names]) for e in result['selected_paths']))
        if result.get('vis_file'):
            print(f'  drawn to {result["vis_file"]}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump([_jsonable(r) for r in results], f, indent=1)
        print(f'results written to {args.out}')
    return results


if __name__ == '__main__':
    main()
