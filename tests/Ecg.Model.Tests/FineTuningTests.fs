/// Fine-tuning (--init-from, --freeze-backbone): what is copied from the source session, what is reinitialised and
/// recorded, the frozen backbone, and the refusals. Small synthetic sessions of one or two epochs.
module Ecg.Model.Tests.FineTuningTests

open System.IO
open Expecto
open TorchSharp
open Ecg.Data
open Ecg.Model
open Ecg.Model.Architectures
open Ecg.Model.Tests.TrainingFixtures
open Ecg.Model.Tests.TrainingTests

/// The synthetic dataset with its first three classes only: a "task" with other classes.
let private threeClasses (data: ProcessedDataset) =
    let labels = Array.init (data.RecordCount * 3) (fun i -> data.Labels.[(i / 3) * 5 + i % 3])
    { data with Labels = labels; ClassNames = data.ClassNames.[0..2] }

/// Name -> tensor of a model's state dict (parameters and buffers), detached copies.
let private stateOf (model: torch.nn.Module) =
    model.state_dict() |> Seq.map (fun kv -> kv.Key, kv.Value.detach().clone()) |> Map.ofSeq

/// The weights of a session file, loaded into a model built from that session's config.
let private weightsOf (session: TrainingSession) (path: string) =
    let m = session.Manifest
    use model = ModelFactory.Create(m.Config, m.LeadNames.Length, m.ClassNames.Length)
    Checkpoint.LoadWeights(model, session, path)
    stateOf model

let private same (a: torch.Tensor) (b: torch.Tensor) = a.shape = b.shape && a.eq(b).all().item<bool>()

let private sourceSession (artifacts: string) (data: ProcessedDataset) =
    Trainer.Start(artifacts, smallConfig 1, data, SplitScheme.Benchmark, options = quiet).Session

let private sessionCount (artifacts: string) = Directory.GetDirectories(ArtifactLayout(artifacts).TrainingSessions).Length

[<Tests>]
let tests =
    testSequenced <| testList "FineTuning" [
        test "the head of every architecture is its output layer: the last Linear with one output per class" {
            use input = torch.randn(2L, 12L, 100L)
            for architecture in Architecture.All do
                use model = architecture.Create(12, 5, LayerSettings.Torch)
                let head = FineTuning.HeadTensorNames(model, 5)
                let state = model.state_dict()
                Expect.sequenceEqual (head |> Array.map (fun n -> n.Substring(n.LastIndexOf '.' + 1))) [ "weight"; "bias" ] $"{architecture.Name}: a Linear layer's weight and bias"
                Expect.equal state.[head.[0]].shape.[0] 5L $"{architecture.Name}: {head.[0]} has one row per class"
                // Zeroing the head's tensors zeroes every logit only if nothing comes after them.
                do
                    use _ = torch.no_grad()
                    for n in head do state.[n].zero_() |> ignore
                model.eval()
                use logits = model.forward(input)
                Expect.isTrue (logits.abs().max().item<float32>() = 0.0f) $"{architecture.Name}: {head.[0]} is the output layer"
        }

        test "the same task copies every tensor: outputs identical before training, recorded in config.json" {
            let artifacts = temporaryArtifacts ()
            let data = synthetic 60 200 21
            let source = sourceSession artifacts data
            let config = modify (smallConfig 1) [ "seed", box 99L ]
            use model = ModelFactory.Create(config, 12, 5)
            let record = FineTuning.Initialise(model, config, data.ClassNames, data.LeadNames, source, WeightsChoice.Best)
            Expect.isTrue record.SameTask "same task, classes and leads"
            Expect.isEmpty record.ReinitialisedTensors "nothing reinitialised"
            Expect.equal record.CopiedTensors (model.state_dict().Count) "every parameter and buffer copied"
            Expect.equal record.WeightsSha256 (TrainingSession.Sha256 source.BestWeightsPath) "the weights file's SHA-256"
            use sourceModel = ModelFactory.Create(source.Manifest.Config, 12, 5)
            Checkpoint.LoadWeights(sourceModel, source, source.BestWeightsPath)
            model.eval(); sourceModel.eval()
            use input = torch.randn(4L, 12L, 200L)
            use a = model.forward(input)
            use b = sourceModel.forward(input)
            Expect.isTrue (a.eq(b).all().item<bool>()) "outputs identical"

            let tuned = Trainer.Start(artifacts, modify (smallConfig 1) [ "init_from", box "latest:1" ], data, SplitScheme.Benchmark, options = quiet)
            let reopened = TrainingSession.Open tuned.Session.Folder
            let init = reopened.Manifest.InitializedFrom
            Expect.isNotNull (box init) "config.json records initialized_from"
            Expect.equal init.SourceNumber source.Number "source session number"
            Expect.equal init.SourceFolder source.Folder "source folder"
            Expect.equal init.Weights "1" "weights choice"
            Expect.equal init.WeightsSha256 (TrainingSession.Sha256(source.EpochWeightsPath 1)) "epoch 1's SHA-256"
            Expect.isEmpty init.ReinitialisedTensors "recorded: nothing reinitialised"
            Expect.isTrue (File.ReadAllText(reopened.ConfigPath).Contains "\"initialized_from\"") "snake_case field in config.json"
        }

        test "other classes keep the backbone and reinitialise only the head, by name" {
            let artifacts = temporaryArtifacts ()
            let data = synthetic 60 200 22
            let source = sourceSession artifacts data
            let target = threeClasses data
            let config = smallConfig 1
            use model = ModelFactory.Create(config, 12, 3)
            let fresh = stateOf model
            let record = FineTuning.Initialise(model, config, target.ClassNames, target.LeadNames, source, WeightsChoice.Best)
            Expect.isFalse record.SameTask "other classes"
            Expect.sequenceEqual record.ReinitialisedTensors [ "classifier.weight"; "classifier.bias" ] "only the classifier reinitialised"
            Expect.sequenceEqual record.HeadTensors record.ReinitialisedTensors "the head is the classifier"
            let copied = stateOf model
            let sourceState = weightsOf source source.BestWeightsPath
            for KeyValue(name, tensor) in copied do
                if Array.contains name record.ReinitialisedTensors then
                    Expect.isTrue (same tensor fresh.[name]) $"{name} keeps its fresh initialisation"
                else Expect.isTrue (same tensor sourceState.[name]) $"{name} copied from the source"
            Expect.equal record.CopiedTensors (copied.Count - 2) "all but two copied"
        }

        test "another lead count reinitialises the first convolution too, and exactly the tensors whose shape differs" {
            let artifacts = temporaryArtifacts ()
            let data = synthetic 60 200 23
            let source = sourceSession artifacts data
            let twoLeads = data.ForLeads [| "I"; "II" |]
            let tuned = Trainer.Start(artifacts, modify (smallConfig 1) [ "init_from", box "1" ], twoLeads, SplitScheme.Benchmark, options = quiet)
            let init = tuned.Session.Manifest.InitializedFrom
            use twelve = ModelFactory.Create(smallConfig 1, 12, 5)
            use two = ModelFactory.Create(smallConfig 1, 2, 5)
            let a, b = stateOf twelve, stateOf two
            let shapeDiffers = b |> Map.toSeq |> Seq.filter (fun (n, t) -> t.shape <> a.[n].shape) |> Seq.map fst |> Set.ofSeq
            Expect.contains shapeDiffers "perLead.conv.weight" "the first convolution's shape depends on the leads"
            Expect.isFalse init.SameTask "other leads"
            Expect.equal (Set.ofArray init.ReinitialisedTensors) (Set.union shapeDiffers (Set.ofList [ "classifier.weight"; "classifier.bias" ]))
                "the head and exactly the tensors whose shape differs"
            Expect.equal (init.CopiedTensors + init.ReinitialisedTensors.Length) b.Count "every tensor either copied or reinitialised"
        }

        test "a frozen backbone stays as copied in the frozen epoch, trains after it, and resumes the same" {
            let artifacts = temporaryArtifacts ()
            let data = synthetic 60 200 24
            let source = sourceSession artifacts data
            let target = threeClasses data
            let config = modify (smallConfig 2) [ "init_from", box "1"; "freeze_backbone_epochs", box 1 ]
            let tuned = Trainer.Start(artifacts, config, target, SplitScheme.Benchmark, options = quiet)
            let init = tuned.Session.Manifest.InitializedFrom
            let sourceState = weightsOf source source.BestWeightsPath
            let epoch1 = weightsOf tuned.Session (tuned.Session.EpochWeightsPath 1)
            let epoch2 = weightsOf tuned.Session (tuned.Session.EpochWeightsPath 2)
            let backbone = epoch1 |> Map.toList |> List.map fst |> List.filter (fun n -> not (Array.contains n init.HeadTensors))
            Expect.isNonEmpty backbone "a backbone"
            // Parameters and BatchNorm running statistics alike: frozen BatchNorm layers run in eval mode.
            for name in backbone do Expect.isTrue (same epoch1.[name] sourceState.[name]) $"{name} unchanged after the frozen epoch"
            let changedAfter = backbone |> List.filter (fun n -> not (same epoch2.[n] epoch1.[n]))
            Expect.isNonEmpty changedAfter "the backbone trains after the frozen epoch"
            Expect.isTrue (changedAfter |> List.contains "perLead.conv.weight") "the first convolution trains after it"
            // The run's fresh model comes from the config's seed: the head starts there and moves in the frozen epoch.
            torch.manual_seed config.Seed |> ignore
            use fresh = ModelFactory.Create(config, 12, 3)
            let initial = stateOf fresh
            for name in init.HeadTensors do Expect.isFalse (same epoch1.[name] initial.[name]) $"{name} trains in the frozen epoch"

            let stopped = Trainer.Start(artifacts, config, target, SplitScheme.Benchmark, options = TrainingOptions(WriteReports = false, StopAfterEpoch = 1))
            Expect.isTrue (sameBytes (stopped.Session.EpochWeightsPath 1) (tuned.Session.EpochWeightsPath 1)) "the same start and frozen epoch"
            let resumed = Trainer.Run(TrainingSession.Open stopped.Session.Folder, target, quiet)
            Expect.isTrue (sameBytes (resumed.Session.EpochWeightsPath 2) (tuned.Session.EpochWeightsPath 2)) "resumed after the frozen epoch: epoch_002.bin identical"
        }

        test "refusals: another architecture, a missing session or weights, a damaged weights file; no session folder left" {
            let artifacts = temporaryArtifacts ()
            let data = synthetic 60 200 25
            let source = sourceSession artifacts data
            let start changes = Trainer.Start(artifacts, modify (smallConfig 1) changes, data, SplitScheme.Benchmark, options = quiet) |> ignore
            let message (f: unit -> unit) =
                try f (); failwith "expected a refusal" with
                | :? UserError as e -> e.Message
                | :? CheckpointDamagedException as e -> e.Message
            let other = message (fun () -> start [ "init_from", box "1"; "model", box "fcn-wang" ])
            Expect.stringContains other "cross-lead-cnn" "names the source's architecture"
            Expect.stringContains other "fcn-wang" "names the new one"
            Expect.stringContains (message (fun () -> start [ "init_from", box "7" ])) "session" "a missing session"
            let missing = message (fun () -> start [ "init_from", box "1:4" ])
            Expect.stringContains missing (source.EpochWeightsPath 4) "a missing epoch names its file"
            Expect.stringContains (message (fun () -> start [ "init_from", box "1:2-3" ])) "average_002-003.bin" "a missing average names its file"
            let bytes = File.ReadAllBytes source.BestWeightsPath
            bytes.[bytes.Length / 2] <- bytes.[bytes.Length / 2] ^^^ 0xFFuy
            File.WriteAllBytes(source.BestWeightsPath, bytes)
            let damaged = message (fun () -> start [ "init_from", box "1" ])
            Expect.stringContains damaged source.BestWeightsPath "the damaged file named"
            Expect.stringContains damaged "checksum mismatch" "why"
            Expect.equal (sessionCount artifacts) 1 "no session created by a refusal"
            Expect.throws (fun () -> (modify (smallConfig 1) [ "freeze_backbone_epochs", box 1 ]).Validate() |> ignore) "freezing needs init_from"
            Expect.throws (fun () -> (modify (smallConfig 1) [ "init_from", box "one" ]).Validate() |> ignore) "init_from must name a session"
        }
    ]
