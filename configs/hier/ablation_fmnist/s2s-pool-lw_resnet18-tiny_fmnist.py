# Ablation of s2s-pool_resnet18-tiny_fmnist.py: level weights w_t that
# halve the two coarse levels (nearly solved on Fashion-MNIST).
_base_ = ['../s2s-pool_resnet18-tiny_fmnist.py']

model = dict(head=dict(level_weights=[0.5, 0.5, 1., 1., 1.]))
