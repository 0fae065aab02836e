# benchmarks/overhead.py's rnn-pool-small: the small CNN-RNN (HierRNNHead),
# pooling conversion, p = 256, h = 512.
# pooling + n-mode products: with p = 256 only the 256-channel stage
# pools to exactly p values (conversion .pool_mode.)
_base_ = ['../../_base_/models/overhead_dhnn_resnet50.py']
model = dict(
    neck=dict(out_channels=256, conversion='pool_mode'),
    head=dict(type='HierRNNHead', in_channels=256, hidden_size=512))
