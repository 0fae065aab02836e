# Ablation of s2s-pool_resnet18-tiny_fmnist.py: each stage max-pooled to a
# 4x4 grid (clipped to the map), then n-mode products to p (the pooling
# conversion of the paper-scale configs).
_base_ = ['../s2s-pool_resnet18-tiny_fmnist.py']

model = dict(
    neck=dict(
        conversion=dict(
            _delete_=True, type='HierPoolConversion', projection='mode',
            grid=4)))
