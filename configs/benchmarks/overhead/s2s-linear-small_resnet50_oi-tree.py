# benchmarks/overhead.py's s2s-linear-small: the small CNN-S2S (HierS2SHead),
# linear conversion (n-mode products), p = 256, h = 512.
_base_ = ['../../_base_/models/overhead_dhnn_resnet50.py']
model = dict(
    neck=dict(out_channels=256, conversion='linear'),
    head=dict(type='HierS2SHead', in_channels=256, hidden_size=512))
