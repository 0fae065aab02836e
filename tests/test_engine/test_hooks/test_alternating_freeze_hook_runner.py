# Copyright (c) mmhier contributors. All rights reserved.
"""AlternatingFreezeHook in real training: mmengine's Runner in one
process and a 2-process CPU DDP run (the toy set-up of
``_ddp_freeze_worker.py``)."""
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys
import tempfile
import uuid
from unittest import TestCase

import torch
from mmengine.logging import MMLogger

import mmhier  # noqa: F401

HERE = osp.dirname(osp.abspath(__file__))
WORKER = osp.join(HERE, '_ddp_freeze_worker.py')
_spec = importlib.util.spec_from_file_location('_ddp_freeze_worker', WORKER)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)


class TestAlternatingFreezeHookRunner(TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        MMLogger._instance_dict.clear()
        self.tmp.cleanup()

    def run_runner(self,
                   freeze_cfg,
                   optimizer,
                   train_cfg,
                   per_iter=False,
                   **kwargs):
        recorder = worker.RecorderHook(per_iter=per_iter)
        runner = worker.build_runner(
            self.tmp.name,
            freeze_cfg=freeze_cfg,
            recorder=recorder,
            optimizer=optimizer,
            train_cfg=train_cfg,
            name=f'freeze_{uuid.uuid4().hex[:8]}',
            **kwargs)
        runner.train()
        return recorder.results()

    def assert_step(self, before, after, frozen, trained, msg=''):
        """Every key of part ``frozen`` bit-identical, ``trained`` moved."""
        for key in before:
            if key.startswith(frozen + '.'):
                self.assertTrue(
                    torch.equal(before[key], after[key]),
                    f'{msg}: frozen {key} changed')
        moved = [
            k for k in before
            if k.startswith(trained + '.') and 'num_batches' not in k
            and not torch.equal(before[k], after[k])
        ]
        self.assertTrue(moved, f'{msg}: nothing of {trained} changed')

    def test_runner_by_epoch_adamw(self):
        res = self.run_runner(
            dict(type='AlternatingFreezeHook', period=1, unfreeze_all_after=2),
            optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.05),
            train_cfg=dict(by_epoch=True, max_epochs=3))
        snaps = res['snapshots']
        self.assertEqual(len(snaps), 4)
        # epoch 0: RNN trained; backbone weights AND BN statistics frozen
        self.assert_step(snaps[0], snaps[1], 'backbone', 'head', 'epoch 0')
        # epoch 1: CNN trained (its BN statistics move again)
        self.assert_step(snaps[1], snaps[2], 'head', 'backbone', 'epoch 1')
        self.assertFalse(
            torch.equal(snaps[1]['backbone.bn1.running_mean'],
                        snaps[2]['backbone.bn1.running_mean']))
        # epoch 2: everything
        self.assert_step(snaps[2], snaps[3], 'none', 'backbone', 'epoch 2')
        self.assert_step(snaps[2], snaps[3], 'none', 'head', 'epoch 2')
        self.assertEqual([m['epoch'] for m in res['modes']],
                         [0] * 4 + [1] * 4 + [2] * 4)
        for m in res['modes']:
            self.assertEqual(all(m['backbone_grad']), m['epoch'] != 0)
            self.assertEqual(not any(m['backbone_grad']), m['epoch'] == 0)
            self.assertEqual(all(m['backbone_bn_training']), m['epoch'] != 0)
            self.assertEqual(all(m['head_grad']), m['epoch'] != 1)
            self.assertEqual(m['head_training'], m['epoch'] != 1)
        self.assertEqual(len(res['messages']), 3)
        self.assertIn("phase 'rnn' from epoch 0", res['messages'][0])
        self.assertIn("phase 'all' from epoch 2", res['messages'][2])

    def test_runner_authors_open_images_scheme(self):
        # alt1=3, alt2=6 scaled down to alt1=1: the RNN part alone in
        # epochs 0 and 1, everything from epoch 2 (epoch > alt1) on
        res = self.run_runner(
            dict(
                type='AlternatingFreezeHook',
                period=6,
                unfreeze_all_after=1 + 1),
            optimizer=dict(type='Adam', lr=0.01),
            train_cfg=dict(by_epoch=True, max_epochs=3))
        snaps = res['snapshots']
        phases = worker.authors_phases(alt1=1, alt2=6, n_epoch=3)
        self.assertEqual(phases, ['rnn', 'rnn', 'all'])
        for epoch, phase in enumerate(phases):
            if phase == 'rnn':
                self.assert_step(snaps[epoch], snaps[epoch + 1], 'backbone',
                                 'head', f'epoch {epoch}')
            else:
                self.assert_step(snaps[epoch], snaps[epoch + 1], 'none',
                                 'backbone', f'epoch {epoch}')
                self.assert_step(snaps[epoch], snaps[epoch + 1], 'none',
                                 'head', f'epoch {epoch}')
        for m in res['modes']:
            self.assertEqual(all(m['backbone_grad']), m['epoch'] == 2)
            self.assertEqual(any(m['backbone_grad']), m['epoch'] == 2)
        self.assertEqual(len(res['messages']), 2)
        self.assertIn("phase 'rnn' from epoch 0", res['messages'][0])
        self.assertIn("phase 'all' from epoch 2", res['messages'][1])

    def test_runner_by_iter_switches_mid_epoch(self):
        # 4 iterations per epoch; phases switch inside epochs 0 and 1
        res = self.run_runner(
            dict(
                type='AlternatingFreezeHook',
                by_epoch=False,
                phases=[
                    dict(begin=0, end=3, train='rnn'),
                    dict(begin=3, end=6, train='cnn'),
                    dict(begin=6, train='all')
                ]),
            optimizer=dict(
                type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-3),
            train_cfg=dict(by_epoch=True, max_epochs=2),
            per_iter=True)
        snaps = res['snapshots']
        self.assertEqual(len(snaps), 9)
        self.assertEqual([m['iter'] for m in res['modes']], list(range(8)))
        for it in range(8):
            frozen, trained = (('backbone', 'head') if it < 3 else
                               ('head', 'backbone') if it < 6 else
                               ('none', 'backbone'))
            self.assert_step(snaps[it], snaps[it + 1], frozen, trained,
                             f'iter {it}')
            mode = res['modes'][it]
            self.assertEqual(all(mode['backbone_bn_training']), it >= 3)
            self.assertEqual(mode['head_training'], not 3 <= it < 6)
        self.assertEqual(len(res['messages']), 3)
        self.assertIn("phase 'cnn' from iter 3", res['messages'][1])

    def test_runner_resume_mid_schedule(self):
        # period=1, everything from epoch 2: rnn, cnn, all
        freeze = dict(
            type='AlternatingFreezeHook', period=1, unfreeze_all_after=2)
        sgd = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-3)
        first = self.run_runner(
            freeze,
            sgd,
            train_cfg=dict(by_epoch=True, max_epochs=1),
            checkpoint=True)
        MMLogger._instance_dict.clear()
        res = self.run_runner(
            freeze,
            sgd,
            train_cfg=dict(by_epoch=True, max_epochs=3),
            resume=True,
            load_from=osp.join(self.tmp.name, 'epoch_1.pth'))
        snaps = res['snapshots']
        for k, v in first['snapshots'][-1].items():
            self.assertTrue(torch.equal(v, snaps[0][k]), f'{k} not resumed')
        self.assertEqual([m['epoch'] for m in res['modes']], [1] * 4 + [2] * 4)
        # the new hook starts in the right phase and says so
        self.assertEqual(len(res['messages']), 2)
        self.assertIn("phase 'cnn' from epoch 1", res['messages'][0])
        self.assertIn("phase 'all' from epoch 2", res['messages'][1])
        self.assert_step(snaps[0], snaps[1], 'head', 'backbone', 'epoch 1')
        self.assert_step(snaps[1], snaps[2], 'none', 'head', 'epoch 2')

    def test_ddp_two_processes(self):
        """A real 2-process CPU DDP run (gloo) of an alternating scheme."""
        out = self.tmp.name
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        procs = []
        for rank in range(2):
            env = dict(
                os.environ,
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                WORLD_SIZE='2',
                MASTER_ADDR='127.0.0.1',
                MASTER_PORT=str(port),
                OMP_NUM_THREADS='1',
                PYTHONPATH=os.pathsep.join(
                    [os.getcwd(),
                     os.environ.get('PYTHONPATH', '')]))
            log = open(osp.join(out, f'log{rank}.txt'), 'w')
            procs.append((subprocess.Popen([sys.executable, WORKER, out],
                                           env=env,
                                           stdout=log,
                                           stderr=subprocess.STDOUT), log))
        try:
            for proc, log in procs:
                proc.wait(timeout=180)
        finally:
            for proc, log in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                log.close()
        for rank, (proc, _) in enumerate(procs):
            with open(osp.join(out, f'log{rank}.txt')) as f:
                tail = f.read()[-3000:]
            self.assertEqual(proc.returncode, 0, f'rank {rank}:\n{tail}')

        results = [
            torch.load(osp.join(out, f'rank{r}.pt'), weights_only=False)
            for r in range(2)
        ]
        for rank, res in enumerate(results):
            self.assertEqual(res['wrapper'], 'MMDistributedDataParallel')
            self.assertEqual(res['world_size'], 2)
            self.assertEqual(res['backend'], 'gloo')
            snaps = res['snapshots']
            self.assertEqual(len(snaps), 4)
            # SGD with momentum and weight decay: frozen still bit-identical
            self.assert_step(snaps[0], snaps[1], 'backbone', 'head',
                             f'rank {rank} epoch 0')
            self.assert_step(snaps[1], snaps[2], 'head', 'backbone',
                             f'rank {rank} epoch 1')
            self.assert_step(snaps[2], snaps[3], 'none', 'head',
                             f'rank {rank} epoch 2')
            self.assertEqual(len(res['messages']), 3)
            for m in res['modes']:
                self.assertEqual(
                    any(m['backbone_bn_training']), m['epoch'] != 0)
                self.assertEqual(m['head_training'], m['epoch'] != 1)
        # all parameters equal across the ranks, at the end and after each
        # phase (BN statistics are not synced: broadcast_buffers=False)
        names = [
            k for k in results[0]['snapshots'][0]
            if 'running_' not in k and 'num_batches' not in k
        ]
        for e in range(4):
            for k in names:
                self.assertTrue(
                    torch.equal(results[0]['snapshots'][e][k],
                                results[1]['snapshots'][e][k]),
                    f'{k} differs between ranks after epoch {e}')
        # the frozen backbone's BN statistics were equal on both ranks
        # before epoch 0 and did not move during it on either rank
        for k in results[0]['snapshots'][0]:
            if k.startswith('backbone.') and 'running_' in k:
                for res in results:
                    self.assertTrue(
                        torch.equal(res['snapshots'][0][k],
                                    results[0]['snapshots'][0][k]))
                    self.assertTrue(
                        torch.equal(res['snapshots'][0][k],
                                    res['snapshots'][1][k]))
