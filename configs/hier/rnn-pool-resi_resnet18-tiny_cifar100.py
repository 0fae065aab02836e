# DHNN CNN-RNN with residual arcs on CIFAR-100; otherwise as
# rnn-pool_resnet18-tiny_cifar100.py.
_base_ = ['./rnn-pool_resnet18-tiny_cifar100.py']

model = dict(head=dict(residual=True))
