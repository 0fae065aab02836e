# The CNN-RNN generator of Guo et al. on CIFAR-100 (superclass, then
# class; their section 4.1.1) with a CPU-sized CNN: greedy decoding over
# all 120 nodes, as in the paper, so a predicted path may be inconsistent
# (HierAccuracy's invalid_path_rate counts them).
_base_ = [
    '../_base_/models/guo_cnn_rnn_resnet18-tiny.py',
    '../_base_/datasets/cifar100_hier.py', '../_base_/schedules/cpu_short.py',
    '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(in_channels=3), head=dict(tree={{_base_.class_tree}}))

# greedy decoding gives one path per image: hdist@1 only
val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=1),
]
test_evaluator = val_evaluator
