using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ecg.Model.Architectures;

/// <summary>
/// The LSTM networks of the PTB-XL benchmark (rnn1d.py, RNN1d with lstm=True as fastai_lstm and
/// fastai_lstm_bidir build it): a 2-layer LSTM with 256 hidden units per direction over the leads at each time
/// step, then the benchmark head on the LSTM outputs pooled as [mean, max, last time step]
/// (<see cref="HeadPooling.MeanMaxLast"/>: 3H features, 6H when bidirectional).
/// Input (batch, leads, T); output (batch, classes) logits. The LSTM is libtorch's, with torch's parameter
/// layout (weight_ih_l0 (4H, leads), weight_hh_l0 (4H, H), bias_ih_l0, bias_hh_l0, ..., "_reverse" for the
/// backward direction; gates i, f, g, o). Torch's default initialisation; the benchmark's training script
/// applied <see cref="BenchmarkInitialisation.ApplyWeightInit"/>, which leaves the LSTM as it is, trained it with
/// a maximum learning rate of 1e-3 (not 1e-2) and clipped gradients to norm 0.25.
/// </summary>
public sealed class Lstm1d : BenchmarkHeadNetwork
{
    private readonly LSTM lstm;
    private readonly BenchmarkHead head;

    public int Leads { get; }
    public int Classes { get; }
    public bool Bidirectional { get; }
    public int HiddenSize { get; }

    public Lstm1d(int leads = 12, int classes = 5, bool bidirectional = false, int hiddenSize = 256, int layers = 2,
                  int embeddingSize = 128, double headDropout = 0.5)
        : base(nameof(Lstm1d))
    {
        Leads = leads;
        Classes = classes;
        Bidirectional = bidirectional;
        HiddenSize = hiddenSize;
        // Time-major as in rnn1d.py, so the LSTM sees the same (T, batch, leads) layout.
        lstm = LSTM(leads, hiddenSize, layers, batchFirst: false, bidirectional: bidirectional);
        head = new BenchmarkHead((bidirectional ? 2 : 1) * hiddenSize, classes, embeddingSize, headDropout, HeadPooling.MeanMaxLast);
        RegisterComponents();
    }

    /// <summary>The LSTM's outputs at every step as (batch, H or 2H, T) feature maps for the head.</summary>
    protected override BenchmarkHead Head => head;

    protected override Tensor Features(Tensor x)
    {
        InputChecks.RequireSignalBatch(x, Leads, 1, nameof(Lstm1d));
        using var scope = NewDisposeScope();
        var (output, _, _) = lstm.forward(x.permute(2, 0, 1));
        return output.permute(1, 2, 0).MoveToOuterDisposeScope();
    }
}
