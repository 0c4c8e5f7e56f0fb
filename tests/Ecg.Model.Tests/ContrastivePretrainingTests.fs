/// Self-supervised contrastive pretraining (--objective contrastive): the NT-Xent loss against SimCLR's formula as
/// torch computes it, a pretraining run that never reads labels, its checkpoints and resume, the refusals to score
/// records with it, and fine-tuning from it. Small synthetic sessions of one or two epochs.
module Ecg.Model.Tests.ContrastivePretrainingTests

open System
open System.IO
open Expecto
open TorchSharp
open Ecg.Data
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures
open Ecg.Model.Tests.TrainingTests

/// Two epochs of pretraining on 100-sample crops with the ECG augmentation (otherwise a record's two views would be alike).
let private pretraining epochs =
    modify (smallBenchmark epochs) [ "objective", box TrainingObjective.Contrastive; "augment", box "ecg"; "model", box "xresnet1d18" ]

let private message (f: unit -> unit) =
    try f (); failwith "expected a refusal" with
    | :? UserError as e -> e.Message
    | :? ArgumentException as e -> e.Message

[<Tests>]
let tests =
    testSequenced <| testList "ContrastivePretraining" [
        test "NT-Xent equals SimCLR's loss: 3.19922081 on a fixed 6 x 4 input at temperature 0.5 (torch 1.13 and plain double arithmetic)" {
            // Reference: e[i][j] = sin(0.7 i + 1.3 j); /usr/bin/python3 with Debian's torch 1.13 gave 3.199220895767212 from
            // normalize / mm / masked_fill(eye, -inf) / cross_entropy, and SimCLR's eq. 1 in plain Python floats (mean over
            // the 2N anchors of -log(exp(s_ij / t) / sum_{k != i} exp(s_ik / t))) gave 3.1992208102454196.
            let values = Array.init 24 (fun k -> float32 (Math.Sin(0.7 * float (k / 4) + 1.3 * float (k % 4))))
            use embeddings = torch.tensor(values, ReadOnlySpan<int64>([| 6L; 4L |]))
            use loss = ContrastivePretraining.NtXent(embeddings, 0.5)
            Expect.floatClose { absolute = 1e-6; relative = 1e-6 } (float (loss.item<float32>())) 3.1992208102454196 "SimCLR's NT-Xent"
        }

        test "NT-Xent: matching views score lower than mismatched ones, it has a gradient, and bad shapes or temperatures are refused" {
            torch.random.manual_seed 3L |> ignore
            use records = torch.randn(8L, 16L)
            use noise = torch.randn(8L, 16L)
            use views = torch.cat([| records; records + noise * 0.1 |], 0L)
            use shuffled = torch.cat([| records; records.roll(1L, 0L) + noise * 0.1 |], 0L)
            use matched = ContrastivePretraining.NtXent(views, 0.1)
            use mismatched = ContrastivePretraining.NtXent(shuffled, 0.1)
            Expect.isLessThan (matched.item<float32>()) 0.5f "two views of the same record are found among 15 others"
            Expect.isGreaterThan (mismatched.item<float32>()) (matched.item<float32>() + 2.0f) "mismatched pairs cost far more"
            use leaf = torch.randn(4L, 3L).requires_grad_(true)
            use loss = ContrastivePretraining.NtXent(leaf, 0.2)
            loss.backward()
            Expect.isGreaterThan (leaf.grad.abs().sum().item<float32>()) 0.0f "gradient reaches the embeddings"
            Expect.stringContains (message (fun () -> ContrastivePretraining.NtXent(torch.randn(5L, 3L), 0.1).Dispose())) "(5, 3)" "odd row count named"
            Expect.stringContains (message (fun () -> ContrastivePretraining.NtXent(torch.randn(4L, 3L), 0.0).Dispose())) "temperature" "temperature 0 refused"
            Expect.stringContains (message (fun () -> (TrainingConfig(Objective = "masked")).Validate() |> ignore)) "contrastive" "an unknown objective lists the accepted ones"
            Expect.stringContains (message (fun () -> (TrainingConfig(Objective = TrainingObjective.Contrastive, ClassWeights = true)).Validate() |> ignore))
                "class_weights" "class weights refused: pretraining reads no labels"
        }

        test "pretraining reads no labels: other labels give byte-identical weights; best epoch is the lowest validation loss; no report" {
            let data = synthetic 60 200 31
            let random = Random 8
            let relabelled = { data with Labels = Array.init data.Labels.Length (fun _ -> if random.NextDouble() < 0.5 then 1uy else 0uy) }
            let a = Trainer.Start(temporaryArtifacts (), pretraining 2, data, SplitScheme.Benchmark)
            let b = Trainer.Start(temporaryArtifacts (), pretraining 2, relabelled, SplitScheme.Benchmark, options = quiet)
            Expect.isTrue (sameBytes (a.Session.EpochWeightsPath 2) (b.Session.EpochWeightsPath 2)) "labels do not reach the weights"
            for m in a.History do
                Expect.isTrue (Double.IsFinite m.TrainLoss && Double.IsFinite m.ValidationLoss) $"epoch {m.Epoch}: finite NT-Xent losses"
                Expect.isTrue (Double.IsNaN m.ValidationMacroAuc) $"epoch {m.Epoch}: no AUC from an untrained classifier"
            let lowest = a.History |> Seq.minBy (fun m -> m.ValidationLoss)
            Expect.equal a.BestEpoch lowest.Epoch "the best epoch has the lowest validation loss"
            let state = a.Session.LoadState()
            Expect.equal state.BestScore (-lowest.ValidationLoss) "state.json's best score is minus that loss"
            Expect.isTrue state.Finished "finished"
            Expect.isEmpty (Directory.GetFiles(a.Session.Folder, "classification_report.txt", SearchOption.AllDirectories)) "no classification report"
            Expect.isEmpty (Directory.GetFiles(a.Session.Folder, "thresholds.json", SearchOption.AllDirectories)) "no thresholds"
            Expect.isNonEmpty (Directory.GetFiles(a.Session.Folder, "*.html", SearchOption.AllDirectories)) "its loss curves are drawn"
            Expect.equal (a.Session.Manifest.Config.Objective) TrainingObjective.Contrastive "config.json records the objective"
        }

        test "resume: 1 epoch, stop, resume equals 2 epochs straight; bfloat16 pretraining runs through the embedding too" {
            let data = synthetic 60 200 32
            let straight = Trainer.Start(temporaryArtifacts (), pretraining 2, data, SplitScheme.Benchmark, options = quiet)
            let first = Trainer.Start(temporaryArtifacts (), pretraining 2, data, SplitScheme.Benchmark, options = TrainingOptions(WriteReports = false, StopAfterEpoch = 1))
            let resumed = Trainer.Run(TrainingSession.Open first.Session.Folder, data, quiet)
            Expect.isTrue (sameBytes (straight.Session.EpochWeightsPath 2) (resumed.Session.EpochWeightsPath 2)) "epoch_002.bin identical"
            Expect.equal resumed.BestEpoch straight.BestEpoch "best epoch"
            let mixed = Trainer.Start(temporaryArtifacts (), modify (pretraining 1) [ "precision", box TrainingPrecision.BFloat16 ], data, SplitScheme.Benchmark, options = quiet)
            let loss = mixed.History.[0]
            Expect.isTrue (Double.IsFinite loss.TrainLoss && Double.IsFinite loss.ValidationLoss) "bfloat16: finite losses"
            Expect.isLessThan (abs (loss.ValidationLoss - straight.History.[0].ValidationLoss)) 0.5 "bfloat16: close to float32's first epoch"
        }

        test "a pretrained session is refused by evaluate and predict; fine-tuning from it keeps all but the classifier" {
            let artifacts = temporaryArtifacts ()
            let data = synthetic 60 200 33
            let source = Trainer.Start(artifacts, pretraining 1, data, SplitScheme.Benchmark, options = quiet).Session
            let refusal = message (fun () -> Evaluator.Evaluate(source, data, DataSplit.Test, WeightsChoice.Best) |> ignore)
            Expect.stringContains refusal "contrastive pretraining" "says why"
            Expect.stringContains refusal source.Folder "names the session"
            Expect.stringContains refusal $"--init-from {source.Number}" "says how to fine-tune it"
            Expect.stringContains (message (fun () -> Prediction.Run(source, artifacts, WeightsChoice.Best, Nullable()) |> ignore)) "contrastive pretraining" "predict too"
            let tuned = Trainer.Start(artifacts, modify (smallBenchmark 1) [ "model", box "xresnet1d18"; "init_from", box $"{source.Number}" ], data, SplitScheme.Benchmark, options = quiet)
            let init = (TrainingSession.Open tuned.Session.Folder).Manifest.InitializedFrom
            Expect.isFalse init.SameTask "a pretrained source is not the same task: its classifier was never trained"
            Expect.sequenceEqual init.ReinitialisedTensors init.HeadTensors "only the classification head starts afresh"
            use model = ModelFactory.Create(tuned.Session.Manifest.Config, 12, 5)
            Expect.equal (init.CopiedTensors + init.HeadTensors.Length) (model.state_dict().Count) "every other tensor copied"
            Expect.isTrue (Double.IsFinite tuned.History.[0].ValidationMacroAuc) "the fine-tuned session is a classifier"
        }
    ]
