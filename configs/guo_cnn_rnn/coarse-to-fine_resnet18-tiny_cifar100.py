# Guo et al.'s "coarse-to-fine" CNN baseline (Strategy 1: the fine
# classifier stacked on the coarse one) on CIFAR-100 with a CPU-sized CNN.
_base_ = ['./fine-and-coarse_resnet18-tiny_cifar100.py']

model = dict(head=dict(type='HierCoarseToFineHead'))
