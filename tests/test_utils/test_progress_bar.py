# Copyright (c) mmhier contributors. All rights reserved.
import io
import tempfile
from contextlib import redirect_stdout
from unittest import TestCase, mock

import numpy as np

from mmhier.datasets.image_folder_export import export_image_folder
from mmhier.structures import ClassTree
from mmhier.utils.progress_bar import SparseProgressBar


class _Clock:
    """A stand-in for ``time.monotonic`` that moves only when told."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class TestSparseProgressBar(TestCase):

    def _bar(self, n, **kwargs):
        out = io.StringIO()  # not a terminal
        bar = SparseProgressBar(n, file=out, **kwargs)
        return bar, out

    def test_one_line_per_ten_percent_off_a_terminal(self):
        bar, out = self._bar(300, desc='train')
        for _ in range(300):
            bar.update()
        bar.close()
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 10, lines)
        self.assertNotIn('\r', out.getvalue())
        self.assertTrue(lines[0].startswith('train: 30/300 (10%)'), lines[0])
        self.assertTrue(lines[-1].startswith('train: 300/300 (100%)'))

    def test_a_line_every_interval_seconds(self):
        clock = _Clock()
        with mock.patch('mmhier.utils.progress_bar.time.monotonic', clock):
            bar, out = self._bar(1000, interval=5, step=1.0)
            for _ in range(22):  # one step a second, 22 s
                clock.now += 1
                bar.update()
            self.assertEqual(len(out.getvalue().splitlines()), 4)
            bar.close()  # the rest is written on close
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 5)
        self.assertTrue(lines[-1].startswith('22/1000 (2%)'), lines[-1])

    def test_unknown_total(self):
        bar, out = self._bar(0)
        bar.update(7)
        bar.close()
        self.assertTrue(out.getvalue().startswith('completed: 7,'))

    def test_terminal_output_is_mmengine_bar(self):
        bar, out = self._bar(3, tty=True)
        for _ in range(3):
            bar.update()
        bar.close()
        text = out.getvalue()
        self.assertEqual(text.count('\r'), 3)  # redraws in place
        self.assertTrue(text.endswith('\n'))

    def test_bad_arguments_are_named(self):
        with self.assertRaisesRegex(ValueError, 'step=0'):
            SparseProgressBar(3, step=0, file=io.StringIO())
        bar, _ = self._bar(3)
        with self.assertRaisesRegex(ValueError, 'num_tasks=0'):
            bar.update(0)

    def test_converter_log_is_sparse(self):
        """The image-folder writer of the converters, 300 images, no tty."""
        tree = ClassTree.from_dict({'A': ['C', 'D'], 'B': ['E']})
        leaves = [tree.index(n) for n in ('C', 'D', 'E')]
        rng = np.random.default_rng(0)
        imgs = rng.integers(0, 255, (300, 4, 4), dtype=np.uint8)
        out = io.StringIO()
        with tempfile.TemporaryDirectory() as tmp, redirect_stdout(out):
            export_image_folder(imgs, np.array(leaves * 100), tree, tmp,
                                'train')
        lines = out.getvalue().splitlines()
        bar_lines = [
            ln for ln in lines if ln.startswith('train: ') and '/300 (' in ln
        ]
        self.assertEqual(len(bar_lines), 10, lines)
        # the header, ten bar lines, the summary: no blank line, no \r
        self.assertEqual(len(lines), 12, lines)
        self.assertNotIn('\r', out.getvalue())
