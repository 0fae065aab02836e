# VGG-RNN-Alt of the DHNN paper's Table 1: VGG-RNN (vgg16_rnn_custom.py) with
# alternating training (section 4.1). Paper, on its proprietary data: path
# accuracy 61.7, node accuracy 78.1.
_base_ = ['./vgg16_rnn_custom.py', '../_base_/schedules/alternating.py']
