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


class SelfAttention(nn.Module):
    """wgtrain's MultiHeadAttention: one Linear makes q, k and v (laid out [batch, time, 3, heads, head size]), each
    head mixes values by softmax(q·kᵀ/√head size), causal or not, and a Linear projects the heads back."""

    def __init__(self, dim, heads, causal, dropout=0.0):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)  # on the attention weights, in training

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        w = q @ k.transpose(-1, -2) / math.sqrt(D // self.heads)
        if self.causal:
            w = w.masked_fill(torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1), float('-inf'))
        return self.proj((self.drop(w.softmax(-1)) @ v).transpose(1, 2).reshape(B, T, D))


class TransformerBlock(nn.Module):
    """Pre-norm (GPT-2): x + attn(ln1(x)), then x + fc2(gelu(fc1(ln2(x))))."""

    def __init__(self, dim, heads, causal, hidden, dropout=0.0):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, causal, dropout)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.gelu = nn.GELU(approximate='tanh')

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(self.gelu(self.fc1(self.ln2(x))))


def sinusoidal_table(positions, dim):
    """wgtrain's fixed positions: column 2i = sin(p / 10000^(2i/dim)), 2i+1 = cos of the same."""
    p = torch.arange(positions, dtype=torch.float64)[:, None]
    angle = p / 10000 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    table = torch.zeros(positions, dim, dtype=torch.float64)
    table[:, 0::2] = angle.sin()
    table[:, 1::2] = angle.cos()[:, :dim // 2]
    return table.float()


class GPT(nn.Module):
    """wgtrain's Gpt: token embedding + positions, causal blocks, a final layer norm, a linear head; logits
    [batch, time, vocab] for token ids [batch, time]."""

    def __init__(self, vocab, context, dim, heads, layers, positions='learned', dropout=0.0):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        if positions == 'learned':
            self.pos = nn.Embedding(context, dim)
        else:  # a fixed table: rebuilt, not saved (as in wgtrain)
            self.register_buffer('pos_table', sinusoidal_table(context, dim), persistent=False)
        self.h = nn.ModuleList(TransformerBlock(dim, heads, True, 4 * dim, dropout) for _ in range(layers))
        self.lnf = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.tok(ids) + (self.pos.weight[:T] if hasattr(self, 'pos') else self.pos_table[:T])
        for block in self.h:
            x = block(x)
        return self.head(self.lnf(x))
