/// ONNX export and the ONNX Runtime engine: every architecture's exported graph gives TorchSharp's
/// probabilities and embeddings, a trained session scores the same through either engine, and the file
/// passes ONNX's own checker where python3 with the onnx package is installed.
module Ecg.Model.Tests.OnnxExportTests

open System
open System.Diagnostics
open System.IO
open Expecto
open TorchSharp
open Ecg.Data
open Ecg.Model
open Ecg.Model.Architectures
open Ecg.Model.Export
open Ecg.Model.Tests.TrainingFixtures
open Ecg.Model.Tests.TrainingTests

/// Trained-looking BatchNorm layers: running statistics and affine parameters away from their initial values
/// (fresh ones are the identity, and xresnet's zero-initialised ones would hide the residual path).
let private randomiseNorms (model: torch.nn.Module) (seed: int64) =
    use _ = torch.no_grad()
    let generator = new torch.Generator(uint64 seed)
    for struct (_, m) in model.named_modules() do
        match m with
        | :? TorchSharp.Modules.BatchNorm1d as bn ->
            let n = bn.num_features
            bn.running_mean.copy_(torch.randn(n, generator = generator) * 0.1) |> ignore
            bn.running_var.copy_(torch.rand(n, generator = generator) * 0.5 + 0.75) |> ignore
            bn.weight.copy_(torch.rand(n, generator = generator) * 0.5 + 0.75) |> ignore
            bn.bias.copy_(torch.randn(n, generator = generator) * 0.1) |> ignore
        | _ -> ()

let private standardisation = Standardisation("global", 0.02, 0.15)

let private metadataFor (name: string) (network: IEcgNetwork) window =
    OnnxModelMetadata(
        Model = name, ClassNames = classNames, LeadNames = leadNames, SamplingRate = 100.0, WindowSamples = window,
        WindowStride = Nullable(), Aggregation = "whole", RecordSamples = window, EmbeddingSize = network.EmbeddingSize,
        Standardisation = standardisation)

/// Random windows in mV, (count, 12, window) row-major.
let private windowsOf count window seed =
    let random = Random(seed: int)
    Array.init (count * 12 * window) (fun _ -> float32 (0.3 * (random.NextDouble() - 0.5)))

let private maxAbsDifference (a: float32[]) (b: float32[]) =
    Expect.equal a.Length b.Length "same number of values"
    Seq.zip a b |> Seq.map (fun (x, y) -> abs (float x - float y)) |> Seq.max

/// Exports <paramref name="name"/> (random weights, randomised BatchNorm) at <paramref name="window"/> samples and
/// returns TorchSharp's and ONNX Runtime's (probabilities, embeddings) for 3 random windows.
let private compareEngines (name: string) window =
    torch.random.manual_seed 7L |> ignore
    use model = ModelFactory.Create(TrainingConfig(Model = name), 12, 5)
    randomiseNorms model 3L
    model.eval()
    let network = box model :?> IEcgNetwork
    let path = Path.Combine(temporaryArtifacts (), $"{name}.onnx")
    let result = OnnxExport.ExportNetwork(model, metadataFor name network window, path)
    let windows = windowsOf 3 window 11
    let torchLogits, torchProbabilities, torchEmbeddings =
        use _ = torch.no_grad()
        use signals = torch.tensor(windows, ReadOnlySpan<int64>([| 3L; 12L; int64 window |]))
        use standardised = (signals - float32 standardisation.Mean) / float32 standardisation.Std
        use logits = model.forward standardised
        use probabilities = logits.sigmoid()
        use embeddings = network.Embed standardised
        logits.data<float32>().ToArray(), probabilities.data<float32>().ToArray(), embeddings.data<float32>().ToArray()
    use engine = OnnxInferenceEngine.Load path
    let struct (logits, embeddings) = engine.RunWindows(windows, 3)
    let onnxProbabilities = logits |> Array.map (fun z -> float32 (1.0 / (1.0 + exp (-(float z)))))
    result, (torchLogits, logits), (torchProbabilities, onnxProbabilities), (torchEmbeddings, embeddings)

/// python3 that can import onnx, if any: PATH's first, then Debian's (python3-onnx).
let private pythonWithOnnx =
    lazy (
        [ "python3"; "/usr/bin/python3" ]
        |> List.tryFind (fun python ->
            try
                use p = Process.Start(ProcessStartInfo(python, "-c \"import onnx\"", RedirectStandardError = true, RedirectStandardOutput = true))
                p.WaitForExit(60_000) && p.ExitCode = 0
            with _ -> false))

/// python3 that can import torch and numpy (Debian's python3-torch), if any.
let private pythonWithTorch =
    lazy (
        [ "python3"; "/usr/bin/python3" ]
        |> List.tryFind (fun python ->
            try
                use p = Process.Start(ProcessStartInfo(python, "-c \"import torch, numpy\"", RedirectStandardError = true, RedirectStandardOutput = true))
                p.WaitForExit(120_000) && p.ExitCode = 0
            with _ -> false))

/// Loads a safetensors file into docs/python/ecg_modules.py's definition of the model (strict) and prints the
/// logits of the float32 (batch, 12, T) input in a raw file, as JSON.
let private pytorchLogits (python: string) (weights: string) (input: string) (shape: int64[]) =
    let modules = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", "..", "docs", "python"))
    let script =
        "import sys, json, numpy as np, torch\n" +
        "sys.path.insert(0, sys.argv[1])\n" +
        "from ecg_modules import build, load_safetensors\n" +
        "state, meta = load_safetensors(sys.argv[2])\n" +
        "model = build(meta['model'], len(json.loads(meta['lead_names'])), len(json.loads(meta['class_names'])))\n" +
        "model.load_state_dict(state, strict=True)\n" +
        "model.eval()\n" +
        "x = torch.from_numpy(np.fromfile(sys.argv[3], dtype='<f4').reshape(json.loads(sys.argv[4])))\n" +
        "with torch.no_grad(): print(json.dumps(model(x).flatten().tolist()))\n"
    let info = ProcessStartInfo(python, RedirectStandardError = true, RedirectStandardOutput = true)
    for a in [ "-c"; script; modules; weights; input; "[" + String.Join(", ", shape) + "]" ] do info.ArgumentList.Add a
    use p = Process.Start info
    let output = p.StandardOutput.ReadToEnd()
    let errors = p.StandardError.ReadToEnd()
    p.WaitForExit()
    if p.ExitCode <> 0 then failwithf "python failed (%d): %s" p.ExitCode errors
    System.Text.Json.JsonSerializer.Deserialize<float[]>(output.Trim()) |> Array.map float32

/// Runs onnx.checker.check_model (full check, with shape inference) on a file: (exit code, output).
let private onnxChecker (python: string) (path: string) =
    let script = "import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print('ok', m.ir_version, m.opset_import[0].version)"
    let info = ProcessStartInfo(python, RedirectStandardError = true, RedirectStandardOutput = true)
    info.ArgumentList.Add "-c"
    info.ArgumentList.Add script
    info.ArgumentList.Add path
    use p = Process.Start info
    let output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd()
    p.WaitForExit()
    p.ExitCode, output

[<Tests>]
let tests =
    testList "OnnxExport" [
        test "every model name has an ONNX graph emitter" {
            for name in ModelFactory.Names do
                use model = ModelFactory.Create(TrainingConfig(Model = name), 12, 5)
                Expect.contains OnnxExport.SupportedNetworks (model.GetType()) $"{name} ({model.GetType().Name}) can be exported"
        }

        testList "ONNX Runtime gives TorchSharp's probabilities (1e-4) and embeddings for every architecture" [
            // 2.5 s windows at 100 Hz, plus odd lengths where Keras "same" padding and xresnet's ceil-mode pooling change,
            // fcn-wang's kernel-8 layer shortens the sequence by one (down to its shortest input, 2 samples), and the
            // LSTM head's last step moves (a single step: mean, max and last step coincide).
            for name, window in
                [ for n in ModelFactory.Names -> n, 250
                  yield "cross-lead-cnn", 333
                  yield "cross-lead-cnn", 1000
                  yield "xresnet1d18", 251
                  yield "resnet1d-wang", 333
                  yield "fcn-wang", 333
                  yield "fcn-wang", 2
                  yield "lstm", 251
                  yield "lstm-bidir", 251
                  yield "lstm-bidir", 1
                  yield "s4d", 1000
                  yield "s4d", 1 ] ->
                test $"{name}, {window} samples" {
                    let result, (torchL, onnxL), (torchP, onnxP), (torchE, onnxE) = compareEngines name window
                    Expect.isLessThanOrEqual (maxAbsDifference torchP onnxP) 1e-4 "probabilities"
                    // Random deep networks can saturate the sigmoid, where probabilities agree trivially: logits and
                    // embeddings are compared too, relative to their largest magnitude (at least 1).
                    let relative (expected: float32[]) actual =
                        maxAbsDifference expected actual / (expected |> Array.map (fun v -> abs (float v)) |> Array.max |> max 1.0)
                    Expect.isLessThanOrEqual (relative torchL onnxL) 1e-4 "logits"
                    Expect.isLessThanOrEqual (relative torchE onnxE) 1e-4 "embeddings"
                    Expect.isGreaterThan result.Nodes 0 "nodes"
                }
        ]

        test "the graph holds no BatchNorm, Dropout or training-only node" {
            use model = ModelFactory.Create(TrainingConfig(Model = "xresnet1d18"), 12, 5)
            let result = OnnxExport.ExportNetwork(model, metadataFor "xresnet1d18" (box model :?> IEcgNetwork) 250, Path.Combine(temporaryArtifacts (), "x.onnx"))
            let ops = result.Operators.Keys |> Set.ofSeq
            Expect.isEmpty (Set.intersect ops (set [ "BatchNormalization"; "Dropout" ])) $"ops: {ops}"
            // 3 stem + 8 blocks x 2 (64 channels throughout: no projections): one Conv per conv+BN pair.
            Expect.equal result.Operators.["Conv"] 19 "convolutions"
            Expect.equal result.Operators.["AveragePool"] 3 "identity pools of the three strided blocks"
            Expect.equal result.Operators.["Gemm"] 2 "linear layers"
        }

        test "a trained session scores and embeds the same through ONNX Runtime and TorchSharp (windows, mean and max)" {
            let data = synthetic 60 200 4
            for aggregation in [ "mean"; "max" ] do
                let config = modify (smallBenchmark 1) [ "eval_aggregation", box aggregation ]
                let trained = Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark, options = quiet)
                let path = Path.Combine(trained.Session.Folder, "export", "model.onnx")
                let result = OnnxExport.Export(trained.Session, "best", path)
                Expect.equal result.Metadata.WindowSamples 100 "window from the session"
                Expect.equal result.Metadata.WindowStride (Nullable 50) "stride from the session"
                Expect.equal result.Metadata.Aggregation aggregation "aggregation from the session"
                let indices = [| 0 .. data.RecordCount - 1 |]
                use engine = OnnxInferenceEngine.Load path
                Expect.sequenceEqual engine.ClassNames classNames "class names from the file"
                Expect.equal engine.Metadata.Standardisation (trained.Session.LoadStandardisation()) "standardisation recorded"
                use predictor = Predictor.Load(trained.Session, "best", "cpu")
                let torchP = predictor.PredictRecords(data, indices)
                let onnxP = engine.PredictRecords(data, indices, batchSize = 7)
                Expect.isLessThanOrEqual (maxAbsDifference torchP onnxP) 1e-4 $"{aggregation}: probabilities"
                use extractor = EmbeddingExtractor.Load(trained.Session, "best", "cpu")
                let torchE = extractor.EmbedRecords(data, indices)
                let onnxE = engine.EmbedRecords(data, indices)
                Expect.equal engine.Dimension extractor.Dimension "embedding size"
                Expect.isLessThanOrEqual (maxAbsDifference torchE onnxE) 1e-4 $"{aggregation}: embeddings"
                // The Predict entry point (records, samples, leads) as Predictor.Predict takes it.
                let signals = Array.init (2 * 200 * 12) (fun i -> data.Signal(i / (200 * 12)).Span.[i % (200 * 12)])
                Expect.isLessThanOrEqual (maxAbsDifference (predictor.Predict(signals, 2, 200, 12)) (engine.Predict(signals, 2, 200, 12))) 1e-4 "Predict"
        }

        test "the engine refuses records it cannot window, naming the file" {
            use model = ModelFactory.Create(TrainingConfig(Model = "cross-lead-cnn"), 12, 5)
            let path = Path.Combine(temporaryArtifacts (), "whole.onnx")
            OnnxExport.ExportNetwork(model, metadataFor "cross-lead-cnn" (box model :?> IEcgNetwork) 250, path) |> ignore
            use engine = OnnxInferenceEngine.Load path
            let e = Expect.throwsC (fun () -> engine.Predict(Array.zeroCreate (1 * 300 * 12), 1, 300, 12) |> ignore) id
            Expect.stringContains e.Message "whole.onnx" "names the file"
            Expect.stringContains e.Message "300 samples" "names the length"
        }

        test "metadata without a key fails naming the key and the file" {
            let properties = Collections.Generic.Dictionary<string, string>(dict [ "model", "x" ])
            let e = Expect.throwsC (fun () -> OnnxModelMetadata.FromProperties(properties, "m.onnx") |> ignore) id
            Expect.stringContains e.Message "m.onnx" "file"
            Expect.stringContains e.Message "has no '" "names the missing key"
        }

        testList "an LSTM as ONNX LSTM nodes gives TorchSharp's output sequence (for the recurrent architectures)" [
            for layers, bidirectional, bias in [ 1L, false, true; 2L, true, true; 2L, false, false ] ->
                test $"{layers} layers, bidirectional {bidirectional}, bias {bias}" {
                    torch.random.manual_seed 3L |> ignore
                    use lstm = torch.nn.LSTM(12L, 16L, layers, bias, false, 0.1, bidirectional)
                    lstm.eval()
                    let graph = OnnxGraphBuilder("lstm")
                    let x = graph.Input("signals", 12L, 40L)
                    graph.Output(graph.Lstm(x, lstm, "lstm"), "features")
                    let path = Path.Combine(temporaryArtifacts (), "lstm.onnx")
                    File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(OnnxExport.Model(graph, Seq.empty, null, "LSTM test")))
                    let input = windowsOf 3 40 5
                    use session = new Microsoft.ML.OnnxRuntime.InferenceSession(path)
                    use value = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(input, [| 3L; 12L; 40L |])
                    use runOptions = new Microsoft.ML.OnnxRuntime.RunOptions()
                    use outputs = session.Run(runOptions, [| "signals" |], [| value |], [| "features" |])
                    let onnx = outputs.[0].GetTensorDataAsSpan<float32>().ToArray()
                    use _ = torch.no_grad()
                    use signals = torch.tensor(input, ReadOnlySpan<int64>([| 3L; 12L; 40L |]))
                    use sequence = signals.permute(2L, 0L, 1L)
                    let struct (output, h, c) = lstm.forward(sequence, Nullable())
                    use channelsFirst = output.permute(1L, 2L, 0L).contiguous()
                    let expected = channelsFirst.data<float32>().ToArray()
                    output.Dispose(); h.Dispose(); c.Dispose()
                    Expect.equal onnx.Length (3 * 40 * (if bidirectional then 32 else 16)) "(batch, directions x hidden, L)"
                    Expect.isLessThanOrEqual (maxAbsDifference expected onnx) 1e-5 "output sequence"
                }
        ]

        test "InferenceSpeed alternates torch and ONNX Runtime rounds and times both" {
            let results = InferenceSpeed.Compare("cross-lead-cnn", batch = 4, window = 250, batchesPerRound = 1, rounds = 2, threads = 2)
            Expect.sequenceEqual (results |> Seq.map (fun r -> r.Engine, r.Round))
                [ "torchsharp", 1; "onnxruntime", 1; "torchsharp", 2; "onnxruntime", 2 ] "alternating rounds"
            for r in results do
                Expect.equal r.Windows 4 "windows per round"
                Expect.isGreaterThan r.WindowsPerSecond 0.0 "throughput"
        }

        test "safetensors: every state dict tensor, named as in TorchSharp, with its shape and bytes" {
            use model = ModelFactory.Create(TrainingConfig(Model = "resnet1d-wang"), 12, 5)
            let path = Path.Combine(temporaryArtifacts (), "w.safetensors")
            let result = SafetensorsExport.Write(model, readOnlyDict [ "model", "resnet1d-wang" ], path)
            let bytes = File.ReadAllBytes path
            let headerLength = int (BitConverter.ToUInt64(bytes, 0))
            Expect.equal (headerLength % 8) 0 "header padded to 8 bytes"
            use header = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(8, headerLength))
            let state = model.state_dict()
            Expect.equal result.Tensors state.Count "tensor count"
            for KeyValue(name, tensor) in state do
                let entry = header.RootElement.GetProperty name
                let shape = [| for d in entry.GetProperty("shape").EnumerateArray() -> d.GetInt64() |]
                Expect.sequenceEqual shape tensor.shape $"{name}: shape"
                let offsets = [| for d in entry.GetProperty("data_offsets").EnumerateArray() -> d.GetInt32() |]
                if entry.GetProperty("dtype").GetString() = "F32" then
                    let values = Runtime.InteropServices.MemoryMarshal.Cast<byte, float32>(ReadOnlySpan(bytes, 8 + headerLength + offsets.[0], offsets.[1] - offsets.[0])).ToArray()
                    Expect.sequenceEqual values (tensor.data<float32>().ToArray()) $"{name}: values"
            Expect.equal (header.RootElement.GetProperty("__metadata__").GetProperty("model").GetString()) "resnet1d-wang" "metadata"
        }

        test "safetensors load strictly into docs/python/ecg_modules.py and give TorchSharp's logits (python3 with torch)" {
            match pythonWithTorch.Value with
            | None -> skiptest "no python3 with torch here (apt-get install python3-torch): PyTorch definitions not checked"
            | Some python ->
                for name in ModelFactory.Names do
                    torch.random.manual_seed 5L |> ignore
                    use model = ModelFactory.Create(TrainingConfig(Model = name), 12, 5)
                    randomiseNorms model 9L
                    model.eval()
                    let folder = temporaryArtifacts ()
                    let weights = Path.Combine(folder, $"{name}.safetensors")
                    SafetensorsExport.Write(model, SafetensorsExport.MetadataOf(metadataFor name (box model :?> IEcgNetwork) 251), weights) |> ignore
                    let input = windowsOf 2 251 3
                    let inputPath = Path.Combine(folder, "input.f32")
                    File.WriteAllBytes(inputPath, Runtime.InteropServices.MemoryMarshal.AsBytes(ReadOnlySpan input).ToArray())
                    let expected =
                        use _ = torch.no_grad()
                        use x = torch.tensor(input, ReadOnlySpan<int64>([| 2L; 12L; 251L |]))
                        use logits = model.forward x
                        logits.data<float32>().ToArray()
                    let actual = pytorchLogits python weights inputPath [| 2L; 12L; 251L |]
                    let scale = expected |> Array.map (fun v -> abs (float v)) |> Array.max |> max 1.0
                    Expect.isLessThanOrEqual (maxAbsDifference expected actual / scale) 1e-4 $"{name}: PyTorch logits"
        }

        test "the exported file passes onnx.checker.check_model (python3 with onnx, e.g. Debian's python3-onnx)" {
            match pythonWithOnnx.Value with
            | None -> skiptest "no python3 with the onnx package here (apt-get install python3-onnx): ONNX checker not run"
            | Some python ->
                for name in [ "cross-lead-cnn"; "xresnet1d50"; "inception1d"; "resnet1d-wang"; "fcn-wang"; "lstm-bidir"; "s4d" ] do
                    use model = ModelFactory.Create(TrainingConfig(Model = name), 12, 5)
                    let path = Path.Combine(temporaryArtifacts (), $"{name}.onnx")
                    OnnxExport.ExportNetwork(model, metadataFor name (box model :?> IEcgNetwork) 251, path) |> ignore
                    let code, output = onnxChecker python path
                    Expect.equal code 0 $"{name}: checker output: {output}"
                    Expect.stringContains output "ok 8 17" $"{name}: IR 8, opset 17"
                // The recurrent op on its own, unidirectional with a shape other than the architectures'.
                use lstm = torch.nn.LSTM(12L, 16L, 2L, true, false, 0.0, false)
                let graph = OnnxGraphBuilder("lstm")
                graph.Output(graph.Lstm(graph.Input("signals", 12L, 40L), lstm, "lstm"), "features")
                let path = Path.Combine(temporaryArtifacts (), "lstm.onnx")
                File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(OnnxExport.Model(graph, Seq.empty, null, "LSTM test")))
                let code, output = onnxChecker python path
                Expect.equal code 0 $"LSTM: checker output: {output}"
        }

        test "int8: ungrouped convolutions become QLinearConv in ONNX Runtime, the float file's metadata is kept, probabilities stay near float" {
            let folder = temporaryArtifacts ()
            for name, (tolerance: float) in [ "cross-lead-cnn", 0.05; "xresnet1d18", 0.05; "resnet1d-wang", 0.05; "inception1d", 0.05; "s4d", 0.05 ] do
                torch.random.manual_seed 7L |> ignore
                use model = ModelFactory.Create(TrainingConfig(Model = name), 12, 5)
                randomiseNorms model 3L
                model.eval()
                let floatPath = Path.Combine(folder, $"{name}.onnx")
                let int8Path = Path.Combine(folder, $"{name}.int8.onnx")
                OnnxExport.ExportNetwork(model, metadataFor name (box model :?> IEcgNetwork) 250, floatPath) |> ignore
                let result = OnnxQuantization.QuantizeInt8(floatPath, windowsOf 64 250 5, 64, int8Path)
                let floatGraph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes floatPath).Graph
                let ungrouped =
                    floatGraph.Node |> Seq.filter (fun n -> n.OpType = "Conv" && (n.Attribute |> Seq.tryFind (fun a -> a.Name = "group") |> Option.map (fun a -> a.I) |> Option.defaultValue 1L) = 1L)
                    |> Seq.length
                Expect.equal result.QuantizedConvolutions ungrouped $"{name}: every ungrouped convolution quantized"
                Expect.equal result.CalibrationWindows 64 $"{name}: calibration windows counted"
                // What ONNX Runtime runs: its optimised graph, saved, holds the fused integer convolutions.
                let optimised = Path.Combine(folder, $"{name}.int8.optimised.onnx")
                do
                    use options = OnnxInferenceEngine.Options 2
                    options.OptimizedModelFilePath <- optimised
                    options.LogSeverityLevel <- Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR   // not its note on hardware-specific saved graphs
                    use session = new Microsoft.ML.OnnxRuntime.InferenceSession(int8Path, options)
                    ()
                let fused = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes optimised).Graph.Node |> Seq.filter (fun n -> n.OpType.Contains "QLinearConv") |> Seq.length
                Expect.equal fused ungrouped $"{name}: ONNX Runtime runs each quantized convolution as QLinearConv"
                use floatEngine = OnnxInferenceEngine.Load floatPath
                use int8Engine = OnnxInferenceEngine.Load int8Path
                Expect.equal int8Engine.Metadata.ClassNames floatEngine.Metadata.ClassNames $"{name}: class names kept"
                Expect.equal int8Engine.Metadata.Standardisation floatEngine.Metadata.Standardisation $"{name}: standardisation kept"
                Expect.stringContains int8Engine.Metadata.Quantization $"{ungrouped} convolutions" $"{name}: the metadata says how it was quantized"
                Expect.isNull floatEngine.Metadata.Quantization $"{name}: the float file says nothing of quantization"
                // Windows drawn apart from the calibration ones.
                let windows = windowsOf 32 250 6
                let struct (floatLogits, _) = floatEngine.RunWindows(windows, 32)
                let struct (int8Logits, _) = int8Engine.RunWindows(windows, 32)
                let sigmoid (z: float32) = 1.0 / (1.0 + exp (-(float z)))
                let difference = Seq.zip floatLogits int8Logits |> Seq.map (fun (a, b) -> abs (sigmoid a - sigmoid b)) |> Seq.max
                Expect.isLessThan difference tolerance $"{name}: int8 probabilities within {tolerance} of float ({difference:F4})"
                Expect.isGreaterThan difference 0.0 $"{name}: and not the float graph itself"
            let lstmPath = Path.Combine(folder, "lstm.onnx")
            use lstm = ModelFactory.Create(TrainingConfig(Model = "lstm"), 12, 5)
            OnnxExport.ExportNetwork(lstm, metadataFor "lstm" (box lstm :?> IEcgNetwork) 250, lstmPath) |> ignore
            Expect.throwsT<ArgumentException> (fun () -> OnnxQuantization.QuantizeInt8(lstmPath, windowsOf 4 250 5, 4, Path.Combine(folder, "lstm.int8.onnx")) |> ignore)
                "a graph without convolutions is refused"
        }

        test "int8: the quantized file passes onnx.checker.check_model (python3 with onnx)" {
            match pythonWithOnnx.Value with
            | None -> skiptest "no python3 with the onnx package here (apt-get install python3-onnx): ONNX checker not run"
            | Some python ->
                let folder = temporaryArtifacts ()
                for name in [ "cross-lead-cnn"; "xresnet1d50"; "resnet1d-wang" ] do
                    use model = ModelFactory.Create(TrainingConfig(Model = name), 12, 5)
                    let floatPath = Path.Combine(folder, $"{name}.onnx")
                    let int8Path = Path.Combine(folder, $"{name}.int8.onnx")
                    OnnxExport.ExportNetwork(model, metadataFor name (box model :?> IEcgNetwork) 250, floatPath) |> ignore
                    OnnxQuantization.QuantizeInt8(floatPath, windowsOf 8 250 5, 8, int8Path) |> ignore
                    let code, output = onnxChecker python int8Path
                    Expect.equal code 0 $"{name}: checker output: {output}"
        }
    ]
