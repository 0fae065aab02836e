# Guo et al.'s "fine-and-coarse" CNN baseline (Strategy 3: one classifier
# per level, in parallel) on CIFAR-100 with a CPU-sized CNN.
_base_ = [
    '../_base_/models/guo_multi_level_resnet18-tiny.py',
    '../_base_/datasets/cifar100_hier.py', '../_base_/schedules/cpu_short.py',
    '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(in_channels=3), head=dict(tree={{_base_.class_tree}}))

# each level decodes on its own: one path per image, hdist@1 only
val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=1),
]
test_evaluator = val_evaluator
