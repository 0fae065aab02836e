# benchmarks/overhead.py's s2s-pool-large: the large CNN-S2S (HierS2SHead),
# pooling conversion, p = 2048, h = 1024.
# weight-free pooling: every stage pools to exactly p = 2048 values
_base_ = ['../../_base_/models/overhead_dhnn_resnet50.py']
model = dict(
    neck=dict(out_channels=2048, conversion='pool'),
    head=dict(type='HierS2SHead', in_channels=2048, hidden_size=1024))
