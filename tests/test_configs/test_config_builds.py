# Copyright (c) mmhier contributors. All rights reserved.
"""Every config builds, to the model recorded in tests/data/config_models.json.

For every config under ``configs/`` (found by glob, without ``_base_`` and
the ``_``-prefixed helper scripts, so a new config is covered at once), the
model is built through mmpretrain's ``MODELS`` registry and compared with its
record: the number of parameters, per top-level module (``backbone``,
``neck``, ``head``...) and in all, and the sha1 of the sorted parameter
names and shapes. A config without a record, a record without a config, or a
model that differs from its record fails, so a change to a model (on
purpose or not) shows up in review as a change to the JSON.

After changing a model on purpose (or adding, renaming or removing a
config), refresh the records and commit the JSON with the change::

    python tests/test_configs/test_config_builds.py --update

(``MMHIER_UPDATE_CONFIG_MODELS=1 pytest tests/test_configs/
test_config_builds.py`` does the same from pytest). Models are built once
per distinct model config; the initialisation of the LSTMs (QR
decompositions, seconds each on a CPU) is skipped, since it changes values,
not names or shapes. About a minute on two CPU cores.
"""
import argparse
import copy
import functools
import glob
import hashlib
import importlib.util
import json
import os
import os.path as osp
import sys
from typing import Dict, List
from unittest import TestCase, mock

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs')
RECORDS = osp.join(REPO, 'tests', 'data', 'config_models.json')
UPDATE_ENV = 'MMHIER_UPDATE_CONFIG_MODELS'
HOW_TO_UPDATE = ('if the change is meant, run `python '
                 'tests/test_configs/test_config_builds.py --update` and '
                 'commit tests/data/config_models.json')


def config_paths() -> List[str]:
    """Every config a user may train, relative to the repository root."""
    out = []
    for path in glob.glob(
            osp.join(CONFIG_DIR, '**', '*.py'), recursive=True):
        rel = osp.relpath(path, REPO).replace(osp.sep, '/')
        if '_base_' in rel.split('/') or osp.basename(rel).startswith('_'):
            continue
        out.append(rel)
    return sorted(out)


@functools.lru_cache(maxsize=None)
def _helpers():
    """test_configs.py, whose ``load`` puts the stand-in trees in."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'test_configs.py')
    spec = importlib.util.spec_from_file_location('_mmhier_test_configs',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_config(rel: str) -> dict:
    """The config's model dict, with its data preprocessor and, where the
    tree file only exists once the data is prepared, a stand-in tree."""
    cfg = _helpers().load(osp.join(REPO, rel))
    model = copy.deepcopy(cfg['model'])
    model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    return model


def describe(model: torch.nn.Module) -> dict:
    """Parameter counts and the sha1 of the sorted names and shapes."""
    params = dict(model.named_parameters())
    names = '\n'.join(f'{name} {tuple(p.shape)}'
                      for name, p in sorted(params.items()))
    by_module: Dict[str, int] = {}
    for name, p in params.items():
        top = name.split('.')[0]
        by_module[top] = by_module.get(top, 0) + p.numel()
    return dict(
        params=sum(p.numel() for p in params.values()),
        params_by_module=dict(sorted(by_module.items())),
        names_sha1=hashlib.sha1(names.encode()).hexdigest())


def build_records(paths: List[str]) -> Dict[str, dict]:
    """Config path -> :func:`describe` of its model."""
    import mmhier  # noqa: F401
    from mmpretrain.registry import MODELS
    seen: Dict[str, dict] = {}
    out = {}
    for rel in paths:
        cfg = model_config(rel)
        key = repr(cfg)
        if key not in seen:
            with mock.patch.object(torch.nn.init, 'orthogonal_',
                                   lambda tensor, gain=1: tensor):
                seen[key] = describe(MODELS.build(cfg))
        out[rel] = seen[key]
    return out


def write_records(records: Dict[str, dict]) -> None:
    with open(RECORDS, 'w', encoding='utf-8') as f:
        json.dump(records, f, indent=1, sort_keys=True)
        f.write('\n')


class TestConfigBuilds(TestCase):

    def test_every_config_builds_its_recorded_model(self):
        paths = config_paths()
        self.assertGreater(len(paths), 50)
        records = build_records(paths)
        if os.environ.get(UPDATE_ENV):
            write_records(records)
        with open(RECORDS, encoding='utf-8') as f:
            recorded = json.load(f)
        stale = sorted(set(recorded) - set(records))
        self.assertEqual(
            stale, [], f'records of configs that no longer exist; '
            f'{HOW_TO_UPDATE}')
        for rel, got in records.items():
            with self.subTest(config=rel):
                if rel not in recorded:
                    self.fail(f'{rel} has no record; {HOW_TO_UPDATE}')
                self.assertEqual(
                    got, recorded[rel],
                    f'{rel} builds a model other than its record; '
                    f'{HOW_TO_UPDATE}')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--update',
        action='store_true',
        help=f'write {osp.relpath(RECORDS, REPO)} from the configs')
    args = parser.parse_args(argv)
    records = build_records(config_paths())
    if args.update:
        write_records(records)
        print(f'wrote {len(records)} records to {osp.relpath(RECORDS)}')
        return 0
    json.dump(records, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.path.insert(0, REPO)
    sys.exit(main())
