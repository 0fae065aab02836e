# Guo et al.'s "fine-and-coarse" CNN baseline (one classifier per level, in
# parallel) on Fashion-MNIST with the fixed-depth WordNet tree, CPU-sized.
_base_ = [
    '../_base_/models/guo_multi_level_resnet18-tiny.py',
    '../_base_/datasets/fashion_mnist_hier_fixed.py',
    '../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(tree={{_base_.class_tree}}))

# each level decodes on its own: one path per image, hdist@1 only
val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=1),
]
test_evaluator = val_evaluator
