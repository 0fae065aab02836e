# The CNN-RNN generator of Guo et al. on Fashion-MNIST with the
# variable-depth WordNet tree (paths of length 1 to 5): the head adds an
# END output and learns where a path stops, as in the paper's ImageNet
# experiment with labels at different depths (section 4.1.2).
_base_ = [
    '../_base_/models/guo_cnn_rnn_resnet18-tiny.py',
    '../_base_/datasets/fashion_mnist_hier.py',
    '../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(tree={{_base_.class_tree}}, end_token=True))

# greedy decoding gives one path per image: hdist@1 only
val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=1),
]
test_evaluator = val_evaluator
