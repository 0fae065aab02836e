# The DHNN paper's real-data schedule (section 4.1: "30 epochs"; Tables 1
# and 2): Adam, batch 32 on one GPU.
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=0.0),
    clip_grad=dict(max_norm=5.0))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[20, 26], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# for --auto-scale-lr: the learning rate above is for 1 GPU x 32 images
auto_scale_lr = dict(base_batch_size=32)
