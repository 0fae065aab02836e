# Copyright (c) mmhier contributors. All rights reserved.
from unittest import TestCase

from mmengine.config import Config

from mmhier.engine.dataloader_cfg import use_partial_labels


def make_cfg():
    return Config(
        dict(
            train_dataloader=dict(
                batch_size=8, dataset=dict(type='HierFashionMNIST')),
            train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
            param_scheduler=dict(
                type='CosineAnnealingLR', by_epoch=True, T_max=2)))


class TestUsePartialLabels(TestCase):

    def test_all_labels_wraps_the_dataset_only(self):
        cfg = make_cfg()
        self.assertEqual(use_partial_labels(cfg, 0.25, 40, seed=3), 2)
        ds = cfg.train_dataloader.dataset
        self.assertEqual(ds.type, 'HierCoarseLabelDataset')
        self.assertEqual(ds.dataset.type, 'HierFashionMNIST')
        self.assertEqual((ds.fine_fraction, ds.keep, ds.seed, ds.coarse_depth),
                         (0.25, 'all', 3, 2))
        self.assertEqual(cfg.train_cfg.max_epochs, 2)
        self.assertEqual(cfg.param_scheduler.T_max, 2)

    def test_fine_only_keeps_the_number_of_iterations(self):
        cfg = make_cfg()
        # 40 images at batch 8: 5 iterations an epoch, 10 iterations in
        # all; the 10 fine images make 2 iterations an epoch: 5 epochs
        self.assertEqual(use_partial_labels(cfg, 0.25, 40, keep='fine'), 5)
        self.assertEqual(cfg.train_dataloader.dataset.keep, 'fine')
        self.assertEqual(cfg.train_cfg.max_epochs, 5)
        self.assertEqual(cfg.train_cfg.val_interval, 2)  # 1 * 2.5, rounded
        self.assertEqual(cfg.param_scheduler.T_max, 5)
        # Fashion-MNIST's demo budget: 12,000 images at batch 128, F = 0.1
        cfg = make_cfg()
        cfg.train_dataloader.batch_size = 128
        cfg.train_cfg.max_epochs = 6
        cfg.param_scheduler.T_max = 6
        self.assertEqual(
            use_partial_labels(cfg, 0.1, 12000, keep='fine'),
            round(6 * 94 / 10))

    def test_fine_repeat_keeps_the_number_of_iterations(self):
        cfg = make_cfg()
        cfg.train_dataloader.batch_size = 128
        cfg.train_cfg.max_epochs = 6
        cfg.param_scheduler.T_max = 6
        # 12,000 images, 1,200 fine listed 3 times: 14,400 an epoch, 113
        # iterations instead of 94: 6 * 94 / 113 = 4.99 -> 5 epochs
        self.assertEqual(
            use_partial_labels(cfg, 0.1, 12000, fine_repeat=3), 5)
        self.assertEqual(cfg.train_dataloader.dataset.fine_repeat, 3)
        self.assertEqual(cfg.param_scheduler.T_max, 5)
        # a fine-only set listed 5 times: 50 images, 7 iterations an
        # epoch against 5 on all 40 images: 2 * 5 / 7 = 1.4 -> 1 epoch
        cfg = make_cfg()
        self.assertEqual(
            use_partial_labels(cfg, 0.25, 40, keep='fine', fine_repeat=5), 1)
