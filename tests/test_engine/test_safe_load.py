# Copyright (c) mmhier contributors. All rights reserved.
"""``torch.load`` of mmengine checkpoints through mmhier's allowlist."""
import builtins
import os
import os.path as osp
import pickle
import tempfile
import zipfile
from contextlib import contextmanager
from unittest import TestCase

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, MMLogger
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmhier  # noqa: F401  (applies the allowlist on import)
from mmhier.engine import allow_mmengine_checkpoints, mmengine_safe_globals


class _Evil:
    """An arbitrary object: the kind of thing weights_only must refuse."""

    def __init__(self):
        self.payload = 'anything'


class _Exec:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return os.system, ('echo pwned', )


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.fc(inputs)
        if mode == 'loss':
            return dict(loss=((out.squeeze(1) - labels)**2).mean())
        return out


class _CountIters(Hook):

    def __init__(self):
        self.count = 0

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self.count += 1


class _ToyDataset(Dataset):
    metainfo = dict(classes=('a', ))

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(
            inputs=torch.full((2, ), float(i)),
            labels=torch.tensor(float(i % 2)))


@contextmanager
def _without_allowlist():
    """Torch's own default allowlist only, as in a process without mmhier."""
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        yield
    finally:
        torch.serialization.add_safe_globals(saved)


def _runner(work_dir, max_epochs, **kwargs):
    return Runner(
        model=_ToyModel(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=_ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        experiment_name=f'test_safe_load_{id(kwargs)}_{max_epochs}',
        **kwargs)


class TestAllowMmengineCheckpoints(TestCase):

    def setUp(self):
        self._loggers = set(MMLogger._instance_dict)
        self._scopes = set(DefaultScope._instance_dict)
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        for name in set(MMLogger._instance_dict) - self._loggers:
            MMLogger._instance_dict.pop(name)
        # the Runner made its scope current; give the old one back
        for name in set(DefaultScope._instance_dict) - self._scopes:
            DefaultScope._instance_dict.pop(name)
        self._tmp.cleanup()

    def test_allowlist_names_exactly_what_is_needed(self):
        safe = mmengine_safe_globals()
        names = {
            item[1] if isinstance(item, tuple) else
            f'{item.__module__}.{item.__qualname__}'
            for item in safe
        }
        for name in ('mmengine.logging.history_buffer.HistoryBuffer',
                     'builtins.getattr', 'numpy.ndarray', 'numpy.dtype',
                     'numpy._core.multiarray._reconstruct',
                     'numpy._core.multiarray.scalar',
                     'numpy.core.multiarray._reconstruct',
                     'numpy.core.multiarray.scalar',
                     'numpy.dtypes.Float64DType', 'numpy.dtypes.Int64DType'):
            self.assertIn(name, names)
        # every numpy DType class (aliases such as ByteDType share a class)
        dtypes = {
            getattr(np.dtypes, n)
            for n in dir(np.dtypes) if n.endswith('DType')
        }
        self.assertEqual(len(names), 8 + len(dtypes))
        # nothing that executes code or builds arbitrary objects
        for item in safe:
            obj = item[0] if isinstance(item, tuple) else item
            self.assertNotIn(
                obj,
                (os.system, builtins.eval, builtins.exec, builtins.__import__))
        # applied by `import mmhier`, and applying twice changes nothing
        current = torch.serialization.get_safe_globals()
        for item in safe:
            self.assertIn(item, current)
        allow_mmengine_checkpoints()
        self.assertEqual(
            len(torch.serialization.get_safe_globals()), len(current))

    def test_runner_checkpoint_resumes_and_loads(self):
        work_dir = osp.join(self.tmp, 'run')
        _runner(work_dir, max_epochs=1).train()
        ckpt = osp.join(work_dir, 'epoch_1.pth')
        self.assertTrue(osp.isfile(ckpt))

        # the checkpoint holds what the allowlist is for ...
        state = torch.load(ckpt)  # weights_only=True, torch's default
        buffers = state['message_hub']['log_scalars']
        self.assertIsInstance(buffers['train/loss'], HistoryBuffer)
        # ... and torch refuses it without the allowlist
        with _without_allowlist(), self.assertRaisesRegex(
                pickle.UnpicklingError, 'HistoryBuffer|numpy|getattr'):
            torch.load(ckpt)

        # resume=True continues at epoch 1 with the saved optimizer state
        counter = _CountIters()
        resumed = _runner(
            work_dir,
            max_epochs=2,
            resume=True,
            load_from=ckpt,
            custom_hooks=[counter])
        resumed.train()
        self.assertEqual((resumed.epoch, resumed.iter), (2, 4))
        self.assertTrue(osp.isfile(osp.join(work_dir, 'epoch_2.pth')))
        self.assertEqual(counter.count, 2,
                         'the resumed run should only train epoch 2')

        # load_from (no resume) loads the weights
        loaded = _runner(
            osp.join(self.tmp, 'load'), max_epochs=1, load_from=ckpt)
        loaded.load_or_resume()
        torch.testing.assert_close(loaded.model.fc.weight,
                                   state['state_dict']['fc.weight'])

    def test_numpy1_checkpoint_names_load(self):
        # rewrite a checkpoint as numpy 1.x names its functions
        path = osp.join(self.tmp, 'np1.pth')
        torch.save({'a': np.arange(3), 's': np.float64(1.5)}, path)
        old = osp.join(self.tmp, 'np1_old.pth')
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, 'w') as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename.endswith('data.pkl'):
                    self.assertIn(b'numpy._core.multiarray', data)
                    data = data.replace(b'numpy._core.multiarray',
                                        b'numpy.core.multiarray')
                dst.writestr(info, data)
        out = torch.load(old)
        np.testing.assert_array_equal(out['a'], np.arange(3))
        self.assertEqual(out['s'], 1.5)
        # without the numpy.core aliases this file would be refused
        with _without_allowlist():
            torch.serialization.add_safe_globals([
                item for item in mmengine_safe_globals()
                if not (isinstance(item, tuple)
                        and item[1].startswith('numpy.core.'))
            ])
            torch.load(path)
            with self.assertRaisesRegex(pickle.UnpicklingError,
                                        'numpy.core.multiarray'):
                torch.load(old)

    def test_arbitrary_objects_still_refused(self):
        for obj, match in ((_Evil(), '_Evil'), (_Exec(), 'system')):
            path = osp.join(self.tmp, 'evil.pth')
            torch.save({'state_dict': {}, 'x': obj}, path)
            with self.assertRaisesRegex(pickle.UnpicklingError, match):
                torch.load(path)


def test_checkpoint_with_class_tree_in_meta_loads(tmp_path):
    """mmhier datasets put their ClassTree in the checkpoint's dataset_meta;
    the allowlist lets exactly that type through."""
    from mmhier.engine import mmhier_safe_globals
    from mmhier.structures import ClassTree
    tree = ClassTree.from_dict({'A': ['C', 'D'], 'B': ['E']})
    ckpt = tmp_path / 'tree.pth'
    meta = dict(dataset_meta=dict(classes=tree.names, class_tree=tree))
    torch.save(dict(meta=meta, state_dict={'w': torch.ones(2)}), ckpt)
    loaded = torch.load(ckpt, map_location='cpu')
    assert loaded['meta']['dataset_meta']['class_tree'] == tree
    assert mmhier_safe_globals() == [ClassTree]
