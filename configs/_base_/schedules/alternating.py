# Alternating training of the DHNN paper (section 4.1) for the `-alt` configs
# of the paper's tables: the RNN part first (CNN frozen), then the CNN (RNN
# frozen), flipping every 2 epochs; everything from epoch 6 on. The paper
# gives no epochs, these are ours (see configs/hier/README.md).
custom_hooks = [
    dict(type='AlternatingFreezeHook', period=2, unfreeze_all_after=6)
]
# freezing under DDP needs the wrapper to find unused parameters
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
