# Copyright (c) mmhier contributors. All rights reserved.
"""Recurrent layers of the DHNN heads and their initialisation."""
from typing import Tuple, Union

import torch
from torch import Tensor, nn

RNN_CELLS = {'lstm': nn.LSTM, 'gru': nn.GRU}
#: schemes of :func:`init_rnn`
RNN_INITS = ('per_gate', 'orthogonal')
RNNState = Union[Tensor, Tuple[Tensor, Tensor]]


def build_rnn(cell: str,
              input_size: int,
              hidden_size: int,
              num_layers: int = 1,
              bidirectional: bool = False,
              dropout: float = 0.,
              init: str = 'per_gate') -> nn.RNNBase:
    """A batch-first LSTM or GRU with orthogonal weights.

    DHNN section 4.1 uses "orthogonal random initialization" for the RNN
    and S2S weights; :func:`init_rnn` offers two readings of it, see there.

    Args:
        cell: ``'lstm'`` or ``'gru'``.
        input_size: Input features per step.
        hidden_size: h.
        num_layers: J.
        bidirectional: Run a second layer backwards and concatenate.
        dropout: Dropout between stacked layers.
        init: ``'per_gate'`` (mmhier's scheme) or ``'orthogonal'`` (the
            authors' released code), see :func:`init_rnn`.

    Returns:
        nn.LSTM or nn.GRU with ``batch_first=True``.

    Examples:
        >>> rnn = build_rnn('lstm', 256, 512, bidirectional=True,
        ...                 init='orthogonal')
        >>> out, (h, c) = rnn(torch.rand(2, 3, 256))   # out: (2, 3, 1024)
    """
    if cell not in RNN_CELLS:
        raise ValueError(f'cell must be one of {sorted(RNN_CELLS)}, got '
                         f'{cell!r}')
    for name, value in (('input_size', input_size),
                        ('hidden_size', hidden_size), ('num_layers',
                                                       num_layers)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be an int >= 1, got {value!r}')
    _check_init(init)
    rnn = RNN_CELLS[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        dropout=dropout if num_layers > 1 else 0.)
    init_rnn(rnn, init)
    return rnn


def _check_init(init: str) -> None:
    if init not in RNN_INITS:
        raise ValueError(f'init must be one of {RNN_INITS}, got {init!r}')


@torch.no_grad()
def init_rnn(rnn: nn.RNNBase, init: str = 'per_gate') -> None:
    """Initialise the weights of an ``nn.LSTM`` or ``nn.GRU`` in place.

    Two schemes, both with zero biases except an LSTM's forget gate, whose
    bias is 1:

    - ``'per_gate'`` (mmhier's choice, the default): each gate's ``(h, h)``
      block of the recurrent matrix ``weight_hh`` is orthogonal, the input
      matrix ``weight_ih`` is Xavier-uniform.
    - ``'orthogonal'`` (the authors' released TensorFlow code, which builds
      ``LSTMCell(initializer=tf.orthogonal_initializer(), forget_bias=1.0)``):
      TensorFlow 1's cell holds one kernel ``[W_x; W_h]`` of shape
      ``(in + h, 4h)`` per layer and direction, and the whole kernel is
      drawn (semi-)orthogonal. Here ``[weight_ih, weight_hh]`` of shape
      ``(4h, in + h)``, its transpose, is drawn the same way. For a GRU the
      two kernels of TensorFlow's ``GRUCell`` (reset and update gates
      ``(2h, in + h)``, candidate ``(h, in + h)``) are drawn separately, and
      the gates' bias is 1 as in that cell (the authors used LSTMs only).

    Args:
        rnn: The module to initialise.
        init: ``'per_gate'`` or ``'orthogonal'``.
    """
    _check_init(init)
    h = rnn.hidden_size
    is_lstm = isinstance(rnn, nn.LSTM)
    for name, param in rnn.named_parameters():
        if name.startswith('bias'):
            param.zero_()
            if name.startswith('bias_ih'):
                if is_lstm:
                    param[h:2 * h] = 1.  # gate order i, f, g, o
                elif init == 'orthogonal':
                    param[:2 * h] = 1.  # GRUCell: gates r, z start at 1
        elif init == 'per_gate':
            if name.startswith('weight_hh'):
                for gate in param.split(h, dim=0):
                    nn.init.orthogonal_(gate)
            elif name.startswith('weight_ih'):
                nn.init.xavier_uniform_(param)
    if init == 'orthogonal':
        blocks = [4 * h] if is_lstm else [2 * h, h]
        for suffix in _layer_suffixes(rnn):
            w_ih = getattr(rnn, 'weight_ih' + suffix)
            w_hh = getattr(rnn, 'weight_hh' + suffix)
            kernel = torch.empty(
                w_ih.size(0),
                w_ih.size(1) + w_hh.size(1),
                dtype=w_ih.dtype,
                device=w_ih.device)
            for part in kernel.split(blocks, dim=0):
                nn.init.orthogonal_(part)
            w_ih.copy_(kernel[:, :w_ih.size(1)])
            w_hh.copy_(kernel[:, w_ih.size(1):])


def _layer_suffixes(rnn: nn.RNNBase) -> list:
    """``'_l0'``, ``'_l0_reverse'``, ... of every layer and direction."""
    directions = ('', '_reverse') if rnn.bidirectional else ('', )
    return [
        f'_l{layer}{d}' for layer in range(rnn.num_layers) for d in directions
    ]


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
