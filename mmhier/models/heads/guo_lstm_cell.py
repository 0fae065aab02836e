# Copyright (c) mmhier contributors. All rights reserved.
"""The LSTM cell of Guo et al.'s CNN-RNN generator (eqs. (2)-(7))."""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

LSTMState = Tuple[Tensor, Tensor]


class GuoLSTMCell(nn.Module):
    """LSTM cell whose gates also read the image feature v (eqs. (2)-(7)).

    .. math::
        i_t &= \\sigma(W_{xi} x_t + W_{hi} h_{t-1} + W_{vi} v + b_i) \\\\
        f_t &= \\sigma(W_{xf} x_t + W_{hf} h_{t-1} + W_{vf} v + b_f) \\\\
        o_t &= \\sigma(W_{xo} x_t + W_{ho} h_{t-1} + W_{vo} v + b_o) \\\\
        g_t &= \\tanh(W_{xc} x_t + W_{hc} h_{t-1} + W_{vc} v + b_c) \\\\
        c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t, \\quad
        h_t = o_t \\odot \\tanh(c_t)

    The four gates are stacked (order i, f, o, g) in ``x2g`` (W_x and b),
    ``h2g`` (W_h) and ``v2g`` (W_v). ``W_v v`` does not change over the
    steps, so callers compute it once (:meth:`visual_gates`) and pass it to
    every step. Initialisation as the DHNN heads' RNNs: Xavier input
    weights, orthogonal recurrent blocks, zero biases but 1 for the forget
    gate.

    Args:
        input_size: Size of x_t (the label embedding).
        hidden_size: Size of h and c.
        visual_size: Size of v.
    """

    def __init__(self, input_size: int, hidden_size: int, visual_size: int):
        super().__init__()
        for name, value in (('input_size', input_size),
                            ('hidden_size', hidden_size), ('visual_size',
                                                           visual_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be an int >= 1, got '
                                 f'{value!r}')
        self.hidden_size = hidden_size
        self.x2g = nn.Linear(input_size, 4 * hidden_size)
        self.h2g = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        self.v2g = nn.Linear(visual_size, 4 * hidden_size, bias=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Xavier W_x, W_v; orthogonal W_h per gate; forget bias 1."""
        h = self.hidden_size
        nn.init.xavier_uniform_(self.x2g.weight)
        nn.init.xavier_uniform_(self.v2g.weight)
        for gate in self.h2g.weight.split(h, dim=0):
            nn.init.orthogonal_(gate)
        self.x2g.bias.zero_()
        self.x2g.bias[h:2 * h] = 1.

    def visual_gates(self, v: Tensor) -> Tensor:
        """``W_v v`` ``(B, 4h)`` for all four gates."""
        return self.v2g(v)

    def input_gates(self, x: Tensor, v_gates: Tensor) -> Tensor:
        """``W_x x + W_v v + b``: the part of the gates that does not depend
        on h. ``x`` is ``(B, ..., E)``, ``v_gates`` ``(B, 4h)``; the
        middle dims (e.g. steps) broadcast."""
        v_gates = v_gates.view(v_gates.shape[:1] + (1, ) * (x.dim() - 2) +
                               v_gates.shape[1:])
        return self.x2g(x) + v_gates

    def recur(self, pre_gates: Tensor,
              state: Optional[LSTMState]) -> LSTMState:
        """One step from the precomputed input part of the gates.

        Args:
            pre_gates: ``(M, 4h)`` from :meth:`input_gates`.
            state: ``(h, c)`` each ``(M, h)``, or ``None`` for zeros.

        Returns:
            The new ``(h, c)``.
        """
        if state is None:
            gates = pre_gates
            c_prev = pre_gates.new_zeros(pre_gates.size(0), self.hidden_size)
        else:
            h_prev, c_prev = state
            gates = pre_gates + self.h2g(h_prev)
        i, f, o, g = gates.chunk(4, dim=-1)
        i, f, o, g = i.sigmoid(), f.sigmoid(), o.sigmoid(), g.tanh()
        c = f * c_prev + i * g  # eq. (6)
        return o * c.tanh(), c  # eq. (7)

    def forward(self,
                x: Tensor,
                v_gates: Tensor,
                state: Optional[LSTMState] = None) -> LSTMState:
        """One step: ``x`` ``(M, E)``, ``v_gates`` ``(M, 4h)``."""
        return self.recur(self.input_gates(x, v_gates), state)


__all__ = ['GuoLSTMCell', 'LSTMState']
