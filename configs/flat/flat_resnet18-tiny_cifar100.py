# The flat baseline on CIFAR-100 with its two-level tree: one class per
# tree node (the 100 classes are the only labels seen in training), scored
# on the same hierarchical metrics through the implied path of the
# predicted node (DHNN paper, Remark 1).
_base_ = [
    '../_base_/models/flat_resnet18-tiny.py',
    '../_base_/datasets/cifar100_hier.py', '../_base_/schedules/cpu_short.py',
    '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(in_channels=3), head=dict(num_classes={{_base_.num_nodes}}))
