"""Reference numbers for tests/Ecg.Model.Tests/ArchitectureTests.fs (run once; the project never needs Python).

Debian 12: python3-torch 1.13.1 (`apt-get install python3-torch`), run as `/usr/bin/python3 reference_architectures.py`.

PyTorch re-implementations of the PTB-XL benchmark's networks (Strodthoff et al. 2020, repository
helme/ecg_ptbxl_benchmarking, code/models/{xresnet1d,inception1d,resnet1d,basic_conv1d,rnn1d}.py, with the
fastai v1 helpers they import: bn_drop_lin, AdaptiveConcatPool1d, Flatten), built with the arguments of its
training script (code/models/fastai_model.py): kernel_size 5 (inception1d gets 8 x 5 = 40),
lin_ftrs_head [128], ps_head 0.5; RNN1d with its defaults (hidden 256, 2 layers).

Prints, for each network:
  - trainable parameter counts for 12 leads / 5 classes, 1 lead / 5 classes and 12 leads / 71 classes;
  - logits and embedding shapes for a (2, leads, 250) input;
  - float64 eval-mode logits for the deterministic weights and input that ArchitectureTests.fs builds
    (fill_deterministic / deterministic_signal below mirror fillDeterministic / deterministicSignal there).
"""
import math
import torch
import torch.nn as nn

torch.set_num_threads(2)


# ---------------------------------------------------------------------------------------------------------------
# fastai v1 pieces the benchmark builds its heads from

class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class AdaptiveConcatPool1d(nn.Module):
    """Max then average, each over the whole time axis."""
    def __init__(self):
        super().__init__()
        self.ap, self.mp = nn.AdaptiveAvgPool1d(1), nn.AdaptiveMaxPool1d(1)

    def forward(self, x):
        return torch.cat([self.mp(x), self.ap(x)], 1)


def bn_drop_lin(n_in, n_out, bn, p, actn):
    layers = [nn.BatchNorm1d(n_in)] if bn else []
    if p != 0:
        layers.append(nn.Dropout(p))
    layers.append(nn.Linear(n_in, n_out))
    if actn is not None:
        layers.append(actn)
    return layers


def head_layers(nf, nc, lin_ftrs=(128,), ps=0.5):
    """The linear part of create_head1d / RNN1d's head: one ps spread as [ps/2, ..., ps]."""
    sizes = [nf] + list(lin_ftrs) + [nc]
    dropouts = [ps / 2] * (len(sizes) - 2) + [ps]
    activations = [nn.ReLU(inplace=True)] * (len(sizes) - 2) + [None]
    layers = []
    for n_in, n_out, p, actn in zip(sizes[:-1], sizes[1:], dropouts, activations):
        layers += bn_drop_lin(n_in, n_out, True, p, actn)
    return layers


def create_head1d(nf, nc, lin_ftrs=(128,), ps=0.5):
    return nn.Sequential(AdaptiveConcatPool1d(), Flatten(), *head_layers(2 * nf, nc, lin_ftrs, ps))


# ---------------------------------------------------------------------------------------------------------------
# xresnet1d.py

def conv_layer(ni, nf, ks, stride=1, act=True, zero_bn=False):
    """fastai ConvLayer with bn_1st: Conv (no bias), BatchNorm (weight 0 when zero_bn), ReLU."""
    conv = nn.Conv1d(ni, nf, ks, stride=stride, padding=(ks - 1) // 2, bias=False)
    nn.init.kaiming_normal_(conv.weight)
    bn = nn.BatchNorm1d(nf)
    bn.bias.data.fill_(1e-3)
    bn.weight.data.fill_(0.0 if zero_bn else 1.0)
    layers = [conv, bn] + ([nn.ReLU()] if act else [])
    return nn.Sequential(*layers)


class XResBlock(nn.Module):
    def __init__(self, expansion, ni, nf, stride, ks):
        super().__init__()
        nh = nf
        nf, ni = nf * expansion, ni * expansion
        if expansion == 1:
            convs = [conv_layer(ni, nh, ks, stride), conv_layer(nh, nf, ks, act=False, zero_bn=True)]
        else:
            convs = [conv_layer(ni, nh, 1), conv_layer(nh, nh, ks, stride), conv_layer(nh, nf, 1, act=False, zero_bn=True)]
        self.convs = nn.Sequential(*convs)
        idpath = []
        if ni != nf:
            idpath.append(conv_layer(ni, nf, 1, act=False))
        if stride != 1:
            idpath.insert(0, nn.AvgPool1d(2, ceil_mode=True))  # pool_first=True
        self.idpath = nn.Sequential(*idpath)

    def forward(self, x):
        return torch.relu(self.convs(x) + self.idpath(x))


def init_cnn(m):
    if getattr(m, 'bias', None) is not None:
        nn.init.constant_(m.bias, 0)
    if isinstance(m, (nn.Conv1d, nn.Linear)):
        nn.init.kaiming_normal_(m.weight)
    for child in m.children():
        init_cnn(child)


def xresnet1d(expansion, layers, leads, classes, ks=5):
    stem_sizes = [leads, 32, 32, 64]
    stem = [conv_layer(stem_sizes[i], stem_sizes[i + 1], ks, stride=2 if i == 0 else 1) for i in range(3)]
    block_sizes = [64 // expansion, 64, 64, 64, 64]
    stages = []
    for i, n in enumerate(layers):
        stages.append(nn.Sequential(*[
            XResBlock(expansion, block_sizes[i] if b == 0 else block_sizes[i + 1], block_sizes[i + 1],
                      stride=(1 if i == 0 else 2) if b == 0 else 1, ks=ks)
            for b in range(n)]))
    model = nn.Sequential(*stem, nn.MaxPool1d(3, stride=2, padding=1), *stages,
                          create_head1d(block_sizes[-1] * expansion, classes))
    init_cnn(model)
    return model


# ---------------------------------------------------------------------------------------------------------------
# inception1d.py

def same_conv(ni, nf, ks, stride=1):
    return nn.Conv1d(ni, nf, ks, stride=stride, padding=(ks - 1) // 2, bias=False)


class InceptionBlock1d(nn.Module):
    def __init__(self, ni, filters, kernels, bottleneck=32):
        super().__init__()
        self.bottleneck = same_conv(ni, bottleneck, 1)
        self.convs = nn.ModuleList([same_conv(bottleneck, filters, k) for k in kernels])
        self.conv_bottle = nn.Sequential(nn.MaxPool1d(3, 1, padding=1), same_conv(ni, filters, 1))
        self.bn_relu = nn.Sequential(nn.BatchNorm1d((len(kernels) + 1) * filters), nn.ReLU())

    def forward(self, x):
        bottled = self.bottleneck(x)
        return self.bn_relu(torch.cat([c(bottled) for c in self.convs] + [self.conv_bottle(x)], dim=1))


class Shortcut1d(nn.Module):
    def __init__(self, ni, nf):
        super().__init__()
        self.conv, self.bn = same_conv(ni, nf, 1), nn.BatchNorm1d(nf)

    def forward(self, inp, out):
        return torch.relu(out + self.bn(self.conv(inp)))


class InceptionBackbone(nn.Module):
    def __init__(self, leads, kernels, depth=6, bottleneck=32, filters=32):
        super().__init__()
        width = (len(kernels) + 1) * filters
        self.im = nn.ModuleList([InceptionBlock1d(leads if d == 0 else width, filters, kernels, bottleneck) for d in range(depth)])
        self.sk = nn.ModuleList([Shortcut1d(leads if d == 0 else width, width) for d in range(depth // 3)])

    def forward(self, x):
        residual = x
        for d, block in enumerate(self.im):
            x = block(x)
            if d % 3 == 2:
                x = self.sk[d // 3](residual, x)
                residual = x.clone()
        return x


def inception1d(leads, classes, kernel_size=40):
    kernels = [k - 1 if k % 2 == 0 else k for k in [kernel_size, kernel_size // 2, kernel_size // 4]]
    return nn.Sequential(InceptionBackbone(leads, kernels), create_head1d(4 * 32, classes))


# ---------------------------------------------------------------------------------------------------------------
# resnet1d.py: resnet1d_wang (BasicBlock1d x [1, 1, 1], inplanes 128, stem kernel 7 stride 1, no stem pooling)

class BasicBlock1d(nn.Module):
    def __init__(self, inplanes, planes, stride, kernel_size, downsample):
        super().__init__()
        k1, k2 = kernel_size, kernel_size // 2 + 1
        self.conv1, self.bn1 = same_conv(inplanes, planes, k1, stride), nn.BatchNorm1d(planes)
        self.conv2, self.bn2 = same_conv(planes, planes, k2), nn.BatchNorm1d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        residual = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + residual)


def resnet1d_wang(leads, classes, kernel_size=5, planes=128):
    blocks = []
    for i in range(3):
        stride = 1 if i == 0 else 2
        downsample = None if stride == 1 else nn.Sequential(
            nn.Conv1d(planes, planes, 1, stride=stride, bias=False), nn.BatchNorm1d(planes))
        blocks.append(nn.Sequential(BasicBlock1d(planes, planes, stride, kernel_size, downsample)))
    return nn.Sequential(nn.Conv1d(leads, planes, 7, stride=1, padding=3, bias=False), nn.BatchNorm1d(planes),
                         nn.ReLU(inplace=True), *blocks, create_head1d(planes, classes))


# ---------------------------------------------------------------------------------------------------------------
# basic_conv1d.py: fcn_wang = basic_conv1d(filters [128, 256, 128], kernels [8, 5, 3], stride 1, no pooling)

def fcn_wang(leads, classes):
    filters, kernels = [128, 256, 128], [8, 5, 3]
    layers = []
    for i, (nf, ks) in enumerate(zip(filters, kernels)):
        ni = leads if i == 0 else filters[i - 1]
        # _conv1d: padding (k-1)//2 even for the even kernel 8, so that layer shortens the sequence by one.
        layers.append(nn.Sequential(nn.Sequential(
            nn.Conv1d(ni, nf, ks, stride=1, padding=(ks - 1) // 2, bias=False), nn.BatchNorm1d(nf), nn.ReLU(True))))
    return nn.Sequential(*layers, create_head1d(filters[-1], classes))


# ---------------------------------------------------------------------------------------------------------------
# rnn1d.py: RNN1d(lstm=True, hidden_dim=256, num_layers=2, bidirectional=False/True)

class AdaptiveConcatPoolRNN(nn.Module):
    def __init__(self, bidirectional):
        super().__init__()
        self.bidirectional = bidirectional

    def forward(self, x):  # (batch, channels, T)
        t1 = nn.AdaptiveAvgPool1d(1)(x)
        t2 = nn.AdaptiveMaxPool1d(1)(x)
        if not self.bidirectional:
            t3 = x[:, :, -1]
        else:
            # As in rnn1d.py: `channels` is the full 2H width, so this is x[:, :, -1] (the second slice is empty).
            channels = x.size()[1]
            t3 = torch.cat([x[:, :channels, -1], x[:, channels:, 0]], 1)
        return torch.cat([t1.squeeze(-1), t2.squeeze(-1), t3], 1)


class RNN1d(nn.Module):
    def __init__(self, leads, classes, bidirectional, hidden=256, layers=2):
        super().__init__()
        self.lstm = nn.LSTM(input_size=leads, hidden_size=hidden, num_layers=layers, bidirectional=bidirectional)
        nf = (6 if bidirectional else 3) * hidden
        self.head = nn.Sequential(AdaptiveConcatPoolRNN(bidirectional), *head_layers(nf, classes))

    def forward(self, x):
        # (batch, channels, T) -> (T, batch, channels) -> LSTM -> (batch, 2H or H, T)
        out = self.lstm(x.transpose(1, 2).transpose(0, 1))[0]
        return self.head(out.transpose(0, 1).transpose(1, 2))


# ---------------------------------------------------------------------------------------------------------------
# The project's own cross-lead CNN (docs/DESIGN table; "same" padding does not change the parameter count, and
# every conv feeds a BatchNorm, so no conv bias). Only its parameter count and shapes are compared.

def cross_lead_cnn(leads, classes):
    def block(ni, nf, ks, stride=1, groups=1):
        return [nn.Conv1d(ni, nf, ks, stride=stride, padding=ks // 2, groups=groups, bias=False),
                nn.BatchNorm1d(nf), nn.ReLU(), nn.Dropout(0.2)]
    return nn.Sequential(*block(leads, 3 * leads, 15, groups=leads), *block(3 * leads, 64, 7, 2), *block(64, 128, 7),
                         *block(128, 128, 5, 2), *block(128, 256, 5), nn.AdaptiveAvgPool1d(1), Flatten(),
                         nn.Sequential(nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, classes)))


# ---------------------------------------------------------------------------------------------------------------

BUILDERS = {
    'cross_lead_cnn': cross_lead_cnn,
    'xresnet1d18': lambda l, c: xresnet1d(1, [2, 2, 2, 2], l, c),
    'xresnet1d34': lambda l, c: xresnet1d(1, [3, 4, 6, 3], l, c),
    'xresnet1d50': lambda l, c: xresnet1d(4, [3, 4, 6, 3], l, c),
    'xresnet1d101': lambda l, c: xresnet1d(4, [3, 4, 23, 3], l, c),
    'xresnet1d152': lambda l, c: xresnet1d(4, [3, 8, 36, 3], l, c),
    'inception1d': inception1d,
    'resnet1d_wang': resnet1d_wang,
    'fcn_wang': fcn_wang,
    'lstm': lambda l, c: RNN1d(l, c, bidirectional=False),
    'lstm_bidir': lambda l, c: RNN1d(l, c, bidirectional=True),
}


def parameter_count(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def embedding_module(model):
    """The head's only ReLU: its output is the 128-d embedding IEcgNetwork.Embed returns."""
    head = list(model.children())[-1]
    return [m for m in head.children() if isinstance(m, nn.ReLU)][-1]


def fill_deterministic(model):
    """Each tensor from its own element index (as fillDeterministic in ArchitectureTests.fs)."""
    def weight_and_bias(w, b):
        fan_in = w.numel() // w.shape[0]
        j = torch.arange(w.numel(), dtype=torch.float64)
        w.copy_((torch.sin(j * 0.37 + 0.11) * math.sqrt(3.0 / fan_in)).view(w.shape))
        if b is not None:
            b.copy_(torch.cos(torch.arange(b.numel(), dtype=torch.float64) * 0.7) * 0.05)

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                weight_and_bias(m.weight, m.bias)
            elif isinstance(m, nn.BatchNorm1d):
                c = torch.arange(m.weight.numel(), dtype=torch.float64)
                m.weight.copy_(torch.sin(c * 0.3) * 0.2 + 1.0)
                m.bias.copy_(torch.cos(c * 0.5) * 0.1)
                m.running_mean.copy_(torch.sin(c * 0.9) * 0.05)
                m.running_var.copy_(torch.cos(c * 0.2) ** 2 * 0.3 + 1.0)
            elif isinstance(m, nn.LSTM):
                # weight_ih/weight_hh (4H, fan-in) like a linear weight; bias_ih/bias_hh like a bias.
                for name, p in m.named_parameters():
                    if name.startswith('weight'):
                        weight_and_bias(p, None)
                    else:
                        p.copy_(torch.cos(torch.arange(p.numel(), dtype=torch.float64) * 0.7) * 0.05)


def deterministic_signal():
    i = torch.arange(2 * 12 * 250, dtype=torch.float64)
    return (torch.sin(i * 0.013) + torch.cos(i * 0.071) * 0.5).view(2, 12, 250)


def macs_per_sample(model, leads, length):
    """Multiply-accumulates of one sample's forward pass: every Conv1d and Linear (output size x fan-in) and
    every LSTM step (4H x (inputs + H) per layer and direction); BatchNorm, pooling and activations left out."""
    total = [0]

    def count(m, inputs, output):
        if isinstance(m, nn.Conv1d):
            total[0] += output[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0]
        elif isinstance(m, nn.Linear):
            total[0] += m.in_features * m.out_features
        elif isinstance(m, nn.LSTM):
            directions = 2 if m.bidirectional else 1
            for layer in range(m.num_layers):
                inputs_per_step = m.input_size if layer == 0 else m.hidden_size * directions
                total[0] += length * directions * 4 * m.hidden_size * (inputs_per_step + m.hidden_size)

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear, nn.LSTM))]
    with torch.no_grad():
        model.eval()(torch.randn(1, leads, length))
    for h in hooks:
        h.remove()
    return total[0]


def fsharp_floats(values):
    return '[ ' + '; '.join(f'{v:.6f}'.rstrip('0').rstrip('.') if '.' in f'{v:.6f}' else f'{v}' for v in values) + ' ]'


if __name__ == '__main__':
    torch.manual_seed(0)
    print(f'torch {torch.__version__}')
    print('\n# trainable parameters: (12 leads, 5 classes), (1 lead, 5 classes), (12 leads, 71 classes)')
    for name, build in BUILDERS.items():
        counts = [parameter_count(build(l, c)) for l, c in [(12, 5), (1, 5), (12, 71)]]
        print(f'{name:14s} {counts[0]:>10,} {counts[1]:>10,} {counts[2]:>10,}')

    print('\n# MACs per sample of the forward pass, 12 leads, 5 classes: T = 250, T = 1000')
    for name, build in BUILDERS.items():
        model = build(12, 5)
        print(f'{name:14s} {macs_per_sample(model, 12, 250) / 1e6:8.1f} M {macs_per_sample(model, 12, 1000) / 1e6:8.1f} M')

    print('\n# shapes (eval mode): input (2, leads, 250) -> logits, embedding')
    for name, build in BUILDERS.items():
        for leads, classes in [(12, 5), (1, 5), (12, 71)]:
            model = build(leads, classes).eval()
            captured = {}
            embedding_module(model).register_forward_hook(lambda m, i, o: captured.update(e=o))
            with torch.no_grad():
                logits = model(torch.randn(2, leads, 250))
            print(f'{name:14s} {leads:2d} leads {classes:2d} classes: logits {tuple(logits.shape)}, embedding {tuple(captured["e"].shape)}')

    print('\n# LSTM parameter layout (torch): name, shape')
    for bidirectional in [False, True]:
        lstm = nn.LSTM(input_size=12, hidden_size=256, num_layers=2, bidirectional=bidirectional)
        print(f'bidirectional={bidirectional}: ' + ', '.join(f'{n} {tuple(p.shape)}' for n, p in lstm.named_parameters()))

    print('\n# float64 eval-mode logits for fill_deterministic weights and deterministic_signal input (2 x 5, row-major)')
    for name in ['xresnet1d18', 'xresnet1d50', 'inception1d', 'resnet1d_wang', 'fcn_wang', 'lstm', 'lstm_bidir']:
        model = BUILDERS[name](12, 5).double()
        fill_deterministic(model)
        model.eval()
        with torch.no_grad():
            logits = model(deterministic_signal())
        print(f'"{name}", {fsharp_floats(logits.flatten().tolist())}')
