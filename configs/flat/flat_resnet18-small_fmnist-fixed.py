# The flat baseline of flat_resnet18-tiny_fmnist-fixed.py on ResNet-18's
# ImageNet stem, the backbone of
# ../hier/joint-rnn-pool-resi_resnet18-small_fmnist-fixed.py (its comparison
# in `make demo` and benchmarks/accuracy.py).
_base_ = ['./flat_resnet18-tiny_fmnist-fixed.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16,
        out_indices=(3, )))
