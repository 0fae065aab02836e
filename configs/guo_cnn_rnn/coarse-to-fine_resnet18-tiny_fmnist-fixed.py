# Guo et al.'s "coarse-to-fine" CNN baseline (the classifiers stacked from
# the coarsest level down) on Fashion-MNIST with the fixed-depth tree.
_base_ = ['./fine-and-coarse_resnet18-tiny_fmnist-fixed.py']

model = dict(head=dict(type='HierCoarseToFineHead'))
