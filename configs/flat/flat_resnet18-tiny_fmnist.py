# The flat baseline on Fashion-MNIST with the variable-depth WordNet tree:
# one class per tree node, scored on the same hierarchical metrics as
# ../hier/s2s-pool_resnet18-tiny_fmnist.py through the implied path of
# the predicted node (DHNN paper, Remark 1).
_base_ = [
    '../_base_/models/flat_resnet18-tiny.py',
    '../_base_/datasets/fashion_mnist_hier.py',
    '../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(num_classes={{_base_.num_nodes}}))
