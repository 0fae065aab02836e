# Guo et al.'s "fine-to-coarse" CNN baseline (Strategy 2: the coarse
# classifier stacked on the fine one) on CIFAR-100 with a CPU-sized CNN.
_base_ = ['./fine-and-coarse_resnet18-tiny_cifar100.py']

model = dict(head=dict(type='HierFineToCoarseHead'))
