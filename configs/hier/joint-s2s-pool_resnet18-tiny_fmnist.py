# Joint model (ours): the DHNN CNN-S2S of s2s-pool_resnet18-tiny_fmnist.py
# and a flat classifier over the label nodes, on the same features u,
# trained together; a path is scored by the product of both experts
# (HierJointHead). Fashion-MNIST, variable-depth WordNet tree.
_base_ = ['./s2s-pool_resnet18-tiny_fmnist.py']

model = dict(
    head=dict(
        _delete_=True,
        type='HierJointHead',
        tree={{_base_.class_tree}},
        hier_head=dict(
            type='HierS2SHead',
            in_channels=128,  # p
            hidden_size=128,  # h
            num_layers=1,
            bidirectional=True),
        flat_loss_weight=1.0,
        fusion_weight=1.0,
        beam_size=5))
