# Ablation of s2s-pool_resnet18-tiny_fmnist.py: every encoder step reads
# the last stage (the object-level features) instead of one stage each.
_base_ = ['../s2s-pool_resnet18-tiny_fmnist.py']

model = dict(neck=dict(stage_groups=[[3], [3], [3], [3]]))
