using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// Record-level logits from a network trained on shorter inputs: windows of the given length and stride
/// (plus one flush with the end when the stride does not reach it), combined by max (the benchmark's choice)
/// or by the mean of the windows' probabilities; or "whole": no windows, one pass over the whole record (the
/// networks pool globally, so they take any length). All return logits, so losses can still use them: max of
/// logits equals max of probabilities under the monotone sigmoid, and the mean is mapped back through logit.
/// </summary>
public static class WindowedInference
{
    /// <summary>Start offsets of the windows over a record of <paramref name="length"/> samples.</summary>
    public static long[] WindowStarts(long length, long window, long stride)
    {
        if (window >= length) return new[] { 0L };
        var starts = new List<long>();
        for (long s = 0; s + window <= length; s += stride) starts.Add(s);
        if (starts[^1] + window < length) starts.Add(length - window);
        return starts.ToArray();
    }

    /// <summary>Logits (batch, classes) for input (batch, leads, T); window null means one pass over the whole input.</summary>
    public static Tensor Logits(nn.Module<Tensor, Tensor> model, Tensor input, int? window, int? stride, WindowAggregation aggregation = WindowAggregation.Max)
    {
        long length = input.shape[^1];
        if (window is not int w || w >= length || aggregation == WindowAggregation.Whole) return model.forward(input);
        using var scope = NewDisposeScope();
        var starts = WindowStarts(length, w, stride ?? w);
        long batch = input.shape[0], leads = input.shape[1];
        // (W, B, L, w) -> (W*B, L, w): one forward pass for all windows.
        var windows = stack(starts.Select(s => input.narrow(-1, s, w)).ToArray()).reshape(starts.Length * batch, leads, w);
        var logits = model.forward(windows);
        var perWindow = logits.reshape(starts.Length, batch, logits.shape[^1]);
        if (aggregation == WindowAggregation.Max) return perWindow.amax(new long[] { 0 }).MoveToOuterDisposeScope();
        // Mean of probabilities, clamped so the logit stays finite for saturated windows.
        var mean = perWindow.sigmoid().mean(new long[] { 0 }).clamp(1e-7, 1 - 1e-7);
        return (mean.log() - (1 - mean).log()).MoveToOuterDisposeScope();
    }
}
