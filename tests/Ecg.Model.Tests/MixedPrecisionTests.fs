module Ecg.Model.Tests.MixedPrecisionTests

open System
open Expecto
open TorchSharp
open type TorchSharp.torch
open Ecg.Data
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures
open Ecg.Model.Tests.TrainingTests

let private bfloat16 config = modify config [ "precision", box "bfloat16" ]

/// Largest |a - b| / (max |b| over the tensor), over matching tensors.
let private relativeError (a: Tensor) (b: Tensor) =
    let scale = b.abs().max().item<float32>()
    (a.``to``(ScalarType.Float32) - b).abs().max().item<float32>() / Math.Max(scale, 1e-12f)

[<Tests>]
let tests =
    testSequenced <| testList "MixedPrecision" [
        test "bfloat16 on a CPU without AVX512-BF16 or AMX-BF16 is warned about, naming the flags file; without AMX the ResNets are told" {
            // Flags lines as /proc/cpuinfo prints them: an AVX2-only EPYC, one with AVX-512 but no BF16, and two with it.
            let avx2 = "flags\t\t: fpu vme sse sse2 avx avx2 fma f16c"
            let avx512 = avx2 + " avx512f avx512dq avx512bw avx512vl avx512_vnni"
            Expect.isFalse (MixedPrecision.HasBfloat16Instructions avx2) "AVX2 only"
            Expect.isFalse (MixedPrecision.HasBfloat16Instructions avx512) "AVX-512 without BF16"
            Expect.isTrue (MixedPrecision.HasBfloat16Instructions (avx512 + " avx512_bf16")) "AVX512-BF16"
            Expect.isTrue (MixedPrecision.HasBfloat16Instructions (avx512 + " amx_bf16 amx_tile")) "AMX-BF16"
            Expect.isFalse (MixedPrecision.HasBfloat16Instructions "flags : avx512_bf16x") "whole flags only"
            let folder = IO.Path.Combine(IO.Path.GetTempPath(), "ecg-cpuinfo-" + Guid.NewGuid().ToString("N"))
            IO.Directory.CreateDirectory folder |> ignore
            let cpuinfo name (flags: string) =
                let path = IO.Path.Combine(folder, name)
                IO.File.WriteAllText(path, "processor\t: 0\nmodel name\t: AMD EPYC\n" + flags + "\n\nprocessor\t: 1\n" + flags + "\n")
                path
            let slow = MixedPrecision.SlowOnThisCpu(torch.CPU, "resnet1d-wang", cpuinfo "avx2" avx2)
            Expect.isNotNull slow "warned"
            Expect.stringContains slow "avx2" "names the file read"
            Expect.stringContains slow "--precision float32" "says what to do"
            Expect.stringContains slow "many times slower" "AVX2 only: emulation is many times slower"
            let slowAvx512 = MixedPrecision.SlowOnThisCpu(torch.CPU, "resnet1d-wang", cpuinfo "avx512" avx512)
            Expect.isNotNull slowAvx512 "warned with AVX-512 and no BF16"
            Expect.stringContains slowAvx512 "0.7x" "AVX-512 emulation: measured as slower, not many times"
            Expect.isFalse (slowAvx512.Contains "many times") "does not overstate AVX-512's emulation"
            // AVX512-BF16 without AMX: measured to pay for inception1d only, so the ResNets are told, inception1d is not.
            let bf16 = cpuinfo "bf16" (avx512 + " avx512_bf16")
            let wangOnBf16 = MixedPrecision.SlowOnThisCpu(torch.CPU, "resnet1d-wang", bf16)
            Expect.isNotNull wangOnBf16 "resnet1d-wang told on AVX512-BF16 without AMX"
            Expect.stringContains wangOnBf16 "resnet1d-wang" "names the model"
            Expect.stringContains wangOnBf16 "not amx_bf16" "says which flag is missing"
            Expect.stringContains wangOnBf16 "bf16" "names the file read"
            Expect.stringContains wangOnBf16 "--models resnet1d-wang --precisions float32,bfloat16" "says how to measure it here"
            Expect.isFalse (wangOnBf16.Contains "emulates") "BF16 instructions are not emulation"
            Expect.isNotNull (MixedPrecision.SlowOnThisCpu(torch.CPU, "xresnet1d101", bf16)) "xresnet1d101 told as well"
            Expect.isNull (MixedPrecision.SlowOnThisCpu(torch.CPU, "inception1d", bf16)) "inception1d gains on AVX512-BF16: no warning"
            let amx = cpuinfo "amx" (avx512 + " avx512_bf16 amx_bf16 amx_tile")
            for model in [ "resnet1d-wang"; "xresnet1d101"; "inception1d" ] do
                Expect.isNull (MixedPrecision.SlowOnThisCpu(torch.CPU, model, amx)) (model + ": no warning with AMX")
            Expect.isNull (MixedPrecision.SlowOnThisCpu(torch.CPU, "resnet1d-wang", cpuinfo "amx-only" (avx512 + " amx_bf16"))) "AMX-BF16 alone: no warning"
            Expect.isNull (MixedPrecision.SlowOnThisCpu(torch.CPU, "resnet1d-wang", IO.Path.Combine(folder, "missing"))) "no warning without the file"
            IO.Directory.Delete(folder, true)
        }
        test "a bfloat16 step hands back float32 gradients along float32 backward's, with the master's eval mode (no dropout)" {
            torch.set_num_threads 2
            for model in [ "cross-lead-cnn"; "xresnet1d18"; "inception1d"; "resnet1d-wang"; "s4d" ] do
                let config = bfloat16 (TrainingConfig(Model = model, Device = "cpu"))
                torch.manual_seed 3L |> ignore
                use master = ModelFactory.Create(config, 12, 5)
                use mixed = MixedPrecision.For(config, 12, 5, master, torch.CPU)
                use x = torch.randn(8L, 12L, 250L)
                use y = torch.randint(0L, 2L, [| 8L; 5L |]).``to``(ScalarType.Float32)
                let lossOf (logits: Tensor) =
                    Expect.equal logits.dtype ScalarType.Float32 "logits reach the loss in float32"
                    nn.functional.binary_cross_entropy_with_logits(logits, y)
                // Eval mode on the master only (the shadow is built in training mode): a shadow that did not follow would
                // apply dropout, and the gradients would no longer agree. Reference: float32 forward and backward on the master.
                master.eval()
                master.zero_grad()
                MixedPrecision.Backward(null, master, x, lossOf) |> ignore
                let reference = master.parameters() |> Seq.map (fun p -> p.grad.clone()) |> Seq.toArray
                master.zero_grad()
                MixedPrecision.Backward(mixed, master, x, lossOf) |> ignore
                let parameters = master.parameters() |> Seq.toArray
                for p in parameters do Expect.equal p.dtype ScalarType.Float32 "master weights stay float32"
                for p in parameters do Expect.equal p.grad.dtype ScalarType.Float32 "master gradients in float32"
                // bfloat16 keeps 8 bits of mantissa: the whole gradient points the same way (small tensors err by up to ~20%).
                let flat (ts: Tensor seq) = torch.cat(ts |> Seq.map (fun t -> t.flatten()) |> Seq.toArray)
                use g = flat (parameters |> Seq.map (fun p -> p.grad))
                use r = flat reference
                let cosine = (g.dot(r) / (g.norm() * r.norm())).item<float32>()
                let errors = Array.zip parameters reference |> Array.map (fun (p, r) -> relativeError p.grad r)
                printfn "%s: gradient cosine %.5f, relative error per tensor mean %.4f, max %.4f" model cosine (Array.average errors) (Array.max errors)
                Expect.isGreaterThan cosine 0.999f (sprintf "%s: bfloat16 gradient along the float32 one" model)
        }

        test "bfloat16 training learns like float32, saves float32 weights, and resumes to the straight run's bytes" {
            let data = synthetic 200 200 3
            let f32 = Trainer.Start(temporaryArtifacts (), smallBenchmark 4, data, SplitScheme.Benchmark, options = quiet)
            let b16 = Trainer.Start(temporaryArtifacts (), bfloat16 (smallBenchmark 4), data, SplitScheme.Benchmark, options = quiet)
            Expect.equal b16.Session.Manifest.Config.Precision "bfloat16" "config.json records the precision"
            let auc (r: TrainingResult) = r.History |> Seq.map (fun m -> m.ValidationMacroAuc) |> Seq.max
            Expect.isGreaterThan (auc b16) 0.7 "bfloat16 validation macro AUC beats chance"
            Expect.isLessThan (Math.Abs(auc b16 - auc f32)) 0.05 (sprintf "AUC float32 %.4f, bfloat16 %.4f" (auc f32) (auc b16))
            Expect.isFalse (sameBytes (f32.Session.EpochWeightsPath 4) (b16.Session.EpochWeightsPath 4)) "the arithmetic did change"
            use loaded = SessionModel.Load(b16.Session, WeightsChoice.Best, "cpu", System.Nullable())
            for p in loaded.Network.parameters() do Expect.equal p.dtype ScalarType.Float32 "saved weights load as float32"
            // Interrupted after epoch 1 and resumed: the same bytes as two epochs straight.
            let config = bfloat16 (smallBenchmark 2)
            let straight = Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark, options = quiet)
            let first = Trainer.Start(temporaryArtifacts (), config, data, SplitScheme.Benchmark, options = TrainingOptions(WriteReports = false, StopAfterEpoch = 1))
            let resumed = Trainer.Run(TrainingSession.Open first.Session.Folder, data, quiet)
            Expect.isTrue (sameBytes (straight.Session.EpochWeightsPath 2) (resumed.Session.EpochWeightsPath 2)) "epoch_002.bin identical"
        }

        test "precision: configs written before it train in float32, an unknown one is refused by name" {
            let old = TrainingConfig.FromJson("""{"model": "cross-lead-cnn"}""")
            Expect.equal old.Precision "float32" "default"
            Expect.throwsC (fun () -> (modify (smallConfig 1) [ "precision", box "float16" ]).Validate() |> ignore)
                           (fun e -> Expect.stringContains e.Message "precision 'float16'" "names the field and value")
        }
    ]
