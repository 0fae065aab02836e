# Ablation of s2s-pool_resnet18-tiny_fmnist.py: each stage globally
# max-pooled (1x1), then n-mode products to p: no spatial layout left.
_base_ = ['../s2s-pool_resnet18-tiny_fmnist.py']

model = dict(neck=dict(conversion='pool_mode_global'))
