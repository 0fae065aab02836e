# DHNN CNN-S2S with the convolutional conversion on CIFAR-100; otherwise as
# s2s-pool_resnet18-tiny_cifar100.py.
_base_ = ['./s2s-pool_resnet18-tiny_cifar100.py']

model = dict(neck=dict(conversion='conv'))
