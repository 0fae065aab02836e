# DHNN CNN-RNN (fixed path length) with the pooling conversion on
# Fashion-MNIST and its fixed-depth WordNet tree (every class at depth 3):
# a CPU-sized model that trains in minutes. Compare with
# ../flat/flat_resnet18-tiny_fmnist-fixed.py.
_base_ = [
    '../_base_/models/dhnn_rnn_resnet18-tiny.py',
    '../_base_/datasets/fashion_mnist_hier_fixed.py',
    '../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(tree={{_base_.class_tree}}))
