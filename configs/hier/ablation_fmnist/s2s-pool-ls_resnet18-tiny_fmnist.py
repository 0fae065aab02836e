# Ablation of s2s-pool_resnet18-tiny_fmnist.py: label smoothing 0.1 in the
# per-step cross-entropy (spread over each step's unmasked outputs).
_base_ = ['../s2s-pool_resnet18-tiny_fmnist.py']

model = dict(head=dict(label_smoothing=0.1))
