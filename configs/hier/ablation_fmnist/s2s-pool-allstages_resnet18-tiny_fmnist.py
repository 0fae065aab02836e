# Ablation of s2s-pool_resnet18-tiny_fmnist.py: every encoder step reads
# the mean of all four stages.
_base_ = ['../s2s-pool_resnet18-tiny_fmnist.py']

model = dict(neck=dict(stage_groups=[[0, 1, 2, 3]] * 4))
