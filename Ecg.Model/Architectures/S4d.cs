using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ecg.Model.Architectures;

/// <summary>
/// One diagonal state-space convolution (S4D, Gu et al. 2022, "On the parameterization and initialization of diagonal
/// state space models"): per channel h a state of <see cref="Modes"/> complex modes, x'(t) = A x(t) + B u(t),
/// y(t) = 2 Re(C x(t)) + D u(t), discretised with zero-order hold at step Δ_h. Over a sequence of length L that is a
/// causal convolution with the kernel K_h[l] = 2 Re(Σ_n C_hn (exp(Δ_h A_n) - 1) / A_n · exp(Δ_h A_n l)), computed for
/// the input's length and applied by FFT (the D term added). A is S4D-Lin's, A_n = -1/2 + iπn, and Δ_h spaced
/// geometrically over [1e-3, 1e-1] across channels; both are fixed (the benchmark recipe's single learning rate of
/// 1e-2 with weight decay would move them; S4 trains them at 1e-3 without decay). C (complex, as real pairs) and D
/// train. The kernel and the FFTs run in float32 whatever the input's type (bfloat16 FFTs do not exist), so a
/// bfloat16 shadow (MixedPrecision) computes the same kernel as its float32 master from the same C.
/// </summary>
public sealed class S4dConvolution : Module<Tensor, Tensor>
{
    private readonly Parameter c, d;

    public int Channels { get; }
    public int Modes { get; }

    public S4dConvolution(int channels, int modes = 32) : base(nameof(S4dConvolution))
    {
        Channels = channels;
        Modes = modes;
        // S4D's initialisation of C: complex normal with variance 1/2 per part (B = 1 absorbed into it).
        c = Parameter(randn(channels, modes, 2) * Math.Sqrt(0.5));
        d = Parameter(randn(channels));
        RegisterComponents();
    }

    /// <summary>Δ_h: geometric over [1e-3, 1e-1] across the channels.</summary>
    public static double Step(int channel, int channels) =>
        channels == 1 ? 1e-2 : Math.Exp(Math.Log(1e-3) + (Math.Log(1e-1) - Math.Log(1e-3)) * channel / (channels - 1));

    /// <summary>The convolution kernel (Channels, length) in float32, the D term at lag 0 not included.</summary>
    public Tensor Kernel(long length)
    {
        using var scope = NewDisposeScope();
        var steps = tensor(Enumerable.Range(0, Channels).Select(h => (float)Step(h, Channels)).ToArray()).unsqueeze(1);    // (H, 1)
        var imaginary = (arange(Modes, dtype: ScalarType.Float32) * (float)Math.PI).unsqueeze(0);                           // (1, N)
        var a = complex(full(1, Modes, -0.5f), imaginary);                                                                  // (1, N)
        var dtA = a * steps;                                                                                                // (H, N)
        var cf = c.to(ScalarType.Float32);
        var cComplex = complex(cf.select(-1, 0), cf.select(-1, 1));                                                        // (H, N)
        var weights = cComplex * (dtA.exp() - 1) / a;                                                                       // ZOH: C (exp(ΔA) - 1) / A
        var lags = arange(length, dtype: ScalarType.Float32);                                                               // (L)
        var powers = (dtA.unsqueeze(-1) * lags).exp();                                                                      // (H, N, L)
        var kernel = (weights.unsqueeze(-1) * powers).sum(1).real * 2;                                                      // (H, L)
        return kernel.MoveToOuterDisposeScope();
    }

    /// <summary>The D term per channel (float32).</summary>
    public Tensor Skip => d;

    public override Tensor forward(Tensor u)
    {
        using var scope = NewDisposeScope();
        long length = u.shape[^1];
        var input = u.to(ScalarType.Float32);
        var kernel = Kernel(length);
        // Linear (not circular) convolution: transforms of length 2L, the first L outputs kept.
        var spectrum = fft.rfft(input, 2 * length) * fft.rfft(kernel, 2 * length);
        var y = fft.irfft(spectrum, 2 * length).narrow(-1, 0, length) + input * d.to(ScalarType.Float32).unsqueeze(-1);
        return y.to(u.dtype).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// One pre-norm S4D block: x + Dropout(Conv1x1(Dropout(GELU(S4D(BatchNorm(x)))))).
/// </summary>
public sealed class S4dBlock : Module<Tensor, Tensor>
{
    private readonly BatchNorm1d norm;
    private readonly S4dConvolution ssm;
    private readonly Dropout dropout;
    private readonly Conv1d output;

    public S4dBlock(string name, int channels, int modes, double dropoutRate) : base(name)
    {
        norm = BatchNorm1d(channels);
        ssm = new S4dConvolution(channels, modes);
        dropout = Dropout(dropoutRate);
        output = Conv1d(channels, channels, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = dropout.forward(functional.gelu(ssm.forward(norm.forward(x))));
        return (x + dropout.forward(output.forward(y))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// An S4D-style state-space classifier for PTB-XL (after the S4 models of Mehari and Strodthoff 2023, here with
/// diagonal state matrices and sized for 2 cores): a 1x1 convolution leads→128 channels, 4 pre-norm S4D blocks
/// (32 complex modes per channel), a final BatchNorm, and the benchmark head ([max, mean] pooling, 128-d embedding).
/// Input (batch, leads, T), any T; output (batch, classes) logits.
/// </summary>
public sealed class S4dNetwork : BenchmarkHeadNetwork
{
    private readonly Conv1d encoder;
    private readonly Sequential blocks;
    private readonly BatchNorm1d finalNorm;
    private readonly BenchmarkHead head;

    public int Leads { get; }
    public int Classes { get; }

    public S4dNetwork(int leads = 12, int classes = 5, int channels = 128, int layers = 4, int modes = 32, double dropout = 0.1,
                      int embeddingSize = 128, double headDropout = 0.5)
        : base(nameof(S4dNetwork))
    {
        Leads = leads;
        Classes = classes;
        encoder = Conv1d(leads, channels, 1);
        blocks = Sequential(Enumerable.Range(0, layers).Select(i => (i.ToString(), (Module<Tensor, Tensor>)new S4dBlock(i.ToString(), channels, modes, dropout))).ToArray());
        finalNorm = BatchNorm1d(channels);
        head = new BenchmarkHead(channels, classes, embeddingSize, headDropout);
        RegisterComponents();
    }

    protected override BenchmarkHead Head => head;

    protected override Tensor Features(Tensor x)
    {
        InputChecks.RequireSignalBatch(x, Leads, 1, nameof(S4dNetwork));
        using var scope = NewDisposeScope();
        return finalNorm.forward(blocks.forward(encoder.forward(x))).MoveToOuterDisposeScope();
    }
}
