# Ablation of s2s-pool_resnet18-tiny_fmnist.py: a unidirectional encoder
# (the paper's setting is bidirectional).
_base_ = ['../s2s-pool_resnet18-tiny_fmnist.py']

model = dict(head=dict(bidirectional=False))
