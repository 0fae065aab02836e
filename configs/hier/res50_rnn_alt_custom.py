# Res-RNN-Alt of the DHNN paper's Table 1: Res-RNN (res50_rnn_custom.py) with
# alternating training (section 4.1). Paper, on its proprietary data: path
# accuracy 62.4, node accuracy 77.0.
_base_ = ['./res50_rnn_custom.py', '../_base_/schedules/alternating.py']
