# DHNN CNN-S2S with the pooling conversion at CPU scale on your own data
# (configs/_base_/datasets/custom_hier.py: data/custom_hier/ with tree.json,
# train/val/test.txt and images/, as tools/dataset_converters/
# folder_to_hier.py writes them), images resized to 32 x 32: a first model
# of your tree in minutes on a CPU ("Bring your own data" in the README).
# For the paper's scale use res50_s2s_custom.py.
_base_ = [
    '../_base_/models/dhnn_s2s_resnet18-tiny.py',
    '../_base_/datasets/custom_hier.py', '../_base_/schedules/cpu_short.py',
    '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(in_channels=3),  # RGB
    neck=dict(input_size=32),
    head=dict(tree={{_base_.class_tree}}))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHierInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackHierInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=2, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=32, num_workers=2, dataset=dict(pipeline=test_pipeline))
auto_scale_lr = dict(base_batch_size=32)
