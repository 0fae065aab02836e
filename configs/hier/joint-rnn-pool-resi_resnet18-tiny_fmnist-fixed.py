# Joint model (ours): the DHNN CNN-RNN with residual arcs of
# rnn-pool-resi_resnet18-tiny_fmnist-fixed.py and a flat classifier over the
# leaves, on the same features u, trained together; a path is scored by the
# product of both experts and the best path of the tree is predicted
# (HierJointHead). Fashion-MNIST, fixed-depth WordNet tree.
_base_ = ['./rnn-pool-resi_resnet18-tiny_fmnist-fixed.py']

model = dict(
    head=dict(
        _delete_=True,
        type='HierJointHead',
        tree={{_base_.class_tree}},
        hier_head=dict(
            type='HierRNNHead',
            in_channels=128,  # p
            hidden_size=128,  # h
            num_layers=3,
            bidirectional=True,
            residual=True),
        flat_loss_weight=1.0,
        fusion_weight=1.0,
        beam_size=5))
