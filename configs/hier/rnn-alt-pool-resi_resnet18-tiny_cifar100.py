# DHNN CNN-RNN with residual arcs and alternating training (section 4.1) on
# CIFAR-100; otherwise as rnn-alt-pool_resnet18-tiny_cifar100.py.
_base_ = ['./rnn-alt-pool_resnet18-tiny_cifar100.py']

model = dict(head=dict(residual=True))
