# The hierarchical cross-entropy (HXE, Bertinetto et al., "Making Better
# Mistakes", CVPR 2020) on the flat baseline of
# configs/flat/flat_resnet18-tiny_cifar100.py: the conditional
# log-probabilities along the label's path, weighted by exp(-alpha * depth).
# alpha=0.6: see README.md.
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
            type='HierarchicalCrossEntropyLoss',
            tree={{_base_.class_tree}},
            alpha=0.6)))
