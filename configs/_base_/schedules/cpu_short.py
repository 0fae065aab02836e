# A short CPU schedule for small data sets (Fashion-MNIST, CIFAR-100 at low
# resolution): Adam with cosine decay over a few epochs.
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3, weight_decay=1e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=3)
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
