# HierNet (Tempfli and Sandor) on CIFAR-100 with its superclass tree (20
# superclasses over 100 classes), CPU-sized: trunk = stem + 6 residual
# blocks, then the last 2 blocks once per superclass. The paper cuts its
# ResNet-56 at 16 of 27 blocks ([16]); ours has 8 blocks.
_base_ = [
    '../_base_/models/hiernet_resnet18-tiny.py',
    '../_base_/datasets/cifar100_hier.py', '../_base_/schedules/cpu_short.py',
    '../_base_/default_runtime.py'
]

model = dict(
    tree={{_base_.class_tree}}, backbone=dict(in_channels=3), split_points=[6])

# one predicted path per image (no beam): hdist@1 only
val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=1),
]
test_evaluator = val_evaluator
