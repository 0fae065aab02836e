# Res-RNN-Alt-Resi of the DHNN paper's Table 1: Res-RNN-Alt
# (res50_rnn_alt_custom.py) with residual arcs o_t^res = u_t + z(o_t) (section
# 3.1). Paper, on its proprietary data: path accuracy 64.0, node accuracy 78.4.
_base_ = ['./res50_rnn_alt_custom.py']

model = dict(head=dict(residual=True))
