"""PyTorch definitions of the ecg toolkit's networks, with the module names of its TorchSharp classes, so the
weights `ecg export --format safetensors` writes load with `load_state_dict(..., strict=True)`:

    import json, numpy as np, torch
    from ecg_modules import build, load_safetensors
    state, meta = load_safetensors("model.safetensors")        # or safetensors.torch.load_file + safe_open
    model = build(meta["model"], leads=len(json.loads(meta["lead_names"])), classes=len(json.loads(meta["class_names"])))
    model.load_state_dict(state, strict=True)
    model.eval()
    std = json.loads(meta["standardisation"])                  # applied by the caller: no graph here
    x = (torch.from_numpy(signal_mv.T.copy()).float()[None] - std["mean"]) / std["std"]   # (1, leads, samples)
    probabilities = torch.sigmoid(model(x))

Input (batch, leads, T), output (batch, classes) logits, `embed(x)` the penultimate activations. Eval mode
only is what these are checked for (tests/Ecg.Model.Tests/OnnxExportTests.fs runs them under Debian's
python3-torch 1.13 against TorchSharp's logits); training hyperparameters (dropout rates, BatchNorm
momentum) are set as the toolkit sets them but not checked. Needs only torch and numpy.
"""

import json
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------------------------------
# safetensors without the safetensors package
# --------------------------------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def load_safetensors(path):
    """(state dict of torch tensors, __metadata__ dict) of a safetensors file."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    meta = header.pop("__metadata__", {})
    state = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=_DTYPES[entry["dtype"]]).reshape(entry["shape"])
        state[name] = torch.from_numpy(array.copy())
    return state, meta


# --------------------------------------------------------------------------------------------------
# cross-lead CNN (Ecg.Model.CrossLeadCnn)
# --------------------------------------------------------------------------------------------------

class ConvBlock(nn.Module):
    """Conv1d (no bias) + BatchNorm + ReLU + Dropout with Keras "same" padding (odd extra pad on the right)."""

    def __init__(self, cin, cout, kernel, stride, groups, dropout, eps=1e-5, momentum=0.1):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv1d(cin, cout, kernel, stride=stride, groups=groups, bias=False)
        self.norm = nn.BatchNorm1d(cout, eps=eps, momentum=momentum)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        length = x.shape[-1]
        out = (length + self.stride - 1) // self.stride
        total = max((out - 1) * self.stride + self.kernel - length, 0)
        x = F.pad(x, (total // 2, total - total // 2))
        return self.dropout(F.relu(self.norm(self.conv(x))))


class CrossLeadCnn(nn.Module):
    # eps 1e-3 for sessions trained with --layer-settings keras (config.json: "layer_settings": "keras").
    def __init__(self, leads=12, classes=5, eps=1e-5):
        super().__init__()
        self.perLead = ConvBlock(leads, 3 * leads, 15, 1, leads, 0.2, eps)
        self.downsample = ConvBlock(3 * leads, 64, 7, 2, 1, 0.2, eps)
        self.crossLead1 = ConvBlock(64, 128, 7, 1, 1, 0.2, eps)
        self.crossLead2 = ConvBlock(128, 128, 5, 2, 1, 0.2, eps)
        self.deep = ConvBlock(128, 256, 5, 1, 1, 0.2, eps)
        self.embedding = nn.Linear(256, 128)
        self.headDropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(128, classes)

    def embed(self, x):
        x = self.deep(self.crossLead2(self.crossLead1(self.downsample(self.perLead(x)))))
        return F.relu(self.embedding(x.mean(-1)))

    def forward(self, x):
        return self.classifier(self.headDropout(self.embed(x)))


# --------------------------------------------------------------------------------------------------
# PTB-XL benchmark architectures (Ecg.Model.Architectures)
# --------------------------------------------------------------------------------------------------

class BenchmarkHead(nn.Module):
    """Pooling over time, BN, Dropout, Linear(-> 128), ReLU (the embedding), BN, Dropout, Linear(-> classes).

    pooling "max-mean": the convolutional networks' [max, mean] (2C features); "mean-max-last": the recurrent
    networks' [mean, max, last time step] (3C features), HeadPooling.MeanMaxLast.
    """

    def __init__(self, cin, classes, hidden=128, dropout=0.5, pooling="max-mean"):
        super().__init__()
        if pooling not in ("max-mean", "mean-max-last"):
            raise ValueError(f"unknown head pooling {pooling!r}")
        self.pooling = pooling
        pooled = (2 if pooling == "max-mean" else 3) * cin
        self.poolNorm = nn.BatchNorm1d(pooled)
        self.poolDropout = nn.Dropout(dropout / 2)
        self.hidden = nn.Linear(pooled, hidden)
        self.hiddenNorm = nn.BatchNorm1d(hidden)
        self.hiddenDropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, classes)

    def pool(self, features):
        if self.pooling == "max-mean":
            return torch.cat([features.amax(-1), features.mean(-1)], 1)
        # rnn1d.py's AdaptiveConcatPoolRNN. Bidirectional too it takes the last step of all 2H channels (its
        # slice meant for the backward direction's first step is empty), so the backward direction contributes
        # its state after one step; kept so that benchmark-trained weights mean the same here.
        return torch.cat([features.mean(-1), features.amax(-1), features[:, :, -1]], 1)

    def embed(self, features):
        return F.relu(self.hidden(self.poolDropout(self.poolNorm(self.pool(features)))))

    def forward(self, features):
        return self.classifier(self.hiddenDropout(self.hiddenNorm(self.embed(features))))


class XConvLayer(nn.Module):
    def __init__(self, cin, cout, kernel, stride, activate):
        super().__init__()
        self.activate = activate
        self.conv = nn.Conv1d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)
        self.norm = nn.BatchNorm1d(cout)

    def forward(self, x):
        x = self.norm(self.conv(x))
        return F.relu(x) if self.activate else x


class XResBlock(nn.Module):
    def __init__(self, expansion, cin, channels, stride, kernel):
        super().__init__()
        win, wout = cin * expansion, channels * expansion
        if expansion == 1:
            layers = [XConvLayer(win, channels, kernel, stride, True), XConvLayer(channels, wout, kernel, 1, False)]
        else:
            layers = [XConvLayer(win, channels, 1, 1, True), XConvLayer(channels, channels, kernel, stride, True),
                      XConvLayer(channels, wout, 1, 1, False)]
        self.convs = nn.Sequential(*layers)
        self.pool = nn.AvgPool1d(2, ceil_mode=True) if stride != 1 else None
        self.projection = XConvLayer(win, wout, 1, 1, False) if win != wout else None

    def forward(self, x):
        identity = x
        if self.pool is not None:
            identity = self.pool(identity)
        if self.projection is not None:
            identity = self.projection(identity)
        return F.relu(self.convs(x) + identity)


XRESNET_LAYOUTS = {
    "xresnet1d18": (1, [2, 2, 2, 2]), "xresnet1d34": (1, [3, 4, 6, 3]), "xresnet1d50": (4, [3, 4, 6, 3]),
    "xresnet1d101": (4, [3, 4, 23, 3]), "xresnet1d152": (4, [3, 8, 36, 3]),
}


class XResNet1d(nn.Module):
    def __init__(self, variant="xresnet1d101", leads=12, classes=5, kernel=5, stem_kernel=5):
        super().__init__()
        expansion, blocks = XRESNET_LAYOUTS[variant]
        widths = [leads, 32, 32, 64]
        self.stem = nn.Sequential(*[XConvLayer(widths[i], widths[i + 1], stem_kernel, 2 if i == 0 else 1, True) for i in range(3)])
        self.stemPool = nn.MaxPool1d(3, stride=2, padding=1)
        sizes = [64 // expansion, 64, 64, 64, 64]
        self.stages = nn.Sequential(*[
            nn.Sequential(*[XResBlock(expansion, sizes[s] if b == 0 else sizes[s + 1], sizes[s + 1],
                                      2 if s > 0 and b == 0 else 1, kernel) for b in range(n)])
            for s, n in enumerate(blocks)])
        self.head = BenchmarkHead(sizes[-1] * expansion, classes)

    def features(self, x):
        return self.stages(self.stemPool(self.stem(x)))

    def embed(self, x):
        return self.head.embed(self.features(x))

    def forward(self, x):
        return self.head(self.features(x))


class InceptionBlock1d(nn.Module):
    def __init__(self, cin, filters, kernels, bottleneck):
        super().__init__()
        self.bottleneck = nn.Conv1d(cin, bottleneck, 1, bias=False) if bottleneck > 0 else None
        width = bottleneck if bottleneck > 0 else cin
        self.convs = nn.ModuleList([nn.Conv1d(width, filters, k, padding=(k - 1) // 2, bias=False) for k in kernels])
        self.pool = nn.MaxPool1d(3, stride=1, padding=1)
        self.poolConv = nn.Conv1d(cin, filters, 1, bias=False)
        self.norm = nn.BatchNorm1d((len(kernels) + 1) * filters)

    def forward(self, x):
        bottled = x if self.bottleneck is None else self.bottleneck(x)
        branches = [c(bottled) for c in self.convs] + [self.poolConv(self.pool(x))]
        return F.relu(self.norm(torch.cat(branches, 1)))


class Inception1d(nn.Module):
    def __init__(self, leads=12, classes=5, kernel=40, depth=6, bottleneck=32, filters=32, residual=True):
        super().__init__()
        self.residual = residual
        kernels = [k - 1 if k % 2 == 0 else k for k in (kernel, kernel // 2, kernel // 4)]
        width = (len(kernels) + 1) * filters
        self.blocks = nn.ModuleList([InceptionBlock1d(leads if d == 0 else width, filters, kernels, bottleneck) for d in range(depth)])
        self.shortcuts = nn.ModuleList([
            nn.Sequential(OrderedDict([("conv", nn.Conv1d(leads if d == 0 else width, width, 1, bias=False)),
                                               ("bn", nn.BatchNorm1d(width))]))
            for d in range(depth // 3)])
        self.head = BenchmarkHead(width, classes)

    def features(self, x):
        residual_input = current = x
        for d, block in enumerate(self.blocks):
            current = block(current)
            if self.residual and d % 3 == 2:
                current = F.relu(current + self.shortcuts[d // 3](residual_input))
                residual_input = current
        return current

    def embed(self, x):
        return self.head.embed(self.features(x))

    def forward(self, x):
        return self.head(self.features(x))


class BasicBlock1d(nn.Module):
    def __init__(self, cin, channels, stride, k1, k2):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, channels, k1, stride=stride, padding=(k1 - 1) // 2, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, k2, padding=(k2 - 1) // 2, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)
        self.downsample = (nn.Sequential(nn.Conv1d(cin, channels, 1, stride=stride, bias=False), nn.BatchNorm1d(channels))
                           if stride != 1 or cin != channels else None)

    def forward(self, x):
        path = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(path + identity)


class ResNet1dWang(nn.Module):
    def __init__(self, leads=12, classes=5, channels=128, kernel=5, stem_kernel=7):
        super().__init__()
        self.stemConv = nn.Conv1d(leads, channels, stem_kernel, padding=(stem_kernel - 1) // 2, bias=False)
        self.stemNorm = nn.BatchNorm1d(channels)
        second = kernel // 2 + 1
        self.blocks = nn.Sequential(*[BasicBlock1d(channels, channels, s, kernel, second) for s in (1, 2, 2)])
        self.head = BenchmarkHead(channels, classes)

    def features(self, x):
        return self.blocks(F.relu(self.stemNorm(self.stemConv(x))))

    def embed(self, x):
        return self.head.embed(self.features(x))

    def forward(self, x):
        return self.head(self.features(x))


class FcnWang(nn.Module):
    """Three Conv1d (no bias) + BN + ReLU, 128-256-128 channels, kernels 8, 5, 3, padding (k - 1) // 2 (the
    kernel-8 layer shortens the sequence by one), then the head on 128 channels."""

    LAYERS = ((128, 8), (256, 5), (128, 3))

    def __init__(self, leads=12, classes=5):
        super().__init__()
        layers, cin = [], leads
        for channels, kernel in self.LAYERS:
            layers.append(nn.Sequential(OrderedDict([
                ("conv", nn.Conv1d(cin, channels, kernel, padding=(kernel - 1) // 2, bias=False)),
                ("norm", nn.BatchNorm1d(channels)),
                ("relu", nn.ReLU())])))
            cin = channels
        self.convs = nn.Sequential(*layers)
        self.head = BenchmarkHead(cin, classes)

    def features(self, x):
        return self.convs(x)

    def embed(self, x):
        return self.head.embed(self.features(x))

    def forward(self, x):
        return self.head(self.features(x))


class Lstm1d(nn.Module):
    """2-layer LSTM, 256 hidden units per direction, time-major over the leads at each step, then the head with
    [mean, max, last step] pooling of the outputs (3H features, 6H bidirectional)."""

    def __init__(self, leads=12, classes=5, bidirectional=False, hidden=256, layers=2):
        super().__init__()
        self.lstm = nn.LSTM(leads, hidden, layers, bidirectional=bidirectional)
        self.head = BenchmarkHead((2 if bidirectional else 1) * hidden, classes, pooling="mean-max-last")

    def features(self, x):
        # (batch, leads, T) -> (T, batch, leads) -> LSTM -> (batch, H or 2H, T)
        output, _ = self.lstm(x.permute(2, 0, 1))
        return output.permute(1, 2, 0)

    def embed(self, x):
        return self.head.embed(self.features(x))

    def forward(self, x):
        return self.head(self.features(x))


class S4dConvolution(nn.Module):
    """Diagonal state-space convolution (S4D): fixed A_n = -1/2 + i pi n and steps geometric over [1e-3, 1e-1]
    across channels; C (complex, as real pairs) and D trained. Kernel by zero-order hold, applied by FFT."""

    def __init__(self, channels, modes=32):
        super().__init__()
        self.channels, self.modes = channels, modes
        self.c = nn.Parameter(torch.randn(channels, modes, 2) * 0.5 ** 0.5)
        self.d = nn.Parameter(torch.randn(channels))

    def kernel(self, length):
        h = torch.arange(self.channels, dtype=torch.float64)
        steps = torch.exp(np.log(1e-3) + (np.log(1e-1) - np.log(1e-3)) * h / max(self.channels - 1, 1)).float()
        if self.channels == 1:
            steps = torch.full((1,), 1e-2)
        a = torch.complex(torch.full((1, self.modes), -0.5), torch.arange(self.modes, dtype=torch.float32)[None] * np.pi)
        dt_a = a * steps[:, None]
        c = torch.complex(self.c[..., 0].float(), self.c[..., 1].float())
        weights = c * (dt_a.exp() - 1) / a
        powers = (dt_a[..., None] * torch.arange(length, dtype=torch.float32)).exp()
        return 2 * (weights[..., None] * powers).sum(1).real

    def forward(self, u):
        length = u.shape[-1]
        x = u.float()
        spectrum = torch.fft.rfft(x, 2 * length) * torch.fft.rfft(self.kernel(length), 2 * length)
        return (torch.fft.irfft(spectrum, 2 * length)[..., :length] + x * self.d.float()[:, None]).to(u.dtype)


class S4dBlock(nn.Module):
    def __init__(self, channels, modes, dropout):
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)
        self.ssm = S4dConvolution(channels, modes)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Conv1d(channels, channels, 1)

    def forward(self, x):
        y = self.dropout(F.gelu(self.ssm(self.norm(x))))
        return x + self.dropout(self.output(y))


class S4dNetwork(nn.Module):
    """1x1 encoder to 128 channels, 4 pre-norm S4D blocks (32 modes), final BatchNorm, benchmark head."""

    def __init__(self, leads=12, classes=5, channels=128, layers=4, modes=32, dropout=0.1):
        super().__init__()
        self.encoder = nn.Conv1d(leads, channels, 1)
        self.blocks = nn.Sequential(*[S4dBlock(channels, modes, dropout) for _ in range(layers)])
        self.finalNorm = nn.BatchNorm1d(channels)
        self.head = BenchmarkHead(channels, classes)

    def features(self, x):
        return self.finalNorm(self.blocks(self.encoder(x)))

    def embed(self, x):
        return self.head.embed(self.features(x))

    def forward(self, x):
        return self.head(self.features(x))


def build(model, leads=12, classes=5, eps=1e-5):
    """The network a config's "model" names (ModelFactory's names)."""
    if model == "cross-lead-cnn":
        return CrossLeadCnn(leads, classes, eps)
    if model in XRESNET_LAYOUTS:
        return XResNet1d(model, leads, classes)
    if model == "inception1d":
        return Inception1d(leads, classes)
    if model == "resnet1d-wang":
        return ResNet1dWang(leads, classes)
    if model == "fcn-wang":
        return FcnWang(leads, classes)
    if model in ("lstm", "lstm-bidir"):
        return Lstm1d(leads, classes, bidirectional=model == "lstm-bidir")
    if model == "s4d":
        return S4dNetwork(leads, classes)
    raise ValueError(f"unknown model {model!r}")
