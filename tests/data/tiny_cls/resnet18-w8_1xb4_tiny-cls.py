# A tiny ImageClassifier (CIFAR-style ResNet-18 with 8 base channels,
# ~0.2M parameters) on the stripes set of tests/data/tiny_cls/make_tiny_cls.py:
# CPU smoke tests of tools/train.py, tools/test.py and tools/dist_*.sh (which
# override max_epochs), and a demo of about a minute of CPU time whose val
# accuracy climbs from chance (33%) to 80-100% in its 10 epochs:
#
#   python tests/data/tiny_cls/make_tiny_cls.py data/tiny_cls
#   python tools/train.py tests/data/tiny_cls/resnet18-w8_1xb4_tiny-cls.py
#   python tools/test.py tests/data/tiny_cls/resnet18-w8_1xb4_tiny-cls.py \
#       work_dirs/resnet18-w8_1xb4_tiny-cls/epoch_10.pth
#
# The data root is data/tiny_cls, or $TINY_CLS_ROOT when that is set.
# A full config on purpose: `_base_ = 'mmpretrain::...'` needs pkg_resources.
data_root = '{{$TINY_CLS_ROOT:data/tiny_cls}}'
num_classes = 3

default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmhier'], allow_failed_imports=False)

# model
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR',  # 3x3 stem, no max-pool: for 32x32 images
        depth=18,
        stem_channels=8,
        base_channels=8,
        num_stages=4,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))

# data
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
# tools/test.py needs all three test_* fields (STACK.md item 2).
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# schedule
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = dict(type='ConstantLR', factor=1.0, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# for --auto-scale-lr: the learning rate above is for 1 process x 4 images
auto_scale_lr = dict(base_batch_size=4)

# runtime
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
