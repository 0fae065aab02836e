# Copyright (c) mmhier contributors. All rights reserved.
"""Export a trained model for deployment: ONNX and ``torch.export``.

The exported graph takes a batch of raw images and returns the top-k label
paths with their scores, beam search included (see
``mmhier.apis.HierExportWrapper`` and docs/deployment.md)::

    images  float32 (B, C, H, W)   pixel values as the test pipeline gives
                                   them (0..255); the data preprocessor's
                                   mean / std (and to_rgb) are inside
    paths   int64   (B, k, T)      node indices, level 1 first, -1 padded
    scores  float32 (B, k)         best first; log-probability of the path
                                   (CRM decoding: minus the expected cost)

The batch size B is dynamic; k, T, C, H and W are fixed. Besides the model
files the tool writes ``model.json``: the node names (to decode the paths),
the input and output names and shapes, and what the scores mean. After
exporting it checks each file against the PyTorch model on random images
(``--no-verify`` skips that).

Usage::

    python tools/deployment/export.py CFG CKPT [--out DIR] [--topk 5]
        [--formats onnx torch-export] [--opset 18] [--batch-size 2]
        [--input-shape C H W] [--tree FILE] [--cfg-options k=v ...]
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
import warnings
from typing import Dict, List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import mmhier  # noqa: E402,F401  (registers, applies the compat layer)
from mmhier.apis.export_wrapper import (HierExportWrapper,  # noqa: E402
                                        load_export_wrapper)

FORMATS = ('onnx', 'torch-export')
FILES = {'onnx': 'model.onnx', 'torch-export': 'model.pt2'}
MIN_OPSET = 17
DEFAULT_OPSET = 18  # the dynamo exporter's default; 17 is converted down
INPUT_NAMES = ['images']
OUTPUT_NAMES = ['paths', 'scores']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a trained mmhier model to ONNX and torch.export')
    parser.add_argument('config', help='the model config file')
    parser.add_argument('checkpoint', help='the checkpoint file')
    parser.add_argument(
        '--out',
        help='output folder (default: work_dirs/export/<config name>)')
    parser.add_argument(
        '--topk',
        type=int,
        default=5,
        help='paths per image, fixed in the graph (default 5)')
    parser.add_argument(
        '--formats',
        nargs='+',
        choices=FORMATS,
        default=list(FORMATS),
        help='what to write (default: both)')
    parser.add_argument(
        '--opset',
        type=int,
        default=DEFAULT_OPSET,
        help=f'ONNX opset, >= {MIN_OPSET} (default {DEFAULT_OPSET})')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=2,
        help='batch of the example input used for tracing and the check '
        '(the exported batch dimension is dynamic)')
    parser.add_argument(
        '--input-shape',
        type=int,
        nargs=3,
        metavar=('C', 'H', 'W'),
        help="one image's shape (default: from the config: the backbone's "
        "in_channels and the neck's input_size or the test pipeline's "
        'resize / crop)')
    parser.add_argument(
        '--tree',
        help='class tree file overriding the one of the checkpoint/config')
    parser.add_argument(
        '--no-verify',
        action='store_true',
        help='skip the check of the written files against PyTorch')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    args = parser.parse_args(argv)
    if args.topk < 1:
        parser.error(f'--topk must be >= 1, got {args.topk}')
    if args.opset < MIN_OPSET:
        parser.error(f'--opset must be >= {MIN_OPSET}, got {args.opset}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.input_shape and min(args.input_shape) < 1:
        parser.error(f'--input-shape must be positive, got '
                     f'{args.input_shape}')
    return args


def _pair(value, where: str) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2:
        # mmcv's scale is (w, h)
        return int(value[1]), int(value[0])
    raise ValueError(f'cannot read an image size from {where}={value!r}: '
                     'pass --input-shape C H W')


def input_shape(cfg: Config) -> Optional[Tuple[int, int, int]]:
    """``(C, H, W)`` of one image, read from the config (``None`` when it
    does not say)."""
    model = cfg.model
    channels = int(model.get('backbone', {}).get('in_channels', 3))
    size = (model.get('neck') or {}).get('input_size', None)
    if size is not None:
        return (channels, ) + _pair(size, 'model.neck.input_size')
    pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get(
        'pipeline', [])
    for step in reversed(pipeline):
        for key in ('crop_size', 'scale'):
            if key in step and step[key] is not None:
                return (channels, ) + _pair(step[key],
                                            f"{step['type']}.{key}")
    return None


def dataset_input_shape(cfg: Config) -> Tuple[int, int, int]:
    """``(C, H, W)`` of the first image of the config's test data set,
    through its pipeline (for in-memory data sets without a resize)."""
    from mmpretrain.registry import DATASETS
    try:
        dataset = DATASETS.build(
            dict(cfg.test_dataloader.dataset, indices=1))
        shape = tuple(int(s) for s in dataset[0]['inputs'].shape)
    except Exception as e:
        raise ValueError(
            'cannot tell the input size from the config (no neck '
            'input_size, no resize or crop in the test pipeline) nor from '
            f'its test data set ({type(e).__name__}: {e}): pass '
            '--input-shape C H W') from None
    if len(shape) != 3:
        raise ValueError(f'the test pipeline gives images of shape {shape}, '
                         'not (C, H, W): pass --input-shape C H W')
    return shape


def export_torch(wrapper: HierExportWrapper, example: torch.Tensor,
                 path: str) -> torch.export.ExportedProgram:
    """``torch.export`` with a dynamic batch, saved as ``.pt2``."""
    batch = torch.export.Dim('batch', min=1, max=65536)
    with warnings.catch_warnings():
        # nn.LSTM re-assigns its _flat_weights while traced: harmless
        warnings.filterwarnings('ignore', 'The tensor attributes')
        program = torch.export.export(
            wrapper, (example, ), dynamic_shapes={'images': {
                0: batch
            }})
    torch.export.save(program, path)
    return program


def export_onnx(program: torch.export.ExportedProgram, path: str,
                opset: int) -> None:
    """The exported program through torch's dynamo ONNX exporter."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(
            program,
            (),
            path,
            input_names=INPUT_NAMES,
            output_names=OUTPUT_NAMES,
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False)
    import onnx
    onnx.checker.check_model(onnx.load(path))


def run_onnx(path: str, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """``(paths, scores)`` of an ONNX file under onnxruntime (CPU)."""
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    paths, scores = session.run(OUTPUT_NAMES,
                                {INPUT_NAMES[0]: images.numpy()})
    return torch.from_numpy(paths), torch.from_numpy(scores)


def run_program(path: str, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """``(paths, scores)`` of a saved ``.pt2``, reloaded."""
    with torch.no_grad():
        return tuple(torch.export.load(path).module()(images))


def compare(ref: Tuple[torch.Tensor, ...], got: Tuple[torch.Tensor, ...],
            what: str) -> float:
    """Max score difference; raises when paths differ (or scores do by
    more than a float32 tolerance)."""
    paths, scores = got
    if not torch.equal(paths.long(), ref[0]):
        raise RuntimeError(f'{what} gives other paths than PyTorch')
    finite = torch.isfinite(ref[1])
    if not torch.equal(finite, torch.isfinite(scores)):
        raise RuntimeError(f'{what} gives -inf scores elsewhere than '
                           'PyTorch')
    diff = (scores[finite].double() - ref[1][finite].double()).abs()
    err = float(diff.max()) if diff.numel() else 0.
    if not torch.allclose(
            scores[finite].double(),
            ref[1][finite].double(),
            rtol=1e-4,
            atol=1e-4):
        raise RuntimeError(f'{what} scores differ from PyTorch by {err:.3g}')
    return err


def write_meta(wrapper: HierExportWrapper, shape: Tuple[int, int, int],
               files: Dict[str, str], args: argparse.Namespace,
               path: str) -> dict:
    tree = wrapper.tree
    k, depth = wrapper.topk, tree.max_depth
    crm = wrapper.kind == 'flat_crm' or (
        wrapper.kind == 'joint' and wrapper.model.head.decode == 'crm')
    meta = dict(
        config=osp.abspath(args.config),
        checkpoint=osp.abspath(args.checkpoint),
        head=type(wrapper.model.head).__name__,
        topk=k,
        depth=depth,
        beam_size=None if wrapper.kind.startswith('flat')
        or wrapper.kind == 'joint' else wrapper.beam_size,
        files=files,
        inputs=[
            dict(
                name=INPUT_NAMES[0],
                dtype='float32',
                shape=['batch', *shape],
                meaning='raw pixel values (0..255) in the channel order '
                'of the test pipeline; normalised inside')
        ],
        outputs=[
            dict(
                name='paths',
                dtype='int64',
                shape=['batch', k, depth],
                meaning='node indices (into nodes), level 1 first, '
                'padded with -1; best path first'),
            dict(
                name='scores',
                dtype='float32',
                shape=['batch', k],
                meaning=('minus the expected tree distance (CRM)' if crm
                         else 'log-probability of the path; -inf: no '
                         'path in this slot'))
        ],
        normalisation=dict(
            mean=None if wrapper.mean is None else
            wrapper.mean.flatten().tolist(),
            std=None if wrapper.std is None else
            wrapper.std.flatten().tolist(),
            to_rgb=wrapper.to_rgb),
        nodes=list(tree.names),
        opset=args.opset if 'onnx' in files else None,
        torch=torch.__version__)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=1)
    return meta


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint file not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    shape = tuple(args.input_shape) if args.input_shape else (
        input_shape(cfg) or dataset_input_shape(cfg))
    out = args.out or osp.join('work_dirs', 'export',
                               osp.splitext(osp.basename(args.config))[0])
    os.makedirs(out, exist_ok=True)
    wrapper = load_export_wrapper(
        cfg, args.checkpoint, topk=args.topk, tree=args.tree)
    gen = torch.Generator().manual_seed(0)
    example = torch.rand((args.batch_size, ) + shape, generator=gen) * 255
    with torch.no_grad():
        ref = wrapper(example)  # also fills the tree's tensor caches

    files: Dict[str, str] = {}
    timings: Dict[str, float] = {}
    start = time.time()
    pt2 = osp.join(out, FILES['torch-export'])
    program = export_torch(wrapper, example, pt2)
    timings['torch-export'] = time.time() - start
    if 'torch-export' in args.formats:
        files['torch-export'] = pt2
    else:
        os.remove(pt2)
    if 'onnx' in args.formats:
        start = time.time()
        onnx_file = osp.join(out, FILES['onnx'])
        export_onnx(program, onnx_file, args.opset)
        timings['onnx'] = time.time() - start
        files['onnx'] = onnx_file
    meta_file = osp.join(out, 'model.json')
    meta = write_meta(wrapper, shape, files, args, meta_file)

    print(f'exported {meta["head"]} ({args.config}), top-{meta["topk"]} '
          f'paths of depth {meta["depth"]}:')
    for fmt, path in files.items():
        print(f'  {fmt:<12} {path} ({osp.getsize(path) / 1e6:.1f} MB, '
              f'{timings[fmt]:.1f} s)')
    print(f'  {"meta":<12} {meta_file} (node names, shapes, normalisation)')
    for io in ('inputs', 'outputs'):
        for entry in meta[io]:
            dims = ', '.join(str(d) for d in entry['shape'])
            print(f'  {io[:-1]:<6} {entry["name"]:<7} {entry["dtype"]:<7} '
                  f'({dims}): {entry["meaning"]}')
    if not args.no_verify:
        runners = dict(onnx=run_onnx, **{'torch-export': run_program})
        for fmt, path in files.items():
            got = runners[fmt](path, example)
            err = compare(ref, got, f'{fmt} ({path})')
            print(f'  check {fmt}: paths equal to PyTorch, max |score diff| '
                  f'{err:.2g} on {args.batch_size} random images')
    return dict(files=files, meta=meta_file, wrapper=wrapper)


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        sys.exit(f'export.py: error: {e}')
