# Copyright (c) mmhier contributors. All rights reserved.
"""The README's "Bring your own data" walkthrough, run as written.

The test makes a tiny image folder nested like a tree (2 groups x 2 classes
x 6 images) and a new image, then runs the README's code block with bash in
a scratch folder that looks like the repository root (``tools``, ``configs``
and ``mmhier`` link to the checkout), so nothing lands in the checkout.
About 50 s on two cores.
"""
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
from unittest import TestCase

import cv2
import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SECTION = '## Bring your own data'


def readme_block(section: str = SECTION) -> str:
    """The first ```bash block of ``section`` in README.md."""
    with open(osp.join(REPO_ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    start = text.index(section + '\n')
    end = text.find('\n## ', start + len(section))
    body = text[start:end if end > 0 else len(text)]
    match = re.search(r'```bash\n(.*?)```', body, re.S)
    if match is None:
        raise AssertionError(f'no ```bash block in {section!r}')
    return match.group(1)


def make_images(root: str) -> None:
    """A colour per group, stripes or not per class."""
    rng = np.random.default_rng(0)
    classes = ('animal/cat', 'animal/dog', 'vehicle/car', 'vehicle/boat')
    for k, path in enumerate(classes):
        os.makedirs(osp.join(root, path))
        for i in range(6):
            img = rng.integers(0, 60, (40, 40, 3)).astype(np.uint8)
            img[..., k // 2] += 180
            if k % 2:
                img[::4] = 255
            cv2.imwrite(osp.join(root, path, f'{i:04d}.jpg'), img)


class TestBringYourOwnData(TestCase):

    def test_readme_walkthrough(self):
        block = readme_block()
        # the commands the README promises, in order
        steps = [
            'tools/dataset_converters/folder_to_hier.py', 'tools/train.py',
            'tools/predict.py'
        ]
        positions = [block.index(s) for s in steps]
        self.assertEqual(positions, sorted(positions))

        with tempfile.TemporaryDirectory() as tmp:
            for name in ('tools', 'configs', 'mmhier'):
                os.symlink(osp.join(REPO_ROOT, name), osp.join(tmp, name))
            make_images(osp.join(tmp, 'my_images'))
            img = cv2.imread(
                osp.join(tmp, 'my_images', 'vehicle', 'boat', '0000.jpg'))
            cv2.imwrite(osp.join(tmp, 'new_image.jpg'), img[::-1])

            env = dict(
                os.environ,
                PATH=osp.dirname(sys.executable) + os.pathsep +
                os.environ.get('PATH', ''),
                OMP_NUM_THREADS='1',
                CUDA_VISIBLE_DEVICES='')
            proc = subprocess.run(['bash', '-euo', 'pipefail', '-c', block],
                                  cwd=tmp,
                                  env=env,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT,
                                  text=True,
                                  timeout=600)
            out = proc.stdout
            self.assertEqual(proc.returncode, 0, out[-5000:])

            # the converter: the tree of the folders, the splits
            self.assertIn('24 images in 4 classes', out)
            self.assertIn('nodes_per_level=[2, 4], leaves=4', out)
            data = osp.join(tmp, 'data', 'custom_hier')
            for name in ('tree.json', 'train.txt', 'val.txt', 'test.txt'):
                self.assertTrue(osp.isfile(osp.join(data, name)), name)
            with open(osp.join(data, 'val.txt')) as f:
                self.assertEqual(len(f.read().splitlines()), 4)
            # training: 3 epochs, validated with the hierarchical metrics
            self.assertIn('Epoch(val) [3]', out)
            self.assertIn('hier/path_acc', out)
            self.assertTrue(
                osp.isfile(
                    osp.join(tmp, 'work_dirs', 'my_config', 'epoch_3.pth')))
            # prediction: 5 ranked paths over the tree, and the picture
            lines = out[out.index('new_image.jpg\n'):].splitlines()
            ranked = [ln for ln in lines if re.match(r'\s+\d\.\s+\S+%', ln)]
            self.assertEqual(len(ranked), 5, lines)
            names = {'animal', 'cat', 'dog', 'vehicle', 'car', 'boat'}
            for line in ranked:
                path = line.split('%', 1)[1].strip().split(' > ')
                self.assertTrue(set(path) <= names, line)
            picture = osp.join(tmp, 'predictions', 'new_image.png')
            self.assertTrue(osp.isfile(picture))
            self.assertGreater(cv2.imread(picture).shape[1], 400)
