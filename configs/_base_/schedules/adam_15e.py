# The DHNN paper's schedule (section 4.1): Adam, 15 epochs on Open Images.
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=0.0),
    clip_grad=dict(max_norm=5.0))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[10, 13], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=15, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)  # the paper: 1 GPU x 32
