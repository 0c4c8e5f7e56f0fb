module Ecg.Model.Tests.CrossLeadCnnTests

open Expecto
open TorchSharp
open Ecg.Model

/// Trainable parameters of the reference table, counted by hand:
/// per-lead conv 36*1*15 = 540, BN 2*36 = 72; downsample 36*64*7 = 16,128, BN 128;
/// cross-lead 64*128*7 = 57,344, BN 256; 128*128*5 = 81,920, BN 256; deep 128*256*5 = 163,840,
/// BN 512; dense 256*128 + 128 = 32,896; output 128*5 + 5 = 645. Total 354,537.
/// The same count, and those for 1 lead / 5 classes and 12 leads / 71 classes, come out of the PyTorch version
/// of the table in reference_architectures.py (torch 1.13.1).
let referenceParameterCount = 354_537L
let referenceParameterCounts = [ (12, 5), 354_537L; (1, 5), 339_192L; (12, 71), 363_051L ]

[<Tests>]
let tests =
    testList "CrossLeadCnn" [
        test "parameter count equals the reference table's" {
            use model = new CrossLeadCnn(12, 5)
            let count = model.parameters() |> Seq.sumBy (fun p -> p.numel())
            Expect.equal count referenceParameterCount "trainable parameters"
        }

        test "parameter counts and shapes for 1 lead and for 71 classes agree with PyTorch" {
            for (leads, classes), expected in referenceParameterCounts do
                use model = new CrossLeadCnn(leads, classes)
                let count = model.parameters() |> Seq.sumBy (fun p -> p.numel())
                Expect.equal count expected $"trainable parameters, {leads} leads, {classes} classes"
                model.eval()
                use x = torch.randn(2L, int64 leads, 250L)
                use logits = model.forward x
                use embedding = model.Embed x
                Expect.sequenceEqual logits.shape [| 2L; int64 classes |] "logits"
                Expect.sequenceEqual embedding.shape [| 2L; 128L |] "embedding"
        }

        test "shapes: logits (batch, 5) and 128-d embeddings for 10 s and 2.5 s inputs" {
            use model = new CrossLeadCnn(12, 5)
            model.eval()
            for length in [ 1000L; 250L; 999L ] do
                use x = torch.randn(3L, 12L, length)
                use logits = model.forward x
                use embedding = model.Embed x
                Expect.sequenceEqual logits.shape [| 3L; 5L |] "logits"
                Expect.sequenceEqual embedding.shape [| 3L; 128L |] "embedding"
        }

        test "Keras settings: BatchNorm momentum and epsilon as the original" {
            use model = new CrossLeadCnn(12, 5, LayerSettings.Keras)
            let norms =
                model.modules() |> Seq.choose (function :? TorchSharp.Modules.BatchNorm1d as bn -> Some bn | _ -> None) |> Seq.toList
            Expect.equal norms.Length 5 "five BatchNorm layers"
            for bn in norms do
                Expect.floatClose Accuracy.high (bn.eps) 1e-3 "epsilon"
                Expect.floatClose Accuracy.high (bn.momentum.Value) 0.01 "momentum (torch convention)"
        }
    ]
