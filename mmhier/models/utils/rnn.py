# Copyright (c) mmhier contributors. All rights reserved.
"""Recurrent layers of the DHNN heads, with the paper's initialisation."""
from typing import Tuple, Union

import torch
from torch import Tensor, nn

RNN_CELLS = {'lstm': nn.LSTM, 'gru': nn.GRU}
RNNState = Union[Tensor, Tuple[Tensor, Tensor]]


def build_rnn(cell: str,
              input_size: int,
              hidden_size: int,
              num_layers: int = 1,
              bidirectional: bool = False,
              dropout: float = 0.) -> nn.RNNBase:
    """A batch-first LSTM or GRU with orthogonal recurrent weights.

    DHNN section 4.1 uses "orthogonal random initialization" for the RNN
    and S2S weights. Each gate's ``(h, h)`` block of the recurrent matrix is
    made orthogonal; input weights are Xavier-uniform, biases zero, and an
    LSTM's forget-gate bias is 1 (the defaults of the paper's TensorFlow
    stack).

    Args:
        cell: ``'lstm'`` or ``'gru'``.
        input_size: Input features per step.
        hidden_size: h.
        num_layers: J.
        bidirectional: Run a second layer backwards and concatenate.
        dropout: Dropout between stacked layers.

    Returns:
        nn.LSTM or nn.GRU with ``batch_first=True``.
    """
    if cell not in RNN_CELLS:
        raise ValueError(f'cell must be one of {sorted(RNN_CELLS)}, got '
                         f'{cell!r}')
    for name, value in (('input_size', input_size),
                        ('hidden_size', hidden_size), ('num_layers',
                                                       num_layers)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be an int >= 1, got {value!r}')
    rnn = RNN_CELLS[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        dropout=dropout if num_layers > 1 else 0.)
    init_rnn(rnn)
    return rnn


@torch.no_grad()
def init_rnn(rnn: nn.RNNBase) -> None:
    """Orthogonal recurrent weights per gate, Xavier inputs, see
    :func:`build_rnn`."""
    h = rnn.hidden_size
    for name, param in rnn.named_parameters():
        if name.startswith('weight_hh'):
            for gate in param.split(h, dim=0):
                nn.init.orthogonal_(gate)
        elif name.startswith('weight_ih'):
            nn.init.xavier_uniform_(param)
        elif name.startswith('bias'):
            param.zero_()
            if isinstance(rnn, nn.LSTM) and name.startswith('bias_ih'):
                param[h:2 * h] = 1.  # gate order i, f, g, o


def merge_directions(state: RNNState, num_layers: int,
                     bidirectional: bool) -> RNNState:
    """Final encoder state ``(J * D, B, h)`` -> ``(J, B, D * h)``.

    The forward and backward final states of each layer are concatenated,
    so a unidirectional decoder of hidden size ``D * h`` can start from
    them (DHNN section 3.2: the decoder's ``h_0`` is the encoder's ``h_T``).
    """
    if isinstance(state, tuple):
        return tuple(
            merge_directions(s, num_layers, bidirectional) for s in state)
    if not bidirectional:
        return state
    _, b, h = state.shape
    return state.view(num_layers, 2, b,
                      h).permute(0, 2, 1, 3).reshape(num_layers, b, 2 * h)
