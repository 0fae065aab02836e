# Copyright (c) mmhier contributors. All rights reserved.
"""The CPU distributed fixes: gloo without CUDA, DDP of a CPU module.

The real two-process run is in tests/test_tools/test_dist_train.py; here
one process (world size 1) checks each fix and that mmengine's own code,
which the fixes wrap, fails without them.
"""
import os
import socket
from unittest import TestCase, mock, skipIf

import torch
import torch.distributed as torch_dist
from mmengine.dist import utils as dist_utils
from mmengine.model import MMDistributedDataParallel
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import mmhier  # noqa: F401  (applies the patch on import)
from mmhier.engine import patch_cpu_distributed
from mmhier.engine.cpu_distributed import is_cpu_module, no_accelerator


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_env():
    return {
        'MASTER_ADDR': '127.0.0.1',
        'MASTER_PORT': str(_free_port()),
        'RANK': '0',
        'LOCAL_RANK': '0',
        'WORLD_SIZE': '1',
    }


class TestPatchCpuDistributed(TestCase):

    def tearDown(self):
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()

    def test_applied_once(self):
        patch_cpu_distributed()
        patch_cpu_distributed()
        for init in (dist_utils._init_dist_pytorch,
                     dist_utils._init_dist_slurm):
            self.assertTrue(getattr(init, '_mmhier_cpu_patched'))
            # wrapped exactly once: the inner function is mmengine's own
            self.assertFalse(hasattr(init.__wrapped__, '_mmhier_cpu_patched'))
            self.assertEqual(init.__wrapped__.__module__,
                             'mmengine.dist.utils')
        ddp_init = MMDistributedDataParallel.__init__
        self.assertFalse(hasattr(ddp_init.__wrapped__, '_mmhier_cpu_patched'))

    @skipIf(torch.cuda.is_available(), 'checks the machine without CUDA')
    def test_pytorch_launcher_without_cuda(self):
        self.assertTrue(no_accelerator())
        with mock.patch.dict(os.environ, _dist_env()):
            # mmengine's own function pins a CUDA device and fails
            with self.assertRaises((RuntimeError, AssertionError)):
                dist_utils._init_dist_pytorch.__wrapped__('nccl')
            self.assertFalse(torch_dist.is_initialized())
            # wrapped: the process group comes up with gloo
            dist_utils._init_dist_pytorch('nccl')
            self.assertTrue(torch_dist.is_initialized())
            self.assertEqual(torch_dist.get_backend(), 'gloo')
            self.assertEqual(torch_dist.get_world_size(), 1)

            # DDP of a CPU module, given device_ids as Runner.wrap_model does
            module = nn.Linear(3, 2)
            with self.assertRaisesRegex(ValueError, 'device_ids'):
                DistributedDataParallel(module, device_ids=[0])
            ddp = MMDistributedDataParallel(
                module=module, device_ids=[0], broadcast_buffers=False)
            self.assertIsNone(ddp.device_ids)
            out = ddp(torch.ones(4, 3))
            out.sum().backward()
            self.assertIsNotNone(module.weight.grad)
        # the CUDA pin is only skipped during the call
        self.assertEqual(torch.cuda.set_device.__module__, 'torch.cuda')

    def test_accelerator_path_unchanged(self):
        # on a CUDA machine mmengine's code runs as is: nccl, CUDA device pin
        with mock.patch.dict(os.environ, _dist_env()), \
                mock.patch.object(torch.cuda, 'is_available',
                                  return_value=True), \
                mock.patch.object(torch.cuda, 'set_device') as set_device, \
                mock.patch.object(torch_dist,
                                  'init_process_group') as init_group:
            os.environ['LOCAL_RANK'] = '1'
            dist_utils._init_dist_pytorch('nccl')
        set_device.assert_called_once_with(1)
        init_group.assert_called_once_with(backend='nccl')

    def test_ddp_device_ids_kept_for_non_cpu_module(self):
        captured = {}

        def fake_init(self, module, **kwargs):
            captured.update(kwargs)

        cpu_module = nn.Linear(2, 2)
        meta_module = nn.Linear(2, 2, device='meta')  # stands for a GPU one
        self.assertTrue(is_cpu_module(cpu_module))
        self.assertFalse(is_cpu_module(meta_module))
        self.assertFalse(is_cpu_module(nn.ReLU()))
        with mock.patch.object(DistributedDataParallel, '__init__', fake_init):
            MMDistributedDataParallel(
                module=meta_module, device_ids=[3], output_device=3)
            self.assertEqual(captured['device_ids'], [3])
            self.assertEqual(captured['output_device'], 3)
            captured.clear()
            MMDistributedDataParallel(
                module=cpu_module, device_ids=[3], output_device=3)
            self.assertIsNone(captured['device_ids'])
            self.assertNotIn('output_device', captured)
