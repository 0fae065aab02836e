# Copyright (c) mmhier contributors. All rights reserved.
"""The op and host-sync counting of ``benchmarks/overhead.py``
(:func:`mmhier.utils.count_ops`) on tiny cases counted by hand."""
import unittest

import torch

from mmhier.utils import count_ops


class TestCountOps(unittest.TestCase):

    def test_work_ops_leave_views_out(self):
        x = torch.rand(4, 3)
        got = count_ops(lambda: (x.view(12), x.t(), x[0], x.unsqueeze(0),
                                 x.reshape(3, 4), x.expand(2, 4, 3)))
        self.assertEqual(got, (0, 0, {}))
        # a reshape that has to copy does work; so do softmax and sum
        got = count_ops(lambda: x.t().reshape(12).softmax(-1).sum())
        self.assertEqual(got.work_ops, 3)
        self.assertEqual(got.host_syncs, 0)

    def test_host_syncs(self):
        x = torch.rand(8, 3)
        tolist = torch.Tensor.tolist

        def work():
            x.sum().item()  # 1 op, 1 sync
            if (x > 2).any():  # 2 ops, 1 sync (is_nonzero)
                pass
            x[x > 0.5]  # 2 ops, 1 sync (index -> nonzero)
            torch.nonzero(x > 0.9)  # 2 ops, 1 sync
            x.max(-1).values.tolist()  # 1 op, 1 sync seen by patching
            x.numpy()  # 1 sync

        got = count_ops(work)
        self.assertEqual(
            got.syncs, {
                'Tensor.numpy': 1,
                'Tensor.tolist': 1,
                'aten::index': 1,
                'aten::is_nonzero': 1,
                'aten::item': 1,
                'aten::nonzero': 1
            })
        self.assertEqual(got.host_syncs, 6)
        self.assertEqual(got.work_ops, 8)
        # the patch is gone afterwards
        self.assertIs(torch.Tensor.tolist, tolist)

    def test_async_assert_is_work_not_a_sync(self):
        x = torch.rand(8)
        got = count_ops(lambda: torch._assert_async((x >= 0).all(), 'no'))
        self.assertEqual(got, (3, 0, {}))

    def test_backward_and_optimizer_are_looked_through(self):
        w = torch.rand(3, requires_grad=True)
        x = torch.rand(4, 3)
        opt = torch.optim.SGD([w], lr=0.1, foreach=True)

        def step():
            (x * w).sum().backward()
            opt.step()
            opt.zero_grad()

        step()
        got = count_ops(step)
        # forward mul and sum (+ the ones_like seeding backward), backward
        # mul and the reduction of the broadcast, and the SGD update: all
        # counted, none a sync
        self.assertEqual(got.host_syncs, 0)
        self.assertGreaterEqual(got.work_ops, 6)


if __name__ == '__main__':
    unittest.main()
