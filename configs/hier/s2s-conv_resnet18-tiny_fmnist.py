# DHNN CNN-S2S with the convolutional conversion (section 3.3, appendix A)
# on Fashion-MNIST and its variable-depth WordNet tree; otherwise as
# s2s-pool_resnet18-tiny_fmnist.py.
_base_ = ['./s2s-pool_resnet18-tiny_fmnist.py']

model = dict(neck=dict(conversion='conv'))
