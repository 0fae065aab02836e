# DHNN CNN-S2S with the linear conversion (n-mode products, section 3.3)
# on Fashion-MNIST and its variable-depth WordNet tree; otherwise as
# s2s-pool_resnet18-tiny_fmnist.py.
_base_ = ['./s2s-pool_resnet18-tiny_fmnist.py']

model = dict(neck=dict(conversion='linear'))
