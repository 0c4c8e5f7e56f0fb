using static TorchSharp.torch;

namespace Ecg.Model.Architectures;

/// <summary>
/// One network `ecg train --model` can build: its name (as the CLI and a session's config.json spell it), a
/// one-line description, and how to construct it. <see cref="All"/> is the single list of models.
/// </summary>
public sealed class Architecture
{
    private readonly Func<int, int, LayerSettings, nn.Module<Tensor, Tensor>> create;

    /// <summary>The name `--model` takes and config.json stores, e.g. "xresnet1d101".</summary>
    public string Name { get; }

    /// <summary>One line for help texts.</summary>
    public string Description { get; }

    private Architecture(string name, string description, Func<int, int, LayerSettings, nn.Module<Tensor, Tensor>> create)
    {
        Name = name;
        Description = description;
        this.create = create;
    }

    /// <summary>
    /// A fresh network for input (batch, leads, T) with one logit per class; it also implements
    /// <see cref="IEcgNetwork"/>. Only the cross-lead CNN reads <paramref name="settings"/> (null: torch's).
    /// </summary>
    public nn.Module<Tensor, Tensor> Create(int leads, int classes, LayerSettings? settings = null)
    {
        if (leads < 1) throw new ArgumentOutOfRangeException(nameof(leads), leads, $"{Name}: at least one lead is needed.");
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{Name}: at least one class is needed.");
        return create(leads, classes, settings ?? LayerSettings.Torch);
    }

    public override string ToString() => Name;

    // Names of models that sessions already store keep their spelling; new ones follow it (lower case, hyphens).
    public static Architecture CrossLeadCnn { get; } = new(ModelFactory.CrossLeadCnn,
        "the original notebooks' cross-lead CNN (per-lead then cross-lead convolutions, 128-d embedding)",
        (leads, classes, settings) => new CrossLeadCnn(leads, classes, settings));

    public static Architecture XResNet1d18 { get; } = XResNet("xresnet1d18", XResNet1dVariant.XResNet1d18, "basic blocks [2, 2, 2, 2]");
    public static Architecture XResNet1d34 { get; } = XResNet("xresnet1d34", XResNet1dVariant.XResNet1d34, "basic blocks [3, 4, 6, 3]");
    public static Architecture XResNet1d50 { get; } = XResNet("xresnet1d50", XResNet1dVariant.XResNet1d50, "bottleneck blocks [3, 4, 6, 3]");
    public static Architecture XResNet1d101 { get; } = XResNet("xresnet1d101", XResNet1dVariant.XResNet1d101,
        "bottleneck blocks [3, 4, 23, 3], the benchmark's best single model");
    public static Architecture XResNet1d152 { get; } = XResNet("xresnet1d152", XResNet1dVariant.XResNet1d152, "bottleneck blocks [3, 8, 36, 3]");

    public static Architecture Inception1d { get; } = new("inception1d",
        "benchmark InceptionTime: 6 inception blocks (kernels 39, 19, 9), shortcut every 3",
        (leads, classes, _) => new Inception1d(leads, classes));

    public static Architecture ResNet1dWang { get; } = new("resnet1d-wang",
        "benchmark resnet1d_wang (Wang et al. 2017): 3 basic blocks of 128 channels",
        (leads, classes, _) => new ResNet1dWang(leads, classes));

    public static Architecture FcnWang { get; } = new("fcn-wang",
        "benchmark fcn_wang (Wang et al. 2017): 3 convolutions 128-256-128 (kernels 8, 5, 3)",
        (leads, classes, _) => new FcnWang(leads, classes));

    public static Architecture Lstm { get; } = new("lstm",
        "benchmark lstm: 2-layer LSTM, 256 units; the benchmark trained it at max lr 1e-3",
        (leads, classes, _) => new Lstm1d(leads, classes, bidirectional: false));

    public static Architecture LstmBidirectional { get; } = new("lstm-bidir",
        "benchmark lstm_bidir: 2-layer bidirectional LSTM, 256 units per direction; max lr 1e-3",
        (leads, classes, _) => new Lstm1d(leads, classes, bidirectional: true));

    public static Architecture S4d { get; } = new("s4d",
        "S4D state-space model (diagonal S4): 4 blocks of 128 channels, 32 complex modes, fixed S4D-Lin A and step",
        (leads, classes, _) => new S4dNetwork(leads, classes));

    private static Architecture XResNet(string name, XResNet1dVariant variant, string blocks) =>
        new(name, $"benchmark {name}: fastai's xresnet in 1-d, {blocks}",
            (leads, classes, _) => new XResNet1d(variant, leads, classes));

    /// <summary>Every model, in the order help texts list them.</summary>
    public static IReadOnlyList<Architecture> All { get; } = new[]
    {
        CrossLeadCnn, XResNet1d18, XResNet1d34, XResNet1d50, XResNet1d101, XResNet1d152,
        Inception1d, ResNet1dWang, FcnWang, Lstm, LstmBidirectional, S4d,
    };

    /// <summary>Every accepted name, comma-separated, for error messages.</summary>
    public static string AcceptedNames => string.Join(", ", All.Select(a => a.Name));

    /// <summary>One line per model, "name  description", names padded to one width: for `ecg train --help`.</summary>
    public static string HelpList
    {
        get
        {
            int width = All.Max(a => a.Name.Length);
            return string.Join(Environment.NewLine, All.Select(a => $"{a.Name.PadRight(width)}  {a.Description}"));
        }
    }

    /// <summary>The model of that name (exact spelling), or false.</summary>
    public static bool TryParse(string? name, out Architecture architecture)
    {
        architecture = All.FirstOrDefault(a => a.Name == name)!;
        return architecture is not null;
    }

    /// <summary>The model of that name; an unknown name fails with one line listing the accepted ones.</summary>
    public static Architecture Parse(string? name) =>
        TryParse(name, out var architecture) ? architecture : throw new ArgumentException(UnknownNameMessage(name));

    /// <summary>"Model 'x' is unknown (accepted: ...)." with a hint when only case or '_' for '-' differs.</summary>
    public static string UnknownNameMessage(string? name)
    {
        var near = All.FirstOrDefault(a => string.Equals(a.Name, name?.Trim().Replace('_', '-'), StringComparison.OrdinalIgnoreCase));
        var hint = near is null ? "" : $" Did you mean '{near.Name}'?";
        return $"Model '{name}' is unknown (accepted: {AcceptedNames}).{hint}";
    }
}
