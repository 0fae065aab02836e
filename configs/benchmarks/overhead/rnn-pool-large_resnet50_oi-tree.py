# benchmarks/overhead.py's rnn-pool-large: the large CNN-RNN (HierRNNHead),
# pooling conversion, p = 2048, h = 1024.
# weight-free pooling: every stage pools to exactly p = 2048 values
_base_ = ['../../_base_/models/overhead_dhnn_resnet50.py']
model = dict(
    neck=dict(out_channels=2048, conversion='pool'),
    head=dict(type='HierRNNHead', in_channels=2048, hidden_size=1024))
