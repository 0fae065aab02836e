# benchmarks/overhead.py's rnn-conv-large: the large CNN-RNN (HierRNNHead),
# convolutional conversion, p = 2048, h = 1024.
_base_ = ['../../_base_/models/overhead_dhnn_resnet50.py']
model = dict(
    neck=dict(out_channels=2048, conversion='conv'),
    head=dict(type='HierRNNHead', in_channels=2048, hidden_size=1024))
