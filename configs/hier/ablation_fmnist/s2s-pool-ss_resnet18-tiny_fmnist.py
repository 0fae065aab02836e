# Ablation of s2s-pool_resnet18-tiny_fmnist.py: scheduled sampling, the
# decoder fed its own greedy node instead of the ground truth with
# probability 0.25 in training.
_base_ = ['../s2s-pool_resnet18-tiny_fmnist.py']

model = dict(head=dict(scheduled_sampling=0.25))
