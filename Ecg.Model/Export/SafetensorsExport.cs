using Ecg.Data;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Ecg.Model.Export;

/// <summary>What <see cref="SafetensorsExport.Export"/> wrote.</summary>
/// <param name="Path">The .safetensors file.</param>
/// <param name="Tensors">Tensors written: every parameter and buffer of the state dict.</param>
/// <param name="Metadata">The <c>__metadata__</c> strings (as the ONNX export's, with the standardisation to apply before the module).</param>
public sealed record SafetensorsExportResult(string Path, int Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Writes a network's state dict as a safetensors file (https://github.com/huggingface/safetensors: an 8-byte
/// little-endian header length, a JSON header of name -> dtype, shape, byte offsets, then the raw little-endian
/// data). Names are the state dict's own ("perLead.conv.weight", "head.poolNorm.running_mean"): the module
/// paths PyTorch uses too, so <c>load_state_dict(strict=True)</c> accepts them in the PyTorch definitions of
/// docs/python/ecg_modules.py. Written here rather than with TorchSharp.PyBridge: the format is a page long,
/// and this keeps the metadata and the tensor order (the state dict's) under the exporter's control.
/// </summary>
public static class SafetensorsExport
{
    /// <summary>Exports the session's weights <paramref name="weights"/> (as <see cref="TrainingSession.WeightsPath"/> reads them).</summary>
    public static SafetensorsExportResult Export(TrainingSession session, string weights, string outputPath)
    {
        using var network = OnnxExport.LoadSession(session, weights, out var metadata);
        return Write(network, MetadataOf(metadata), outputPath);
    }

    /// <summary>The ONNX metadata strings, saying that the standardisation is the caller's to apply (no graph here).</summary>
    public static IReadOnlyDictionary<string, string> MetadataOf(OnnxModelMetadata metadata)
    {
        var properties = metadata.ToProperties().ToDictionary(p => p.Key, p => p.Value);
        properties[OnnxModelMetadata.StandardisationInGraphKey] = "false";
        properties["format"] = "pytorch state_dict; module definitions: docs/python/ecg_modules.py";
        return properties;
    }

    /// <summary>Writes the module's state dict (parameters and buffers, float32 or int64) to <paramref name="outputPath"/>, atomically.</summary>
    public static SafetensorsExportResult Write(nn.Module network, IReadOnlyDictionary<string, string> metadata, string outputPath)
    {
        var entries = new List<(string Name, string Dtype, long[] Shape, byte[] Data)>();
        foreach (var (name, value) in network.state_dict())
        {
            using var detached = value.detach();
            using var onCpu = detached.cpu();
            using var contiguous = onCpu.contiguous();
            var (dtype, data) = contiguous.dtype switch
            {
                ScalarType.Float32 => ("F32", Bytes<float>(contiguous)),
                ScalarType.Float64 => ("F64", Bytes<double>(contiguous)),
                ScalarType.Int64 => ("I64", Bytes<long>(contiguous)),
                _ => throw new NotSupportedException($"Safetensors export: '{name}' has dtype {contiguous.dtype}."),
            };
            entries.Add((name, dtype, contiguous.shape, data));
        }
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, text) in metadata) json.WriteString(key, text);
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, dtype, shape, data) in entries)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (var d in shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += data.Length;
            }
            json.WriteEndObject();
        }
        // Header padded with spaces to a multiple of 8 bytes, so the data that follows is aligned (as the reference writer does).
        var headerBytes = header.ToArray();
        int padding = (8 - headerBytes.Length % 8) % 8;
        AtomicFile.Write(outputPath, temporary =>
        {
            using var file = File.Create(temporary);
            file.Write(BitConverter.GetBytes((ulong)(headerBytes.Length + padding)));
            file.Write(headerBytes);
            file.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
            foreach (var entry in entries) file.Write(entry.Data);
        });
        return new SafetensorsExportResult(Path.GetFullPath(outputPath), entries.Count, metadata);
    }

    private static byte[] Bytes<T>(Tensor t) where T : unmanaged
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian.");
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.data<T>().ToArray().AsSpan()).ToArray();
    }
}
