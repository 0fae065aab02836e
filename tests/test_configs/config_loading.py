# Copyright (c) mmhier contributors. All rights reserved.
"""Loading the configs under configs/ for the config tests.

Shared by ``test_configs.py`` (the parts of each config) and
``test_config_models.py`` (each model builds and runs); not a test module.

Configs whose tree only exists once the data is prepared (Open Images,
your own data, HierNet's grouped CIFAR-100 tree) get a stand-in tree of the
same kind: the Open Images tree of the converter's spec, the fixed-depth
Fashion-MNIST tree, the CIFAR-100 superclass tree.
"""
import copy
import functools
import glob
import json
import os.path as osp
from typing import Any, Dict

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs')
# configs/benchmarks/ holds model-only configs (the speed benchmark's models,
# no data or schedule); test_config_builds.py records their models
BENCHMARK_DIR = osp.join(CONFIG_DIR, 'benchmarks')
CONFIGS = sorted(
    p for p in glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)
    if '_base_' not in p.split(osp.sep) and not osp.basename(p).startswith('_')
    and not p.startswith(BENCHMARK_DIR + osp.sep))


def _rel(path: str) -> str:
    return osp.relpath(path, REPO)


def _spec_tree() -> dict:
    """The Open Images tree of the converter's spec, as a nested dict."""
    spec = osp.join(REPO, 'tools', 'dataset_converters', 'specs',
                    'dhnn_oi_tree.json')
    with open(spec, encoding='utf-8') as f:
        nodes = json.load(f)['tree']

    def walk(items):
        out = {}
        for node in items:
            if isinstance(node, str):
                out[node] = None
            else:
                name = node.get('name') or node.get('class') or node['group']
                out[name] = walk(node.get('children', []))
        return out

    return walk(nodes)


def _stand_in(path: str) -> Any:
    """A tree of the same kind for a tree file that the data would give."""
    if 'openimages' in path:
        return _spec_tree()
    if 'cifar100' in path:
        cfg = Config.fromfile(
            osp.join(CONFIG_DIR, '_base_', 'datasets', 'cifar100_hier.py'))
        return cfg.class_tree.to_dict()
    # your own data: a fixed-depth tree of depth 3, as the CNN-RNN expects
    return osp.join(REPO, 'mmhier', 'datasets', 'trees',
                    'fashion_mnist_fixed.json')


def _replace(obj: Any, old: str, new: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _replace(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_replace(v, old, new) for v in obj)
    return new if isinstance(obj, str) and obj == old else obj


@functools.lru_cache(maxsize=None)
def _load(path: str) -> Dict[str, Any]:
    cfg = Config.fromfile(path).to_dict()
    tree = cfg.get('class_tree')
    if isinstance(tree, str) and not osp.isfile(tree):
        cfg = _replace(cfg, tree, _stand_in(tree))
    return cfg


def load(path: str) -> Dict[str, Any]:
    """The config as a plain dict, missing data trees replaced."""
    return copy.deepcopy(_load(path))


def _num_outputs(model: dict) -> Any:
    """Outputs of a flat classifier, None for hierarchical heads."""
    head = model.get('head') or {}
    if 'num_classes' in head:
        return head['num_classes']
    if model['type'] == 'ImageClassifier' and model['backbone'][
            'type'] == 'VGG':
        return model['backbone'].get('num_classes')
    return None
