# VGG-RNN-Alt-Resi of the DHNN paper's Table 1: VGG-RNN-Alt
# (vgg16_rnn_alt_custom.py) with residual arcs o_t^res = u_t + z(o_t) (section
# 3.1). Paper, on its proprietary data: path accuracy 65.3, node accuracy 80.5.
_base_ = ['./vgg16_rnn_alt_custom.py']

model = dict(head=dict(residual=True))
