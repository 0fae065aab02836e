# The CNN-RNN generator of Guo et al. on Fashion-MNIST with the fixed-depth
# WordNet tree (three labels per image, coarse to fine), CPU-sized: greedy
# decoding over all 18 nodes, as in the paper.
_base_ = [
    '../_base_/models/guo_cnn_rnn_resnet18-tiny.py',
    '../_base_/datasets/fashion_mnist_hier_fixed.py',
    '../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(tree={{_base_.class_tree}}))

# greedy decoding gives one path per image: hdist@1 only
val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=1),
]
test_evaluator = val_evaluator
