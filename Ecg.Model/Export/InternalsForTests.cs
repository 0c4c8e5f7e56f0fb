using System.Runtime.CompilerServices;

// The export tests build graphs layer by layer (OnnxGraphBuilder) to check single operators, such as the LSTM,
// against TorchSharp before an architecture uses them.
[assembly: InternalsVisibleTo("Ecg.Model.Tests")]
