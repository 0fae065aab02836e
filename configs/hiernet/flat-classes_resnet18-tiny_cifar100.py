# Step 1 of HierNet's class grouping (section 4 of the paper): a flat
# 100-class CIFAR-100 model whose confusions on validation data give the
# proximity of the classes. Then:
#
#   CFG=configs/hiernet/flat-classes_resnet18-tiny_cifar100.py
#   python tools/train.py $CFG
#   python tools/test.py $CFG CKPT --out work_dirs/flat_cifar100_val.pkl
#   python tools/build_hierarchy.py work_dirs/flat_cifar100_val.pkl \
#       --classes CIFAR100 --out data/cifar100_hiernet_tree.json
#   python tools/train.py \
#       configs/hiernet/hiernet-grouped_resnet18-tiny_cifar100.py
#
# mmpretrain's own CIFAR100 data set (labels 0-99, no tree).
_base_ = ['../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py']

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=3,
        stem_channels=16,
        base_channels=16,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

data_root = '{{$CIFAR100_DIR:data/cifar100}}'
data_preprocessor = dict(
    num_classes=100,
    mean=[129.304, 124.070, 112.434],
    std=[68.170, 65.392, 70.418],
    to_rgb=False)
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CIFAR100',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CIFAR100',
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
