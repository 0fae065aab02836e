# Copyright (c) mmhier contributors. All rights reserved.
"""model-index.yml and the metafiles against the configs on disk."""
import glob
import os.path as osp
from unittest import TestCase

import yaml

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(path):
    with open(osp.join(REPO_ROOT, path), encoding='utf-8') as f:
        return yaml.safe_load(f)


def _configs():
    """Every config a user may train: not ``_base_``, not ``_*.py``."""
    out = set()
    for path in glob.glob(
            osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True):
        rel = osp.relpath(path, REPO_ROOT)
        if '_base_' in rel.split(osp.sep) or \
                osp.basename(rel).startswith('_'):
            continue
        out.add(rel.replace(osp.sep, '/'))
    return out


class TestMetafiles(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.index = _load('model-index.yml')
        cls.metafiles = {p: _load(p) for p in cls.index['Import']}

    def _models(self):
        for path, content in self.metafiles.items():
            for model in content['Models']:
                yield path, model

    def test_every_config_is_listed_once(self):
        listed = []
        for _, model in self._models():
            listed.append(model['Config'])
            listed += model.get('Aliases', [])
        dups = {c for c in listed if listed.count(c) > 1}
        self.assertFalse(dups, f'listed more than once: {sorted(dups)}')
        missing = _configs() - set(listed)
        self.assertFalse(
            missing, f'configs in no metafile: {sorted(missing)}; run '
            'python configs/_generate_metafiles.py')

    def test_every_entry_names_an_existing_config(self):
        for path, model in self._models():
            for cfg in [model['Config']] + model.get('Aliases', []):
                self.assertTrue(
                    osp.isfile(osp.join(REPO_ROOT, cfg)),
                    f'{path}: {model["Name"]} names {cfg}, which does not '
                    'exist')
            self.assertEqual(model['Name'],
                             osp.splitext(osp.basename(model['Config']))[0])

    def test_collections_and_readmes(self):
        names = set()
        for path, content in self.metafiles.items():
            for coll in content['Collections']:
                names.add(coll['Name'])
                self.assertTrue(
                    osp.isfile(osp.join(REPO_ROOT, coll['README'])),
                    f'{path}: {coll["README"]}')
        for path, model in self._models():
            self.assertIn(model['In Collection'], names, path)
        model_names = [m['Name'] for _, m in self._models()]
        self.assertEqual(len(model_names), len(set(model_names)))

    def test_results_say_where_they_come_from(self):
        """Each result is either measured here or the paper's, and says so;
        the paper's rows keep the paper's numbers."""
        kinds = set()
        for path, model in self._models():
            for result in model.get('Results', []):
                dataset = result['Dataset']
                kind = ('measured' if '(measured here' in dataset else 'paper'
                        if '(paper, not reproduced here)' in dataset else None)
                self.assertIsNotNone(kind, f'{model["Name"]}: {dataset}')
                kinds.add(kind)
                for name, value in result['Metrics'].items():
                    self.assertIsInstance(value, (int, float), name)
        self.assertEqual(kinds, {'measured', 'paper'})
        by_name = {m['Name']: m for _, m in self._models()}
        # Res-S2S-Pool of the DHNN paper's Table 3, under the name users type
        model = by_name['res50_s2s_pool_oi']
        self.assertEqual(model['Config'], 'configs/hier/res50_s2s_pool_oi.py')
        self.assertEqual(model['Results'][0]['Metrics']['Path F1'], 71.98)
        self.assertEqual(model['Metadata']['Batch Size'], 32)
        # ... and the flat baselines in their own collection
        flat = by_name['res50_flat_custom']
        self.assertEqual(flat['In Collection'], 'Flat baselines')
        self.assertEqual([r['Metrics']['Path Accuracy'] for r in
                          flat['Results']], [62.1, 71.5])

    def test_model_index_loads(self):
        try:
            import modelindex
        except ImportError:
            self.skipTest('model-index is not installed')
        index = modelindex.load(osp.join(REPO_ROOT, 'model-index.yml'))
        self.assertEqual(len(index.models), len(list(self._models())))
        # README paths are relative to the repository root, as in
        # OpenMMLab's own metafiles; model-index checks them against the
        # metafile's folder, so leave those out
        errors = [
            e for e in index.check(silent=True)
            if 'Path to README file' not in e
        ]
        self.assertEqual(errors, [])
