# Soft labels from the class tree (Bertinetto et al., "Making Better
# Mistakes", CVPR 2020) on the flat baseline of
# configs/flat/flat_resnet18-tiny_cifar100.py: the one-hot target of a
# class becomes exp(-beta * d) over the leaves, d the tree distance divided
# by its maximum. beta=10: see README.md.
_base_ = [
    '../_base_/models/flat_resnet18-tiny.py',
    '../_base_/datasets/cifar100_hier.py',
    '../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(in_channels=3),
    head=dict(
        num_classes={{_base_.num_nodes}},
        loss=dict(
            _delete_=True,
            type='HierSoftLabelLoss',
            tree={{_base_.class_tree}},
            beta=10.0)))
