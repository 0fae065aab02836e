# benchmarks/overhead.py's baseline: the flat ResNet-50 with LinearClsHead
# over the 30 nodes of the benchmark's tree.
_base_ = ['../../_base_/models/overhead_flat_resnet50.py']
