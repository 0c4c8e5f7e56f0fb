/// The whole Feature space and Linear probes path on the real 400-record PTB-XL sample:
/// preprocess -> 2-epoch training session (benchmark-style 2.5 s crops and windows) -> embeddings -> feature space -> probes.
module Ecg.Analysis.Tests.FeatureSpaceEndToEndTests

open System
open System.IO
open Expecto
open TorchSharp
open Ecg.Data
open Ecg.Model
open Ecg.Analysis
open Ecg.Tests

/// PTBXL_SAMPLE_DIR, else ../shared/ptbxl-sample beside the repository (two levels above this folder).
let private sampleFolder () =
    match Environment.GetEnvironmentVariable "PTBXL_SAMPLE_DIR" with
    | null | "" -> Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", "..", "..", "shared", "ptbxl-sample"))
    | dir -> dir

let private temporaryFolder () = Ecg.Tests.TestFolders.create "feature-space"

/// Preprocessed sample and a trained session, built once for all the tests below.
let private fixture =
    lazy (
        let folder = sampleFolder ()
        if not (File.Exists(Path.Combine(folder, "ptbxl_database.csv"))) then
            failwithf "PTB-XL sample not found at '%s': set PTBXL_SAMPLE_DIR to the 400-record sample folder." folder
        let root = temporaryFolder ()
        let preprocessed = Preprocessing.Run(PreprocessingOptions.Create(folder, Path.Combine(root, "ptbxl_100hz.npz")))
        let config =
            TrainingConfig(Epochs = 2, BatchSize = 32, LearningRate = 1e-3, CropLength = 250, EvalWindow = 250, EvalStride = 125,
                           Standardisation = "global", Device = "cpu", Threads = 2, Seed = 7L)
        // The superdiagnostic records (390 of 400), as `ecg train` takes them.
        let dataset = TrainingData.For(preprocessed.Dataset, config)
        let trained = Trainer.Start(root, config, dataset, SplitScheme.Benchmark, options = TrainingOptions(WriteReports = false))
        root, dataset, trained.Session)

/// Embeddings -> feature space -> probes on a short session of the real sample. (The platform's transient NaN
/// faults are handled by Ecg.Model's recomputes and checkpoint restarts; see README, "Platform notes".)
[<Tests>]
let tests =
    testSequenced <| testList "FeatureSpace end to end (400-record sample)" [
        test "embeddings: npz round trip, Deedle frame, and each row equals CrossLeadCnn.Embed averaged over the evaluation windows" {
            let root, dataset, session = fixture.Force()
            let run = EmbeddingStage.Run(ArtifactLayout root, session, dataset, DataSplit.Validation)
            let set = run.Set
            Expect.equal run.Path (Path.Combine(root, "feature_space", sprintf "session_%d" session.Number, "embeddings_validation.npz")) "path"
            Expect.equal set.Dimension 128 "128-d"
            Expect.equal set.Count (session.SplitScheme.ValidationIndices dataset).Length "validation records"
            let back = EmbeddingFile.Read run.Path
            Expect.equal back.Embeddings set.Embeddings "embeddings round trip"
            Expect.equal back.EcgIds set.EcgIds "ids round trip"
            Expect.equal back.Labels set.Labels "labels round trip"
            Expect.equal back.ClassNames dataset.ClassNames "class names"
            Expect.equal (back.Split, back.Weights, back.SessionNumber) ("validation", "best", session.Number) "provenance"
            let frame = EmbeddingFile.Frame(set, dataset)
            Expect.equal frame.RowCount set.Count "one frame row per record"
            for column in [ "e000"; "e127"; "age"; "sex"; "strat_fold"; dataset.ClassNames.[0] ] do
                Expect.contains frame.ColumnKeys column (sprintf "column %s" column)
            Expect.equal (frame.GetColumn<float>("e005").[set.EcgIds.[2]]) (float set.Embeddings.[2 * 128 + 5]) "frame value"

            // Independent reference: standardise by hand, cut the evaluation windows, one Embed call on the record's
            // stacked windows (as evaluation batches them), mean over windows. The batch holds several windows on
            // purpose: a batch of exactly one takes another convolution path in libtorch, whose rounding the
            // BatchNorm of a 2-epoch model (tiny running variances) amplifies to about 1% of the values.
            let standardisation = session.LoadStandardisation()
            use model = new CrossLeadCnn(12, dataset.ClassNames.Length)
            model.load(session.BestWeightsPath) |> ignore
            model.eval()
            use _ = torch.no_grad()
            let position = Array.IndexOf(dataset.EcgIds, set.EcgIds.[3])
            let signal = dataset.Signal(position).ToArray()
            let samples = dataset.Samples
            let channelsFirst = Array.init (12 * samples) (fun k -> let lead, t = k / samples, k % samples in float32 ((float signal.[t * 12 + lead] - standardisation.Mean) / standardisation.Std))
            use input = torch.tensor(channelsFirst, ReadOnlySpan<int64>([| 1L; 12L; int64 samples |]))
            let starts = WindowedInference.WindowStarts(int64 samples, 250L, 125L)
            Expect.equal starts.Length 7 "1000 samples, 250/125: 7 windows"
            use windows = torch.cat(starts |> Array.map (fun s -> input.narrow(-1L, s, 250L)), 0L)
            use embedded = model.Embed(windows)
            let perWindow = embedded.data<float32>().ToArray()
            let reference = Array.init 128 (fun j -> Seq.init starts.Length (fun w -> float perWindow.[w * 128 + j]) |> Seq.average)
            let actual = set.Row 3
            for j in 0 .. 127 do
                Expect.floatClose { absolute = 1e-5; relative = 1e-4 } (float actual.[j]) reference.[j] (sprintf "embedding %d" j)
        }

        test "feature space reuses saved embeddings of the same session, weights and records, and computes them otherwise" {
            let root, dataset, session = fixture.Force()
            let layout = ArtifactLayout root
            let embedded = EmbeddingStage.Run(layout, session, dataset, DataSplit.Validation)
            let options = { FeatureSpaceOptions.Default with Split = Nullable DataSplit.Validation; Tsne = false; Umap = false }
            let run o = (FeatureSpaceStage.Run(layout, session, dataset, o, null)).Summary
            Expect.isTrue (run options).EmbeddingsReused "ecg embed's file is reused"
            Expect.equal (EmbeddingFile.Read embedded.Path).Embeddings embedded.Set.Embeddings "and left as it was"
            let epoch1 = { options with Weights = WeightsChoice.OfEpoch 1 }
            Expect.isFalse (run epoch1).EmbeddingsReused "other weights: computed"
            Expect.equal (EmbeddingFile.Read embedded.Path).Weights "1" "and saved in their place"
            Expect.isTrue (run epoch1).EmbeddingsReused "then reused"
            let firstValidation = (session.SplitScheme.ValidationIndices dataset).[0]
            let fewer = dataset.Subset(Array.init dataset.RecordCount id |> Array.filter ((<>) firstValidation))
            Expect.isFalse ((FeatureSpaceStage.Run(layout, session, fewer, epoch1, null)).Summary.EmbeddingsReused) "other records: computed"
            File.WriteAllBytes(embedded.Path, (File.ReadAllBytes embedded.Path).[.. 100])
            Expect.isFalse (run options).EmbeddingsReused "a damaged file is computed again"
            Expect.equal (EmbeddingFile.Read embedded.Path).Embeddings embedded.Set.Embeddings "the same numbers as ecg embed's"
        }

        test "embeddings from one whole-record pass: each row is Embed of the whole record, on TorchSharp and ONNX Runtime, kept apart from the windows' file" {
            let root, dataset, session = fixture.Force()
            let layout = ArtifactLayout root
            let windows = EmbeddingStage.Run(layout, session, dataset, DataSplit.Validation)
            let run engine = EmbeddingStage.Run(layout, session, dataset, Nullable DataSplit.Validation, WeightsChoice.Best, null, null, Threading.CancellationToken.None, engine, true)
            let whole = run Export.InferenceEngine.Torch
            Expect.equal whole.Path (Path.Combine(root, "feature_space", sprintf "session_%d" session.Number, "embeddings_validation_whole.npz")) "its own file"
            Expect.equal ((EmbeddingFile.Read whole.Path).Pass, (EmbeddingFile.Read windows.Path).Pass) ("whole", "windows") "the pass is recorded"
            Expect.notEqual whole.Set.Fingerprint windows.Set.Fingerprint "never taken for the windows' mean"
            Expect.notEqual whole.Set.Embeddings windows.Set.Embeddings "other numbers"
            // Reference: the standardised whole record through CrossLeadCnn.Embed, in a batch of several records.
            let standardisation = session.LoadStandardisation()
            use model = new CrossLeadCnn(12, dataset.ClassNames.Length)
            model.load(session.BestWeightsPath) |> ignore
            model.eval()
            use _ = torch.no_grad()
            let samples = dataset.Samples
            let positions = whole.Set.EcgIds.[.. 3] |> Array.map (fun id -> Array.IndexOf(dataset.EcgIds, id))
            let channelsFirst =
                positions |> Array.collect (fun position ->
                    let signal = dataset.Signal(position).ToArray()
                    Array.init (12 * samples) (fun k -> let lead, t = k / samples, k % samples in float32 ((float signal.[t * 12 + lead] - standardisation.Mean) / standardisation.Std)))
            use input = torch.tensor(channelsFirst, ReadOnlySpan<int64>([| 4L; 12L; int64 samples |]))
            use embedded = model.Embed(input)
            let reference = embedded.data<float32>().ToArray()
            for r in 0 .. 3 do
                let actual = whole.Set.Row r
                for j in 0 .. 127 do
                    Expect.floatClose { absolute = 1e-5; relative = 1e-4 } (float actual.[j]) (float reference.[r * 128 + j]) (sprintf "record %d, embedding %d" r j)
            let onnx = run Export.InferenceEngine.Onnx
            Expect.isTrue (File.Exists(session.Paths.Export("best_whole", "onnx"))) "a whole-record graph beside the windowed one"
            Array.iteri2 (fun k (a: float32) (b: float32) -> Expect.floatClose { absolute = 1e-4; relative = 1e-4 } (float a) (float b) (sprintf "ONNX value %d" k))
                onnx.Set.Embeddings whole.Set.Embeddings
            let options = { FeatureSpaceOptions.Default with Split = Nullable DataSplit.Validation; Tsne = false; Umap = false }
            Expect.isTrue (FeatureSpaceStage.Run(layout, session, dataset, options, null)).Summary.EmbeddingsReused "the feature space reuses the windows' file"
            Expect.equal (EmbeddingFile.Read whole.Path).Embeddings onnx.Set.Embeddings "and leaves the whole-record file alone"
        }

        test "feature space on a dataset read with deferred signals reuses saved embeddings without reading a signal" {
            let root, _, session = fixture.Force()
            let layout = ArtifactLayout root
            let npz = Path.Combine(root, "ptbxl_100hz.npz")
            let read (defer: bool) = TrainingData.For(ProcessedDatasetFile.Read(npz, defer), session)
            let whole = read false
            Expect.isNotNull whole.Signals.RecordedSha256 "the preprocessed file records its signals' hash"
            let embedded = EmbeddingStage.Run(layout, session, whole, DataSplit.Test)
            let options = { FeatureSpaceOptions.Default with Split = Nullable DataSplit.Test; Tsne = false; Umap = false }
            let deferred = read true
            Expect.isTrue (FeatureSpaceStage.Run(layout, session, deferred, options, null)).Summary.EmbeddingsReused "reused"
            Expect.isFalse deferred.Signals.IsLoaded "no signal was read: the recorded hash stood for them"
            let other = read true
            Expect.isFalse (FeatureSpaceStage.Run(layout, session, other, { options with Weights = WeightsChoice.OfEpoch 1 }, null)).Summary.EmbeddingsReused "other weights"
            Expect.isTrue other.Signals.IsLoaded "computing them reads the signals"
            // A fingerprint from the recorded hash must still tell other signal values apart.
            let changed = { whole with Signals = SignalStore.OfArray(Array.map (fun v -> v + 0.001f) (whole.Signals.ToArray()), whole.RecordLength) }
            let indices = session.SplitScheme.IndicesOf(whole, DataSplit.Test)
            Expect.notEqual (EmbeddingStage.Fingerprint(session, changed, indices, WeightsChoice.Best)) embedded.Set.Fingerprint "other values, other fingerprint"
            Expect.equal (EmbeddingStage.Fingerprint(session, read true, indices, WeightsChoice.Best)) embedded.Set.Fingerprint "deferred or not, the same"
        }

        test "feature space with the approximate neighbour search and interpolated t-SNE forced on a small split" {
            let root, dataset, session = fixture.Force()
            let options = { FeatureSpaceOptions.Default with Split = Nullable DataSplit.Validation; Neighbours = NeighbourSearch.Approximate
                                                             TsneGradient = TsneGradient.Interpolation; Seed = 3 }
            let s = (FeatureSpaceStage.Run(ArtifactLayout root, session, dataset, options, null)).Summary
            let tsne = s.Projections |> Array.find (fun p -> p.Name = "tsne")
            Expect.stringContains tsne.Details "interpolated (FFT) repulsion" "the forced method is the one used"
            for p in s.Projections do
                Expect.isTrue (p.Trustworthiness > 0.3 && p.Trustworthiness <= 1.0) (sprintf "%s trustworthiness %g" p.Name p.Trustworthiness)
            Expect.equal (ProjectionChoices.ParseTsneGradient " Barnes-Hut ") TsneGradient.BarnesHut "names parse, case and spaces aside"
            Expect.equal (ProjectionChoices.ParseNeighbourSearch "exact") NeighbourSearch.Exact "exact"
            let e = Expect.throwsC (fun () -> ProjectionChoices.ParseNeighbourSearch "fuzzy" |> ignore) id
            Expect.equal e.Message "--neighbours 'fuzzy': use one of auto, exact, approximate." "a bad value lists the accepted ones"
        }

        test "feature space: summary, projections CSV and offline charts" {
            let root, dataset, session = fixture.Force()
            let steps = Collections.Generic.List<string>()
            let result = FeatureSpaceStage.Run(ArtifactLayout root, session, dataset, FeatureSpaceOptions.Default, Action<FeatureSpaceProgress>(fun p -> steps.Add p.Step))
            let s = result.Summary
            let n = (session.SplitScheme.TestIndices dataset).Length
            Expect.equal s.Split "test" "benchmark split has test records: test by default"
            Expect.equal s.Records n "records"
            Expect.equal (s.ClusterSummaries |> Array.sumBy (fun c -> c.Size)) n "cluster sizes add up"
            Expect.equal s.Clusters 5 "k = 5"
            for v, what in [ s.ExactMatch, "exact match"; s.MacroJaccard, "macro Jaccard"; s.HammingLoss, "Hamming" ] do
                Expect.isTrue (v >= 0.0 && v <= 1.0) (sprintf "%s %g in [0, 1]" what v)
            Expect.equal (s.Projections |> Array.map (fun p -> p.Name)) [| "pca"; "tsne"; "umap" |] "three projections"
            for p in s.Projections do
                Expect.isTrue (p.Trustworthiness > 0.3 && p.Trustworthiness <= 1.0) (sprintf "%s trustworthiness %g" p.Name p.Trustworthiness)
            Expect.equal (s.MetadataBuckets |> Array.map (fun m -> m.Field, m.Clusters)) [| "age", 4; "sex", 2; "height", 4; "weight", 4 |] "one K-Means per field, k = buckets"
            for m in s.MetadataBuckets do
                Expect.equal (m.Included + m.Missing + m.OutOfRange) n (sprintf "%s: every record counted" m.Field)
                Expect.equal (m.Confusion |> Array.sumBy Array.sum) m.Included (sprintf "%s: confusion holds the included records" m.Field)
                Expect.isTrue (m.Accuracy >= 0.0 && m.Accuracy <= 1.0) (sprintf "%s accuracy" m.Field)
            Expect.isGreaterThan (s.MetadataBuckets |> Array.find (fun m -> m.Field = "height")).Missing 0 "PTB-XL height is often missing"
            Expect.containsAll steps [ "embeddings"; "k-means"; "pca"; "t-sne"; "umap"; "metadata"; "charts" ] "progress steps"
            Expect.equal (s.Steps |> Array.map (fun t -> t.Step)) [| "setup"; "embeddings"; "k-means"; "pca"; "t-sne"; "umap"; "trustworthiness"; "metadata"; "charts" |] "timed steps, in order"
            Expect.isTrue (s.Steps |> Array.forall (fun t -> t.Seconds >= 0.0)) "no negative step"
            Expect.isTrue (s.Steps |> Array.sumBy (fun t -> t.Seconds) <= s.ElapsedSeconds) "the steps fit in the elapsed time"
            Expect.isGreaterThan (s.Steps |> Array.find (fun t -> t.Step = "t-sne")).Seconds 0.0 "t-SNE took time"
            let csv = File.ReadAllLines result.ProjectionsCsvPath
            Expect.equal csv.Length (n + 1) "header + one line per record"
            Expect.stringStarts csv.[0] "ecg_id,split,pca_x,pca_y,tsne_x,tsne_y,umap_x,umap_y,cluster,labels,age,sex,height,weight" "CSV header"
            Expect.isTrue (File.Exists result.EmbeddingsPath && File.Exists result.SummaryTextPath) "embeddings and summary.txt"
            Expect.stringContains (File.ReadAllText result.SummaryTextPath) ", t-sne " "summary.txt times each step"
            use json = Text.Json.JsonDocument.Parse(File.ReadAllText result.SummaryJsonPath)
            Expect.equal (json.RootElement.GetProperty("records").GetInt32()) n "summary.json records"
            Expect.equal result.ChartPaths.Length (3 * (1 + dataset.ClassNames.Length + 1 + 4) + 4) "charts: per projection cluster, classes, label sets, 4 buckets; 4 confusions"
            let charts = Path.GetDirectoryName result.ChartsIndexPath
            Expect.isGreaterThan (FileInfo(Path.Combine(charts, "plotly.min.js"))).Length 1_000_000L "local plotly.js"
            for page in result.ChartPaths do
                let html = File.ReadAllText page
                Expect.stringContains html "<script src=\"plotly.min.js\">" (sprintf "%s loads the local plotly.js" page)
                Expect.isFalse (html.Contains "https://") (sprintf "%s needs no network" page)
            // The pages draw the records: every test record once per cluster page, the confusion counts.
            let traces, layout = ChartPages.read (Path.Combine(charts, "pca_clusters.html"))
            Expect.stringStarts (ChartPages.title layout) (sprintf "PCA of session %d embeddings (test, %d records)" session.Number n) "title"
            Expect.equal (traces |> Array.sumBy (fun t -> (ChartPages.numbers t "x").Length)) n "one marker per record"
            let sizes = s.ClusterSummaries |> Array.filter (fun c -> c.Size > 0) |> Array.map (fun c -> sprintf "cluster %d (%d)" c.Cluster c.Size)
            Expect.equal (traces |> Array.map ChartPages.name) sizes "one trace per non-empty cluster, named with its size"
            let age = s.MetadataBuckets |> Array.find (fun m -> m.Field = "age")
            let heatmap, _ = ChartPages.read (Path.Combine(charts, "confusion_age.html"))
            let z = heatmap.[0].GetProperty("z").EnumerateArray() |> Seq.map (fun r -> r.EnumerateArray() |> Seq.map (fun v -> v.GetInt32()) |> Seq.toArray) |> Seq.toArray
            Expect.equal z age.Confusion "age confusion counts"
            Expect.isEmpty (Directory.GetFiles(result.Folder, "*.tmp*", SearchOption.AllDirectories)) "no temporary files left"
        }

        test "linear probes: per-target folders, numbers in range, numbered sessions that record the training session" {
            let root, dataset, session = fixture.Force()
            let options = { ProbeOptions.Default with Training = { ProbeTrainingOptions.Default with Epochs = 30; BatchSize = 64 } }
            let result = ProbeStage.Run(ArtifactLayout root, session, dataset, options, null)
            let s = result.Summary
            Expect.equal s.ProbeSession 1 "first probe session"
            Expect.equal s.Folder (Path.Combine(root, "probe_training_sessions", "session_1")) "folder"
            Expect.equal s.TrainingSession session.Number "records the probed training session"
            Expect.equal (s.Targets |> Array.map (fun t -> t.Target)) ProbeOptions.AllTargets "five targets"
            for t in s.Targets do
                Expect.isNull t.Skipped (sprintf "%s trained" t.Target)
                for c in t.Counts do
                    Expect.equal (c.Used + c.Missing + c.OutOfRange) c.Records (sprintf "%s %s: every record counted" t.Target c.Split)
                for file in [ "probe.json"; "training_log.txt"; "metrics.csv"; "Loss.html"; "weights.bin"; "model.json"; "test_predictions.csv" ] do
                    Expect.isTrue (File.Exists(Path.Combine(t.Folder, file))) (sprintf "%s/%s" t.Target file)
                Expect.equal (File.ReadAllLines(Path.Combine(t.Folder, "metrics.csv")).Length) (1 + 31) (sprintf "%s: epochs 0..30" t.Target)
                if t.Kind = ProbeKind.Regression then
                    Expect.isTrue (t.TestMeanAbsoluteError > 0.0 && t.TestMeanAbsoluteError < 60.0) (sprintf "age MAE %g years" t.TestMeanAbsoluteError)
                    Expect.isTrue (File.Exists(Path.Combine(t.Folder, "MAE.html"))) "MAE curve"
                else
                    Expect.isTrue (t.TestAccuracy >= 0.0 && t.TestAccuracy <= 1.0) (sprintf "%s accuracy %g" t.Target t.TestAccuracy)
                    let testUsed = (t.Counts |> Array.find (fun c -> c.Split = "test")).Used
                    Expect.equal (t.Confusion |> Array.sumBy Array.sum) testUsed (sprintf "%s confusion holds the test records" t.Target)
                    for file in [ "classification_report.txt"; "classification_report.json"; "confusion_matrix.csv"; "confusion_matrix.html"; "Accuracy.html" ] do
                        Expect.isTrue (File.Exists(Path.Combine(t.Folder, file))) (sprintf "%s/%s" t.Target file)
            // Saved weights load into a torch Linear and give the model.json outputs.
            let sex = result.Targets |> Array.find (fun t -> t.Summary.Target = "sex")
            use layer = torch.nn.Linear(128L, 1L)
            layer.load(Path.Combine(sex.Summary.Folder, "weights.bin")) |> ignore
            Expect.equal (layer.weight.data<float32>().ToArray()) sex.Fit.Model.Weight "weights.bin = model.json weights"
            let again = ProbeStage.Run(ArtifactLayout root, session, dataset, { options with Targets = [| "sex" |] }, null)
            Expect.equal again.Summary.ProbeSession 2 "a second run gets session_2"
            Expect.isTrue (File.Exists(Path.Combine(s.Folder, "age", "probe.json"))) "session_1 untouched"
        }
    ]
