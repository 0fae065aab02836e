# Ablation of s2s-pool_resnet18-tiny_fmnist.py: two-layer encoder and
# decoder with dropout 0.3 between the layers.
_base_ = ['../s2s-pool_resnet18-tiny_fmnist.py']

model = dict(head=dict(num_layers=2, dropout=0.3))
