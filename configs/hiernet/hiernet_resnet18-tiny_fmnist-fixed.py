# HierNet (Tempfli and Sandor) on Fashion-MNIST with the fixed-depth
# WordNet tree (classes at the leaves, depth 3), CPU-sized: trunk = stem +
# 4 residual blocks, then 2 blocks per level-1 node and 2 per level-2 node.
_base_ = [
    '../_base_/models/hiernet_resnet18-tiny.py',
    '../_base_/datasets/fashion_mnist_hier_fixed.py',
    '../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py'
]

model = dict(tree={{_base_.class_tree}})

# one predicted path per image (no beam): hdist@1 only
val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=1),
]
test_evaluator = val_evaluator
