# Copyright (c) mmhier contributors. All rights reserved.
"""tools/dataset_converters/openimages_hier.py on fixtures in the real Open
Images formats."""
import contextlib
import io
import json
import os
import os.path as osp
import sys
import tempfile
from unittest import TestCase

from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS

import mmhier  # noqa: F401
from mmhier.structures import PATH_END as E
from mmhier.structures import ClassTree

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
OI = osp.join(REPO, 'tests', 'data', 'datasets', 'openimages')
sys.path.insert(0, HERE)
from converter_helpers import TOOLS, load_tool, quiet  # noqa: E402


class TestOpenImagesHier(TestCase):
    """openimages_hier.py on fixtures in the real Open Images formats."""

    @classmethod
    def setUpClass(cls):
        cls.tool = load_tool('openimages_hier')

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = osp.join(self.tmp.name, 'out')

    def tearDown(self):
        self.tmp.cleanup()
        MMLogger._instance_dict.clear()

    def convert(self, spec, *extra, labels=None):
        args = self.tool.parse_args([
            '--class-descriptions',
            osp.join(OI, 'class-descriptions-boxable.csv'), '--hierarchy',
            osp.join(OI, 'bbox_labels_600_hierarchy.json'), '--labels', labels
            or osp.join(OI, 'train-annotations-human-imagelabels.csv'),
            '--spec', spec, '--out-dir', self.out, '--name', 'train',
            '--img-prefix', 'train/', *extra
        ])
        summary, printed = quiet(self.tool.convert, args)
        return summary, printed

    def test_dhnn_tree_and_dataset(self):
        summary, printed = self.convert(
            osp.join(TOOLS, 'specs', 'dhnn_oi_tree.json'))
        # The tree of the spec: 30 nodes, 2 / 4 / 24 per level, 10 / 6 / 6 / 2
        # leaves under the level-2 nodes.
        tree = ClassTree.load(summary['tree'])
        self.assertEqual(tree.num_nodes, 30)
        self.assertEqual([len(lv) for lv in tree.levels], [2, 4, 24])
        self.assertEqual([len(tree.children(i)) for i in tree.levels[1]],
                         [10, 6, 6, 2])
        self.assertEqual(
            tree.decode(tree.path('Human foot')),
            ['Person', 'Human body', 'Human foot'])
        self.assertEqual(
            tree.decode(tree.path('Hat')), ['Person', 'Human outfit', 'Hat'])
        self.assertEqual(tree.ids[tree.index('Human foot')], '/m/031n1')
        self.assertIsNone(tree.ids[tree.index('Human outfit')])
        # Counts worked out by hand from the 16 label rows of the fixture.
        expected = dict(
            label_rows=16,
            positives=12,
            verified_negatives=3,
            low_confidence=1,
            unknown_labels=1,
            outside_tree=2,
            malformed_rows=0,
            images=9,
            images_kept=6,
            images_dropped=3,
            paths=7,
            ancestor_paths_dropped=2,
            samples_per_level=[6, 5, 4])
        self.assertEqual({k: summary[k] for k in expected}, expected)
        self.assertEqual(summary['unknown_label_examples'], {'/m/0zzzzzz': 1})
        self.assertIn('images 9: kept 6, dropped (no label in the tree) 3',
                      printed)
        with open(osp.join(self.out, 'train_summary.json')) as f:
            self.assertEqual(json.load(f)['images_dropped'], 3)

        # The annotation loads with HierDataset (images present).
        with open(summary['annotations']) as f:
            entries = json.load(f)['data_list']
        for e in entries:
            os.makedirs(osp.join(self.out, 'train'), exist_ok=True)
            open(osp.join(self.out, e['img_path']), 'wb').close()
        ds = DATASETS.build(
            dict(
                type='HierDataset',
                ann_file=summary['annotations'],
                data_prefix=self.out,
                multi_label=True))
        self.assertEqual(len(ds), 6)
        self.assertEqual(ds.metainfo['class_tree'], tree)
        self.assertEqual(ds.level_counts().tolist(), [6, 5, 4])
        counts = dict(zip(tree.names, ds.node_counts().tolist()))
        self.assertEqual({
            k: v
            for k, v in counts.items() if v
        }, {
            'Person': 4,
            'Land vehicle': 2,
            'Human body': 2,
            'Human outfit': 2,
            'Car': 1,
            'Bicycle': 1,
            'Human foot': 1,
            'Hat': 1,
            'Shirt': 1,
            'Wheel': 1,
            'Bicycle helmet': 1
        })
        by_image = {
            osp.basename(ds.get_data_info(i)['img_path']):
            [tree.decode(p) for p in ds.get_data_info(i)['gt_path']]
            for i in range(len(ds))
        }
        # Tire (Confidence 0) is a verified negative: no path; Car is an
        # ancestor of Wheel: dropped.
        self.assertEqual(by_image['000a1249af2bc5f2.jpg'],
                         [['Land vehicle', 'Car', 'Wheel']])
        self.assertEqual(by_image['000a1249af2bc5f0.jpg'],
                         [['Person', 'Human body', 'Human foot'],
                          ['Person', 'Human outfit', 'Hat']])
        self.assertEqual(by_image['000a1249af2bc5f6.jpg'], [['Person']])
        self.assertEqual(ds.get_data_info(4)['gt_path'].tolist(), [[0, E, E]])
        # Car (Confidence 0) is the only label of image ...f1 besides Dog.
        self.assertNotIn('000a1249af2bc5f1.jpg', by_image)

    def test_subtree_mapping_and_text_output(self):
        summary, _ = self.convert(
            osp.join(OI, 'spec_clothing.json'), '--format', 'txt')
        tree = ClassTree.load(summary['tree'])
        # Clothing one level deep, Helmet excluded; Land vehicle a leaf.
        self.assertEqual(tree.names, [
            'Clothing', 'Land vehicle', 'Hat', 'Shirt', 'Jacket', 'Trousers',
            'Dress', 'Footwear'
        ])
        with open(summary['annotations']) as f:
            lines = f.read().splitlines()
        # Boot maps to Footwear, Car to Land vehicle (map_descendants);
        # Bicycle helmet is below the excluded Helmet: not mapped; Jeans
        # has Confidence 0.3 < 0.5.
        self.assertEqual(lines, [
            'train/000a1249af2bc5f0.jpg\tClothing/Hat',
            'train/000a1249af2bc5f2.jpg\tLand vehicle',
            'train/000a1249af2bc5f5.jpg\tClothing/Footwear',
            'train/000a1249af2bc5f8.jpg\tClothing/Shirt'
        ])
        self.assertEqual((summary['outside_tree'], summary['images_dropped']),
                         (7, 5))
        ds = DATASETS.build(
            dict(
                type='HierDataset',
                ann_file=summary['annotations'],
                tree=summary['tree'],
                check_files=False))
        self.assertEqual(len(ds), 4)
        self.assertEqual(ds.get_data_info(1)['gt_path'].tolist(), [[1, E]])
        # A lower threshold lets Jeans (0.3) in, as Trousers.
        summary, _ = self.convert(
            osp.join(OI, 'spec_clothing.json'), '--min-confidence', '0.2')
        with open(summary['annotations']) as f:
            last = json.load(f)['data_list'][-1]
        self.assertEqual(last['gt_label'],
                         [['Clothing', 'Shirt'], ['Clothing', 'Trousers']])

    def test_class_list_and_ancestor_paths(self):
        spec = osp.join(self.tmp.name, 'spec.yaml')
        with open(spec, 'w') as f:
            f.write('relations: [Subcategory, Part]\n'
                    'classes: [Person, Human foot, Land vehicle, /m/083wq, '
                    'Car]\n')
        summary, _ = self.convert(spec, '--keep-ancestor-paths')
        tree = ClassTree.load(summary['tree'])
        # Induced from the hierarchy: Human foot -(Part)- Human body -(Part)-
        # Person; Wheel -(Subcategory)- Auto part -(Part)- Land vehicle.
        self.assertEqual(
            tree.to_paths(),
            ['Person/Human foot', 'Land vehicle/Wheel', 'Land vehicle/Car'])
        with open(summary['annotations']) as f:
            first = json.load(f)['data_list'][0]
        self.assertEqual(first['gt_label'],
                         [['Person'], ['Person', 'Human foot']])
        self.assertEqual(summary['ancestor_paths_dropped'], 0)

    def test_bad_input(self):
        tool = self.tool
        labels = osp.join(self.tmp.name, 'labels.csv')
        with open(labels, 'w') as f:  # no header: the official column order
            f.write('000a1249af2bc5f0,verification,/m/01g317,1\n'
                    '000a1249af2bc5f1,verification,/m/01g317\n'
                    '000a1249af2bc5f2,verification,/m/031n1,1\n')
        spec = osp.join(TOOLS, 'specs', 'dhnn_oi_tree.json')
        with self.assertRaisesRegex(tool.ConversionError,
                                    r'labels.csv, line 2: malformed row'):
            self.convert(spec, labels=labels)
        summary, _ = self.convert(spec, '--on-error', 'skip', labels=labels)
        self.assertEqual((summary['malformed_rows'], summary['images_kept']),
                         (1, 2))
        self.assertRegex(summary['problems'][0], 'line 2: malformed row')

        bad_spec = osp.join(self.tmp.name, 'bad.json')
        for tree, message in (
            (['Person',
              'Human tail'], r"tree\[1\]: unknown class 'Human tail'"),
            ([{
                'class': 'Person',
                'children': ['Dog', 'Dog']
            }], r"tree\[0\].children\[1\]: node 'Dog' is in the tree twice"),
            ([{
                'group': 'X',
                'class': 'Dog'
            }], 'exactly one of'),
            ([{
                'class': 'Dog',
                'kids': []
            }], r"unknown keys \['kids'\]"),
        ):
            with open(bad_spec, 'w') as f:
                json.dump({'tree': tree}, f)
            with self.assertRaisesRegex(tool.ConversionError, message):
                self.convert(bad_spec)
        # main() reports the error and exits with 1.
        with contextlib.redirect_stderr(io.StringIO()) as err:
            code = tool.main([
                '--class-descriptions',
                osp.join(OI, 'class-descriptions-boxable.csv'), '--hierarchy',
                osp.join(OI, 'bbox_labels_600_hierarchy.json'), '--labels',
                labels, '--spec', bad_spec, '--out-dir', self.out
            ])
        self.assertEqual(code, 1)
        self.assertIn('error: ', err.getvalue())

    def test_readers(self):
        tool = self.tool
        path = osp.join(self.tmp.name, 'desc.csv')
        with open(path, 'w') as f:  # newer releases have a header
            f.write('LabelName,DisplayName\n/m/0bl9f,Entity\n'
                    '/m/01g317,"Person"\n')
        self.assertEqual(
            dict(tool.read_class_descriptions(path)), {
                '/m/0bl9f': 'Entity',
                '/m/01g317': 'Person'
            })
        hier = tool.Hierarchy.load(
            osp.join(OI, 'bbox_labels_600_hierarchy.json'))
        # Human body is written twice in the JSON: its parts merged once.
        self.assertEqual(len(hier.kids('/m/02p0tk3', ['Part'])), 11)
        self.assertEqual(hier.ups('/m/02p0tk3', ['Part']), ['/m/01g317'])
        with open(path, 'w') as f:
            f.write('{"LabelName": "/m/0bl9f",\n "Subcategory": [}\n')
        with self.assertRaisesRegex(tool.ConversionError,
                                    r'desc.csv, line 2: invalid JSON'):
            tool.Hierarchy.load(path)
