# Layers wgtrain has and torch.nn spells differently. The recurrent ones take [batch, time, features], as wgtrain's do,
# and return every step's h ([batch, time, hidden]) or, with return_sequences=False, the last step's ([batch, hidden]).


class Reshape(nn.Module):
    """Reshapes each example to `shape` (the batch dim is kept)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class Maxout(nn.Module):
    """The max over groups of k consecutive features of the last axis."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x.reshape(*x.shape[:-1], x.shape[-1] // self.k, self.k).amax(-1)


class Residual(nn.Module):
    """x + body(x)."""

    def __init__(self, layers):
        super().__init__()
        self.body = nn.Sequential(layers)

    def forward(self, x):
        return x + self.body(x)


class _Recurrent:
    """Mixed into nn.LSTM, nn.RNN and nn.GRU: batch-first, and every step's h or only the last one's."""

    def __init__(self, input_size, hidden_size, return_sequences=True):
        super().__init__(input_size, hidden_size, batch_first=True)
        self.return_sequences = return_sequences
        if self.mode != 'GRU':
            # wgtrain's LSTM and RNN cells have one bias where torch.nn's have two (bias_ih + bias_hh): bias_hh_l0
            # stays at zero and out of training, so both compute the same function and take the same steps.
            nn.init.zeros_(self.bias_hh_l0)
            self.bias_hh_l0.requires_grad_(False)

    def forward(self, x):
        y = super().forward(x)[0]
        return y if self.return_sequences else y[:, -1]


class LSTM(_Recurrent, nn.LSTM):
    pass


class RNN(_Recurrent, nn.RNN):
    pass


class GRU(_Recurrent, nn.GRU):
    pass
