# Guo et al.'s "fine-to-coarse" CNN baseline (the classifiers stacked from
# the finest level up) on Fashion-MNIST with the fixed-depth tree.
_base_ = ['./fine-and-coarse_resnet18-tiny_fmnist-fixed.py']

model = dict(head=dict(type='HierFineToCoarseHead'))
