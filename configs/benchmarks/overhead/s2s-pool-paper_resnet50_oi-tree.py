# benchmarks/overhead.py's s2s-pool-paper: the model of
# configs/hier/res50_s2s_pool_oi.py (the DHNN paper's Res-S2S-Pool, Table 3)
# on the benchmark's tree: the small CNN-S2S (p = 256, h = 512) with a
# bidirectional encoder and the paper's decoder (it reads its own previous
# output, free-running), each stage max-pooled to a 4x4 grid then n-mode
# products, multi-label (sigmoid outputs) as for Open Images.
_base_ = ['../../_base_/models/overhead_dhnn_resnet50.py']
model = dict(
    neck=dict(
        out_channels=256,
        conversion=dict(
            _delete_=True,  # a string in the base
            type='HierPoolConversion',
            projection='mode',
            grid=4)),
    head=dict(
        type='HierS2SHead',
        in_channels=256,
        hidden_size=512,
        bidirectional=True,
        decoder_input='softmax',
        multi_label=True))
