# DHNN CNN-S2S with the pooling conversion on Fashion-MNIST and its
# variable-depth WordNet tree (paths of length 1 to 5): a CPU-sized model
# that trains in minutes. Compare with
# ../flat/flat_resnet18-tiny_fmnist.py.
_base_ = [
    '../_base_/models/dhnn_s2s_resnet18-tiny.py',
    '../_base_/datasets/fashion_mnist_hier.py',
    '../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(tree={{_base_.class_tree}}))
