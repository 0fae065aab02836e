# benchmarks/overhead.py's rnn-linear-large: the large CNN-RNN (HierRNNHead),
# linear conversion (n-mode products), p = 2048, h = 1024.
_base_ = ['../../_base_/models/overhead_dhnn_resnet50.py']
model = dict(
    neck=dict(out_channels=2048, conversion='linear'),
    head=dict(type='HierRNNHead', in_channels=2048, hidden_size=1024))
