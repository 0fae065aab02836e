# DHNN CNN-RNN (fixed path length: superclass, then class) with the pooling
# conversion on CIFAR-100: a CPU-sized model. Compare with
# ../flat/flat_resnet18-tiny_cifar100.py.
_base_ = [
    '../_base_/models/dhnn_rnn_resnet18-tiny.py',
    '../_base_/datasets/cifar100_hier.py', '../_base_/schedules/cpu_short.py',
    '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(in_channels=3),
    neck=dict(input_size=32, stage_groups=[[0, 1], [2, 3]]),  # T = 2
    head=dict(tree={{_base_.class_tree}}))
