# benchmarks/overhead.py's s2s-pool-small: the small CNN-S2S (HierS2SHead),
# pooling conversion, p = 256, h = 512.
# pooling + n-mode products: with p = 256 only the 256-channel stage
# pools to exactly p values (conversion .pool_mode.)
_base_ = ['../../_base_/models/overhead_dhnn_resnet50.py']
model = dict(
    neck=dict(out_channels=256, conversion='pool_mode'),
    head=dict(type='HierS2SHead', in_channels=256, hidden_size=512))
