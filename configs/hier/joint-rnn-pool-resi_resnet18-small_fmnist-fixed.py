# The recommended model for a CPU (new here? start with this one): the
# joint model of joint-rnn-pool-resi_resnet18-tiny_fmnist-fixed.py on
# ResNet-18's ImageNet stem (a stride-2 convolution and a max pooling: stage
# maps of 7, 4, 2 and 1 px at 28 px), about 9x cheaper than the CIFAR stem
# of the -tiny configs. This is the backbone of benchmarks/accuracy.py
# (--backbone small) and of `make demo`.
_base_ = ['./joint-rnn-pool-resi_resnet18-tiny_fmnist-fixed.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16,
        out_indices=(0, 1, 2, 3)),
    neck=dict(strides=(4, 8, 16, 32)))
