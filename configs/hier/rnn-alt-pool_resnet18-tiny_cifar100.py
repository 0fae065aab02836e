# DHNN CNN-RNN with alternating training (section 4.1: the RNN part first
# with the CNN frozen, then the CNN with the RNN frozen, then everything) on
# CIFAR-100; the 3-epoch CPU schedule gives one epoch to each phase.
# Otherwise as rnn-pool_resnet18-tiny_cifar100.py.
_base_ = ['./rnn-pool_resnet18-tiny_cifar100.py']

custom_hooks = [
    dict(type='AlternatingFreezeHook', period=1, unfreeze_all_after=2)
]
# freezing under DDP needs the wrapper to find unused parameters
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
