# Copyright (c) mmhier contributors. All rights reserved.
"""The mmhier demo: a hierarchical model against a flat one on Fashion-MNIST.

Trains, with the same small backbone and the same budget, a CNN-S2S with the
pooling conversion (DHNN section 3.2) on the variable-depth WordNet tree of
Fashion-MNIST and a flat classifier over the same tree nodes, evaluates both
on the test split with the hierarchical metrics (the flat model's paths are
implied from its predicted node, DHNN Remark 1), prints a side-by-side table,
draws a few test images with their predicted paths, and says where the logs,
checkpoints and pictures are.

Usage:
    python tools/demo.py [--work-dir work_dirs/demo] [--train-size 12000]
                         [--epochs 2] [--data-root DIR]
"""
import argparse
import copy
import json
import logging
import os
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

DEBIAN_ROOT = '/usr/share/datasets/fashion-mnist'
FALLBACK_ROOT = osp.join(REPO, 'data', 'fashion_mnist')
MODELS = (
    ('CNN-S2S (pool)', 'configs/hier/s2s-pool_resnet18-tiny_fmnist.py'),
    ('flat', 'configs/hier/flat_resnet18-tiny_fmnist.py'),
)
# (result key, column title) of the table, in order.
COLUMNS = (
    ('hier/path_acc', 'path acc'),
    ('hier/node_acc', 'node acc'),
    ('hier/level1_acc', 'level 1'),
    ('hier/level2_acc', 'level 2'),
    ('hier/level3_acc', 'level 3'),
    ('hier/level4_acc', 'level 4'),
    ('hier/level5_acc', 'level 5'),
    ('hier/mistake_severity', 'mistake severity'),
    ('hier/h_f1', 'hier F1'),
    ('hier/invalid_path_rate', 'invalid paths'),
)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Train and compare a CNN-S2S and a flat model on '
        'Fashion-MNIST with a WordNet class tree.')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    parser.add_argument(
        '--train-size',
        type=int,
        default=12000,
        help='training images taken from the 60,000 (the first ones)')
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument(
        '--data-root',
        default=None,
        help='folder with the four Fashion-MNIST idx files; default: '
        f'{DEBIAN_ROOT} if present, else {FALLBACK_ROOT} (downloaded)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def find_data_root(arg):
    if arg:
        return arg, False
    if osp.exists(osp.join(DEBIAN_ROOT, 'train-images-idx3-ubyte.gz')):
        return DEBIAN_ROOT, False
    print(f'Fashion-MNIST not found in {DEBIAN_ROOT}; mmpretrain will '
          f'download it to {FALLBACK_ROOT}', flush=True)
    return FALLBACK_ROOT, True


def make_cfg(config, work_dir, data_root, download, args):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=args.seed, deterministic=False)
    cfg.train_cfg.max_epochs = args.epochs
    cfg.train_cfg.val_interval = args.epochs
    for sched in (cfg.param_scheduler
                  if isinstance(cfg.param_scheduler, list) else
                  [cfg.param_scheduler]):
        if sched.get('type') == 'CosineAnnealingLR':
            sched['T_max'] = args.epochs
    for part in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[part].dataset
        ds.data_root = data_root
        ds.download = download
    cfg.train_dataloader.dataset.indices = args.train_size
    # (configs may share one dict between val and test: copy before editing)
    cfg.val_dataloader = copy.deepcopy(cfg.val_dataloader)
    # Validation on the first 2,000 test images keeps the run short; the
    # table comes from the full 10,000-image test split.
    cfg.val_dataloader.dataset.indices = 2000
    cfg.default_hooks.logger.interval = 20
    cfg.default_hooks.checkpoint.interval = 1
    return cfg


def train_and_test(name, config, data_root, download, args):
    from mmengine.runner import Runner
    work_dir = osp.join(args.work_dir, osp.splitext(osp.basename(config))[0])
    cfg = make_cfg(config, work_dir, data_root, download, args)
    print(f'\n=== {name}: training {config} on {args.train_size} images '
          f'for {args.epochs} epochs (log: {work_dir}) ===', flush=True)
    runner = Runner.from_cfg(cfg)
    start = time.time()
    runner.train()
    metrics = runner.test()
    return runner, metrics, time.time() - start, work_dir


def format_table(rows):
    cols = [c for c in COLUMNS if any(c[0] in m for _, m, _ in rows)]
    head = ['model'] + [title for _, title in cols] + ['time (s)']
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '---|' * len(head)]
    for name, metrics, seconds in rows:
        cells = [name]
        for key, _ in cols:
            value = metrics.get(key)
            cells.append('-' if value is None else f'{value:.2f}')
        cells.append(f'{seconds:.0f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def draw_predictions(runners, out_file, num=8):
    """Draw the first test images with each model's predicted path."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import torch

    dataset = runners[0][1].test_dataloader.dataset
    batch = [dataset[i] for i in range(num)]
    collated = runners[0][1].test_dataloader.collate_fn(batch)
    tree = dataset.metainfo['class_tree']
    preds = []
    for name, runner in runners:
        runner.model.eval()
        with torch.no_grad():
            preds.append((name, runner.model.test_step(collated)))
    cols = 4
    rows = (num + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 5.2 * rows), layout='constrained')
    for ax in axes.flat[num:]:
        ax.axis('off')
    for i, ax in enumerate(axes.flat[:num]):
        img = batch[i]['inputs'].squeeze(0).numpy()
        ax.imshow(img, cmap='gray')
        ax.axis('off')
        truth = tree.decode(batch[i]['data_samples'].gt_path[0].tolist())
        text = [f'truth: {" / ".join(truth)}']
        for name, samples in preds:
            sample = samples[i]
            if 'pred_path' in sample:
                path = tree.decode(sample.pred_path.tolist())
            else:  # a flat model: the path of its predicted node
                path = tree.decode(tree.path(int(sample.pred_label)))
            mark = '' if path == truth else '  (wrong)'
            text.append(f'{name}: {" / ".join(path)}{mark}')
        ax.set_title('\n'.join(text), fontsize=9, loc='left')
    fig.savefig(out_file, dpi=130)
    plt.close(fig)


def main():
    args = parse_args()
    data_root, download = find_data_root(args.data_root)
    os.makedirs(args.work_dir, exist_ok=True)
    import mmhier  # noqa: F401  (registers the components)

    rows, runners, dirs = [], [], []
    for name, config in MODELS:
        runner, metrics, seconds, work_dir = train_and_test(
            name, config, data_root, download, args)
        rows.append((name, metrics, seconds))
        runners.append((name, runner))
        dirs.append((name, work_dir))

    table = format_table(rows)
    picture = osp.join(args.work_dir, 'predictions.png')
    draw_predictions(runners, picture)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump({name: m for name, m, _ in rows}, f, indent=1)

    logging.getLogger().handlers.clear()
    print('\n' + '=' * 72)
    print('Fashion-MNIST test split (10,000 images), accuracies in %; the '
          "flat model's paths are implied from its predicted node.")
    print(table)
    print('\nOutputs:')
    for name, work_dir in dirs:
        print(f'  {name}: logs and checkpoints in {work_dir}')
    print(f'  table: {osp.join(args.work_dir, "results.md")} (and .json)')
    print(f'  pictures: {picture}')


if __name__ == '__main__':
    main()
