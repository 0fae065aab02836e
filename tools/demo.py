# Copyright (c) mmhier contributors. All rights reserved.
"""The mmhier demo: the recommended hierarchical model against a flat one on
Fashion-MNIST, with full labels and with mostly coarse labels.

Trains, with the same backbone and the same number of iterations, the
recommended model (``configs/hier/joint-rnn-pool-resi_resnet18-small_fmnist-
fixed.py``: a CNN-RNN and a flat classifier trained together and fused) and
the flat classifier of ``configs/flat/flat_resnet18-small_fmnist-fixed.py``,
twice:

1. full labels: every training image has its whole path;
2. partial labels (``--fine-fraction``, default 0.1): 10% of the images of
   each class keep their whole path, the others only their first two levels
   (``clothing/garment/*``). The hierarchical model learns from all of them,
   with each fully labelled image listed 5 times per epoch
   (``--fine-repeat``); the flat model can only use the fully labelled ones.
   Both train for the same number of iterations.

Evaluates the four models on the 10,000 test images with the hierarchical
metrics, prints the two tables side by side, draws test images with the
predicted paths of both models (each level green where right, red where
wrong) and says where the logs, checkpoints and pictures are. The four runs
go two at a time, one thread each (3 minutes on 2 cores here).

Usage:
    python tools/demo.py [--work-dir work_dirs/demo] [--train-size 12000]
                         [--epochs 6] [--fine-fraction 0.1]
                         [--fine-repeat 5] [--jobs 2]
                         [--data-root DIR]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

DEBIAN_ROOT = '/usr/share/datasets/fashion-mnist'
FALLBACK_ROOT = osp.join(REPO, 'data', 'fashion_mnist')
# name in the tables -> config
MODELS = {
    'hierarchical (joint CNN-RNN)':
    'configs/hier/joint-rnn-pool-resi_resnet18-small_fmnist-fixed.py',
    'flat': 'configs/flat/flat_resnet18-small_fmnist-fixed.py',
}
HIER, FLAT = MODELS
# (result key, column title) of the tables, in order
COLUMNS = (
    ('hier/path_acc', 'path acc'),
    ('hier/node_acc', 'node acc'),
    ('hier/level1_acc', 'level 1'),
    ('hier/level2_acc', 'level 2'),
    ('hier/level3_acc', 'level 3'),
    ('hier/mistake_severity', 'mistake severity'),
    ('hier/h_f1', 'hier F1'),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and compare a hierarchical and a flat model on '
        'Fashion-MNIST with a WordNet class tree, with full and with '
        'partial labels.')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    parser.add_argument(
        '--train-size',
        type=int,
        default=12000,
        help='training images taken from the 60,000 (the first ones)')
    parser.add_argument('--epochs', type=int, default=6)
    parser.add_argument(
        '--fine-fraction',
        type=float,
        default=0.1,
        help='share of each class that keeps its full path in the '
        'partial-label setting')
    parser.add_argument(
        '--fine-repeat',
        type=int,
        default=5,
        help='partial labels: the hierarchical model sees each fully '
        'labelled image this often per epoch (fewer epochs, the same '
        'number of iterations)')
    parser.add_argument(
        '--test-size', type=int, default=0, help='test images (0: all 10,000)')
    parser.add_argument(
        '--jobs', type=int, default=2, help='runs side by side')
    parser.add_argument(
        '--data-root',
        default=None,
        help='folder with the four Fashion-MNIST idx files; default: '
        f'$FASHION_MNIST_DIR, else {DEBIAN_ROOT} if present, else '
        f'{FALLBACK_ROOT} (downloaded)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--run-one', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 < args.fine_fraction <= 1:
        parser.error(f'--fine-fraction must be in (0, 1], got '
                     f'{args.fine_fraction}')
    if args.fine_repeat < 1:
        parser.error(f'--fine-repeat must be >= 1, got {args.fine_repeat}')
    return args


def find_data_root(arg):
    """The data root and whether mmpretrain may download into it."""
    root = arg or os.environ.get('FASHION_MNIST_DIR')
    if root:
        return root, False
    if osp.exists(osp.join(DEBIAN_ROOT, 'train-images-idx3-ubyte.gz')):
        return DEBIAN_ROOT, False
    print(
        f'Fashion-MNIST not found in {DEBIAN_ROOT}; mmpretrain will '
        f'download it to {FALLBACK_ROOT}',
        flush=True)
    return FALLBACK_ROOT, True


def runs(args):
    """(run key, setting, model name, fine fraction or None, keep)."""
    part = f'{args.fine_fraction:g}'
    return [
        ('full_hier', 'full', HIER, None, 'all'),
        ('full_flat', 'full', FLAT, None, 'all'),
        (f'partial{part}_hier', 'partial', HIER, args.fine_fraction, 'all'),
        (f'partial{part}_flat', 'partial', FLAT, args.fine_fraction, 'fine'),
    ]


def make_cfg(model, work_dir, fraction, keep, args):
    from mmengine.config import Config

    from mmhier.engine.dataloader_cfg import use_partial_labels
    data_root, download = find_data_root(args.data_root)
    cfg = Config.fromfile(osp.join(REPO, MODELS[model]))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=args.seed, deterministic=False)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=args.epochs)
    sched = cfg.param_scheduler
    if isinstance(sched, dict) and 'T_max' in sched:
        sched['T_max'] = args.epochs
    for part in ('train_dataloader', 'test_dataloader'):
        ds = cfg[part].dataset
        ds.data_root = data_root
        ds.download = download
    cfg.train_dataloader.dataset.indices = args.train_size
    if args.test_size:
        cfg.test_dataloader.dataset.indices = args.test_size
    if fraction is not None:
        use_partial_labels(
            cfg,
            fraction,
            args.train_size,
            keep=keep,
            seed=args.seed,
            fine_repeat=args.fine_repeat if keep == 'all' else 1)
    # test once at the end, on the test split
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    epochs = cfg.train_cfg.max_epochs
    cfg.default_hooks.logger.interval = 50
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=epochs, max_keep_ckpts=1)
    return cfg


def train_image_counts(dataset):
    """Distinct training images, and how many of them have a full path."""
    import numpy as np
    if not hasattr(dataset, 'fine'):  # every path is full
        return dict(train_images=len(dataset), full_paths=len(dataset))
    used = np.unique(dataset.indices)
    return dict(
        train_images=len(used), full_paths=int(dataset.fine[used].sum()))


def run_one(key, args):
    """Train and test one model in this process; write its metrics."""
    import torch
    from mmengine.runner import Runner

    import mmhier  # noqa: F401  (registers the components)
    torch.set_num_threads(1)
    _, _, model, fraction, keep = next(r for r in runs(args) if r[0] == key)
    work_dir = osp.join(args.work_dir, key)
    cfg = make_cfg(model, work_dir, fraction, keep, args)
    runner = Runner.from_cfg(cfg)
    start = time.time()
    runner.train()
    metrics = runner.test()
    result = dict(
        key=key,
        model=model,
        config=MODELS[model],
        metrics=metrics,
        seconds=time.time() - start,
        epochs=cfg.train_cfg.max_epochs,
        checkpoint=osp.join(work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth'),
        **train_image_counts(runner.train_dataloader.dataset))
    with open(osp.join(work_dir, 'demo_result.json'), 'w') as f:
        json.dump(result, f, indent=1)


def spawn(key, args):
    """Run one model in a subprocess (one thread); returns its result."""
    work_dir = osp.join(args.work_dir, key)
    os.makedirs(work_dir, exist_ok=True)
    log = osp.join(work_dir, 'demo_run.log')
    cmd = [sys.executable, osp.abspath(__file__)
           ] + sys.argv[1:] + ['--run-one', key]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    print(f'  started  {key:<18} (log: {log})', flush=True)
    start = time.time()
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'the {key} run failed (exit {proc.returncode}); '
                           f'the end of {log}:\n{tail}')
    print(f'  finished {key:<18} in {time.time() - start:.0f} s', flush=True)
    with open(osp.join(work_dir, 'demo_result.json')) as f:
        return json.load(f)


def format_table(results):
    head = ['model', 'train images (full paths)', 'epochs'
            ] + [t for _, t in COLUMNS]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for res in results:
        images = f"{res['train_images']} ({res['full_paths']})"
        cells = [res['model'], images, str(res['epochs'])]
        for key, _ in COLUMNS:
            value = res['metrics'].get(key)
            cells.append('-' if value is None else f'{value:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    hier, flat = results
    diff = hier['metrics']['hier/path_acc'] - flat['metrics']['hier/path_acc']
    sev = hier['metrics']['hier/mistake_severity'] - \
        flat['metrics']['hier/mistake_severity']
    lines.append(f'\nhierarchical - flat: {diff:+.2f} points of path '
                 f'accuracy, {sev:+.3f} mistake severity (lower is milder)')
    return '\n'.join(lines)


def predict_paths(result, dataset, indices):
    """Predicted paths of a trained model on some test images."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS as REGISTRY

    init_default_scope('mmpretrain')
    cfg = Config.fromfile(osp.join(REPO, result['config']))
    model = REGISTRY.build(cfg.model)
    load_checkpoint(model, result['checkpoint'], map_location='cpu')
    model.eval()
    tree = dataset.class_tree
    paths = []
    for start in range(0, len(indices), 256):
        batch = pseudo_collate(
            [dataset[i] for i in indices[start:start + 256]])
        with torch.no_grad():
            for sample in model.test_step(batch):
                if 'pred_path' in sample:
                    paths.append(sample.pred_path.tolist())
                else:  # a flat model: the path of its predicted node
                    paths.append(tree.path(int(sample.pred_label)))
    return paths


def draw_predictions(results, args, out_file, num=8, pool=500):
    """Test images with both full-label models' paths: half of them ones
    the hierarchical model gets wrong, so mistakes show as well."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS

    from mmhier.visualization import draw_level_marks
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(osp.join(REPO, MODELS[HIER]))
    data_root, download = find_data_root(args.data_root)
    ds_cfg = dict(
        cfg.test_dataloader.dataset,
        data_root=data_root,
        download=download,
        indices=pool)
    dataset = DATASETS.build(ds_cfg)
    indices = list(range(len(dataset)))
    short = {HIER: 'hier', FLAT: 'flat'}
    preds = {
        short[r['model']]: predict_paths(r, dataset, indices)
        for r in results
    }
    truth = [dataset.get_data_info(i)['gt_path'][0].tolist() for i in indices]

    def right(i):
        return [j for j in preds['hier'][i] if j >= 0] == \
            [j for j in truth[i] if j >= 0]

    wrong = [i for i in indices if not right(i)][:num // 2]
    correct = [i for i in indices if right(i)][:num - len(wrong)]
    chosen = sorted(wrong + correct)
    draw_level_marks([dataset.get_data_info(i)['img'] for i in chosen],
                     [truth[i] for i in chosen], {
                         name: [p[i] for i in chosen]
                         for name, p in preds.items()
                     },
                     dataset.class_tree,
                     out_file=out_file,
                     titles=[f'test image {i}' for i in chosen])


def main():
    args = parse_args()
    if args.run_one:
        run_one(args.run_one, args)
        return
    os.makedirs(args.work_dir, exist_ok=True)
    find_data_root(args.data_root)  # says where the data comes from
    plan = runs(args)
    print(
        f'mmhier demo: {len(plan)} trainings on {args.train_size} '
        f'Fashion-MNIST images ({args.epochs} epochs, or the same number '
        f'of iterations), {args.jobs} at a time',
        flush=True)
    start = time.time()
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(spawn, key, args) for key, *_ in plan]
        results = {key: fut.result() for (key, *_), fut in zip(plan, futures)}
    by_setting = {'full': [], 'partial': []}
    for key, setting, *_ in plan:
        by_setting[setting].append(results[key])

    full = format_table(by_setting['full'])
    partial = format_table(by_setting['partial'])
    picture = osp.join(args.work_dir, 'predictions.png')
    draw_predictions(by_setting['full'], args, picture)
    test = args.test_size or 10000
    text = (
        f'## Full labels: every training image has its whole path\n\n{full}'
        f'\n\n## Partial labels: {args.fine_fraction:.0%} of each class has '
        f'its whole path, the rest only two levels (a/b/*); the flat model '
        f'learns from the fully labelled images only, for the same number '
        f'of iterations\n\n{partial}\n')
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)

    print('\n' + '=' * 78)
    print(f'Fashion-MNIST test split ({test} images), WordNet tree of '
          'fashion_mnist_fixed.json; accuracies in %, mistake severity = '
          'mean tree distance of the wrong paths. The flat model\'s paths '
          'are implied from its predicted node.\n')
    print(text)
    print(f'Outputs (total {time.time() - start:.0f} s):')
    for key, *_ in plan:
        print(f'  {key}: logs and checkpoint in '
              f'{osp.join(args.work_dir, key)}')
    print(f'  tables: {osp.join(args.work_dir, "results.md")} (and .json)')
    print(f'  predictions (green: right level, red: wrong): {picture}')


if __name__ == '__main__':
    main()
