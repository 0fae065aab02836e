# DHNN CNN-RNN with residual arcs (o_t^res = u_t + z(o_t), section 3.1) on
# Fashion-MNIST and its fixed-depth WordNet tree; otherwise as
# rnn-pool_resnet18-tiny_fmnist-fixed.py.
_base_ = ['./rnn-pool_resnet18-tiny_fmnist-fixed.py']

model = dict(head=dict(residual=True))
