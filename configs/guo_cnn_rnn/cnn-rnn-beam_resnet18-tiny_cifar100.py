# The CNN-RNN generator of Guo et al. on CIFAR-100 with tree-constrained
# beam search (k = 5) instead of the paper's greedy decoding (our addition:
# every predicted path is a path of the tree).
_base_ = ['./cnn-rnn_resnet18-tiny_cifar100.py']

model = dict(head=dict(decoder='beam', beam_size=5))

val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=(1, 5)),
]
test_evaluator = val_evaluator
