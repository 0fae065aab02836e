# DHNN CNN-S2S with the pooling conversion on CIFAR-100 and its two-level
# tree (20 superclasses over 100 classes): a CPU-sized model. Compare with
# ../flat/flat_resnet18-tiny_cifar100.py.
_base_ = [
    '../_base_/models/dhnn_s2s_resnet18-tiny.py',
    '../_base_/datasets/cifar100_hier.py', '../_base_/schedules/cpu_short.py',
    '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(in_channels=3),
    neck=dict(input_size=32),
    head=dict(tree={{_base_.class_tree}}))
