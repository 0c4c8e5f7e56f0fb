using Ecg.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model;

/// <summary>
/// Turns records of a <see cref="ProcessedDataset"/> ((Samples, Leads) row-major) into network input
/// (batch, leads, T), standardised, optionally cut to a random crop. One reused staging array keeps
/// memory flat across batches.
/// </summary>
internal sealed class BatchBuilder
{
    private readonly ProcessedDataset dataset;
    private readonly Standardisation standardisation;
    private readonly Device device;
    private float[] staging = Array.Empty<float>();

    public BatchBuilder(ProcessedDataset dataset, Standardisation standardisation, Device device)
    {
        this.dataset = dataset;
        this.standardisation = standardisation;
        this.device = device;
    }

    /// <summary>
    /// Input for the records <paramref name="indices"/>[offset..offset+count). With a crop length, each record
    /// is cut at a start drawn from <paramref name="random"/> (one draw per record, in order); with an
    /// augmentation, each record's crop is then changed by draws from the same stream.
    /// </summary>
    public Tensor Signals(int[] indices, int offset, int count, int? cropLength = null, Random? random = null, Augmentation? augmentation = null)
    {
        int samples = dataset.Samples, leads = dataset.Leads;
        int length = cropLength is int c && c < samples ? c : samples;
        int needed = count * length * leads;
        if (staging.Length < needed) staging = new float[needed];
        for (int k = 0; k < count; k++)
        {
            int start = length < samples ? random!.Next(samples - length + 1) : 0;
            var source = dataset.Signal(indices[offset + k]).Span.Slice(start * leads, length * leads);
            var crop = staging.AsSpan(k * length * leads, length * leads);
            source.CopyTo(crop);
            augmentation?.Apply(crop, length, leads, dataset.SamplingRate, random ?? throw new ArgumentException("Augmentation needs a random stream."));
        }
        // (B, T, L) as stored -> (B, L, T) as Conv1d wants.
        using var stored = tensor(staging.AsMemory(0, needed), new long[] { count, length, leads });   // copies
        using var channelsFirst = stored.permute(0, 2, 1);
        var result = channelsFirst.contiguous();
        // In-place ops return the same tensor: nothing new to dispose.
        if (standardisation.Kind != "none")
            result.sub_((float)standardisation.Mean).div_((float)standardisation.Std);
        return device.type == DeviceType.CPU ? result : MoveTo(result);
    }

    private Tensor MoveTo(Tensor t) { using (t) return t.to(device); }

    /// <summary>Multi-hot targets (count, classes) as float32.</summary>
    public Tensor Labels(int[] indices, int offset, int count)
    {
        int classes = dataset.ClassNames.Length;
        var values = new float[count * classes];
        for (int k = 0; k < count; k++)
        {
            var row = dataset.LabelsOf(indices[offset + k]).Span;
            for (int j = 0; j < classes; j++) values[k * classes + j] = row[j];
        }
        var t = tensor(values, new long[] { count, classes });
        return device.type == DeviceType.CPU ? t : MoveTo(t);
    }
}
