namespace Ecg.Analysis

open System
open System.Diagnostics
open System.Globalization
open System.IO
open System.Text
open System.Text.Json
open System.Threading
open Ecg.Data
open Ecg.Model

/// What the probe stage trains.
[<CLIMutable>]
type ProbeOptions =
    { /// Training-session weights: "best" or an epoch number.
      Weights: WeightsChoice
      /// Any of "age", "sex", "height", "weight" (bucket classifiers) and "age_regression"; null or empty means all five.
      Targets: string[]
      Training: ProbeTrainingOptions
      /// "auto", "cpu" or "cuda" for the embeddings; null uses the training session's.
      Device: string }
    static member Default = { Weights = WeightsChoice.Best; Targets = null; Training = ProbeTrainingOptions.Default; Device = null }
    static member AllTargets = [| "age"; "sex"; "height"; "weight"; "age_regression" |]

/// Records of one split a probe used, and those it left out.
[<CLIMutable>]
type ProbeRecordCounts =
    { Split: string
      Records: int
      /// Target value missing (NaN).
      Missing: int
      /// Target value outside every bucket (sex not 0/1; regression: age outside [0, 120], PTB-XL's 300 = "over 89").
      OutOfRange: int
      Used: int }

/// probe.json of one target.
[<CLIMutable>]
type ProbeTargetSummary =
    { Target: string
      /// Metadata field probed (age, sex, height, weight).
      Field: string
      /// softmax, sigmoid or regression.
      Kind: string
      /// Bucket names of a classifier; empty for regression.
      Classes: string[]
      Counts: ProbeRecordCounts[]
      Training: ProbeTrainingOptions
      /// Null when trained; else why the target was skipped (e.g. no training record has a value).
      Skipped: string
      BestEpoch: int
      Selection: string
      /// Validation accuracy (classifiers) or mean absolute error (regression) of the best epoch.
      ValidationScore: float
      TestAccuracy: float
      TestMacroF1: float
      /// Regression: mean absolute error on test, in target units (years for age).
      TestMeanAbsoluteError: float
      /// Test confusion matrix (rows true bucket, columns predicted); empty for regression.
      Confusion: int[][]
      Folder: string }

/// probe_session.json: the run and the training session it probed.
[<CLIMutable>]
type ProbeSessionSummary =
    { ProbeSession: int
      Folder: string
      TrainingSession: int
      TrainingSessionFolder: string
      Weights: string
      SplitScheme: string
      EmbeddingDimension: int
      Targets: ProbeTargetSummary[]
      CreatedUtc: DateTime
      ElapsedSeconds: float }

[<CLIMutable>]
type ProbeTargetResult =
    { Summary: ProbeTargetSummary
      /// Test classification report; null for regression or a skipped target.
      Report: MulticlassReport
      /// Null for a skipped target.
      Fit: ProbeFit }

[<CLIMutable>]
type ProbeRunResult = { Summary: ProbeSessionSummary; Targets: ProbeTargetResult[] }

/// Progress: Step is "embeddings" (Done/Total batches) or a target name (Done/Total targets).
[<CLIMutable>]
type ProbeProgress = { Step: string; Done: int; Total: int }

/// The Linear probes stage: one linear layer per metadata target on the frozen embeddings of a training
/// session, trained on the training split, selected on validation, reported on test. Each run is a new,
/// never overwritten artifacts/probe_training_sessions/session_N/ with one folder per target.
[<AbstractClass; Sealed>]
type ProbeStage private () =
    static let jsonOptions = JsonDefaults.Options
    static let r (v: float) = v.ToString("R", CultureInfo.InvariantCulture)

    /// Field, kind, bucket scheme (classifiers) and target encoding of a target name.
    static member private Describe(target: string) =
        match target with
        | "age" -> "age", ProbeKind.Softmax, Some BucketScheme.Age
        | "sex" -> "sex", ProbeKind.Sigmoid, Some BucketScheme.Sex
        | "height" -> "height", ProbeKind.Softmax, Some BucketScheme.Height
        | "weight" -> "weight", ProbeKind.Softmax, Some BucketScheme.Weight
        | "age_regression" -> "age", ProbeKind.Regression, None
        | other -> invalidArg "options" (sprintf "Unknown probe target '%s': use %s." other (String.Join(", ", ProbeOptions.AllTargets)))

    static member private WriteCurves(folder: string, target: string, kind: string, history: ProbeEpoch[]) =
        let epochs = history |> Array.map (fun h -> float h.Epoch)
        let plotly = "../" + HtmlCharts.PlotlyFileName
        let lossName = match kind with | ProbeKind.Softmax -> "cross-entropy" | ProbeKind.Sigmoid -> "binary cross-entropy" | _ -> "mean squared error (standardised target)"
        HtmlCharts.WritePage(Path.Combine(folder, "Loss.html"), sprintf "%s probe: loss per epoch" target, "epoch", lossName,
                             [ HtmlCharts.Line("train", epochs, history |> Array.map (fun h -> h.TrainLoss))
                               HtmlCharts.Line("validation", epochs, history |> Array.map (fun h -> h.ValidationLoss)) ], false, plotly)
        let file, scoreName = if kind = ProbeKind.Regression then "MAE.html", "mean absolute error" else "Accuracy.html", "accuracy"
        HtmlCharts.WritePage(Path.Combine(folder, file), sprintf "%s probe: %s per epoch" target scoreName, "epoch", scoreName,
                             [ HtmlCharts.Line("train", epochs, history |> Array.map (fun h -> h.TrainScore))
                               HtmlCharts.Line("validation", epochs, history |> Array.map (fun h -> h.ValidationScore)) ], false, plotly)

    static member private TrainTarget(folder: string, target: string, set: EmbeddingSet, rows: float[][], values: float[],
                                      splitOf: string[], options: ProbeTrainingOptions) : ProbeTargetResult =
        let field, kind, scheme = ProbeStage.Describe target
        let classes = match scheme with Some s -> FeatureSpaceStage.BucketNames s | None -> [||]
        // Encoded target per record, or NaN (missing) / -infinity (out of range).
        let encode (v: float) =
            if Double.IsNaN v then Double.NaN
            else
                match scheme with
                | Some s when s.Field = "sex" -> if v = 0.0 || v = 1.0 then v else Double.NegativeInfinity
                | Some s -> let b = s.BucketOf v in if b >= 0 then float b else Double.NegativeInfinity
                | None -> if v >= 0.0 && v <= 120.0 then v else Double.NegativeInfinity
        let encoded = values |> Array.map encode
        let pick split =
            [| for i in 0 .. rows.Length - 1 do if splitOf.[i] = split && Double.IsFinite encoded.[i] then yield i |]
        let counts =
            [| for split in [ "train"; "validation"; "test" ] ->
                 let members = [| for i in 0 .. rows.Length - 1 do if splitOf.[i] = split then yield i |]
                 let missing = members |> Array.filter (fun i -> Double.IsNaN encoded.[i]) |> Array.length
                 let outOfRange = members |> Array.filter (fun i -> Double.IsNegativeInfinity encoded.[i]) |> Array.length
                 { Split = split; Records = members.Length; Missing = missing; OutOfRange = outOfRange; Used = members.Length - missing - outOfRange } |]
        let train, validation, test = pick "train", pick "validation", pick "test"
        let baseSummary =
            { Target = target; Field = field; Kind = kind; Classes = classes; Counts = counts; Training = options; Skipped = null
              BestEpoch = 0; Selection = ""; ValidationScore = nan; TestAccuracy = nan; TestMacroF1 = nan; TestMeanAbsoluteError = nan
              Confusion = [||]; Folder = folder }
        Directory.CreateDirectory folder |> ignore
        let classCount = if kind = ProbeKind.Softmax then classes.Length else 2
        if train.Length = 0 then
            let summary = { baseSummary with Skipped = sprintf "no training record has a usable %s value" field }
            AtomicFile.WriteAllText(Path.Combine(folder, "probe.json"), JsonSerializer.Serialize(summary, jsonOptions))
            { Summary = summary; Report = null; Fit = Unchecked.defaultof<_> }
        else
            let rowsOf (idx: int[]) = idx |> Array.map (fun i -> rows.[i])
            let targetsOf (idx: int[]) = idx |> Array.map (fun i -> encoded.[i])
            let fit = LinearProbe.train kind classCount options (rowsOf train) (targetsOf train) (rowsOf validation) (targetsOf validation)
            let best = fit.History |> Array.find (fun h -> h.Epoch = fit.BestEpoch)
            // Log, metrics, curves, weights.
            let log = StringBuilder()
            let scoreName = if kind = ProbeKind.Regression then "mae" else "accuracy"
            for h in fit.History do
                log.AppendLine(sprintf "epoch %3d/%d  train loss %.5f  train %s %.4f  validation loss %.5f  validation %s %.4f%s"
                                   h.Epoch options.Epochs h.TrainLoss scoreName h.TrainScore h.ValidationLoss scoreName h.ValidationScore
                                   (if h.Epoch = fit.BestEpoch then "  (selected)" else "")) |> ignore
            AtomicFile.WriteAllText(Path.Combine(folder, "training_log.txt"), log.ToString())
            let csv = StringBuilder(sprintf "epoch,train_loss,train_%s,validation_loss,validation_%s\n" scoreName scoreName)
            for h in fit.History do
                csv.AppendLine(String.Join(",", [ string h.Epoch; r h.TrainLoss; r h.TrainScore; r h.ValidationLoss; r h.ValidationScore ])) |> ignore
            AtomicFile.WriteAllText(Path.Combine(folder, "metrics.csv"), csv.ToString())
            ProbeStage.WriteCurves(folder, target, kind, fit.History)
            LinearProbe.saveWeights fit.Model (Path.Combine(folder, "weights.bin"))
            AtomicFile.WriteAllText(Path.Combine(folder, "model.json"), JsonSerializer.Serialize(fit.Model, jsonOptions))
            // Test report.
            let testRows = rowsOf test
            let predictions = StringBuilder("ecg_id,true,predicted\n")
            let summary, report =
                let withBest = { baseSummary with BestEpoch = fit.BestEpoch; Selection = fit.Selection; ValidationScore = best.ValidationScore }
                if test.Length = 0 then { withBest with Skipped = null }, null
                elif kind = ProbeKind.Regression then
                    let predicted = fit.Model.PredictValues testRows
                    let truth = targetsOf test
                    Array.iteri2 (fun k (t: float) p -> predictions.AppendLine(sprintf "%d,%s,%s" set.EcgIds.[test.[k]] (r t) (r p)) |> ignore) truth predicted
                    { withBest with TestMeanAbsoluteError = Array.map2 (fun (t: float) p -> abs (t - p)) truth predicted |> Array.average }, null
                else
                    let predicted = fit.Model.PredictClasses testRows
                    let truth = targetsOf test |> Array.map int
                    Array.iteri2 (fun k t p -> predictions.AppendLine(sprintf "%d,%s,%s" set.EcgIds.[test.[k]] classes.[t] classes.[p]) |> ignore) truth predicted
                    let report = MulticlassReport.Compute(truth, predicted, classes)
                    { withBest with TestAccuracy = report.Accuracy; TestMacroF1 = report.MacroAverage.F1; Confusion = report.Confusion }, report
            AtomicFile.WriteAllText(Path.Combine(folder, "test_predictions.csv"), predictions.ToString())
            if not (isNull report) then
                AtomicFile.WriteAllText(Path.Combine(folder, "classification_report.txt"), report.ToText 4)
                AtomicFile.WriteAllText(Path.Combine(folder, "classification_report.json"), report.ToJson())
                AtomicFile.WriteAllText(Path.Combine(folder, "classification_report.csv"), report.ToCsv())
                let matrix = StringBuilder("true \\ predicted," + String.Join(",", classes) + "\n")
                report.Confusion |> Array.iteri (fun t row -> matrix.AppendLine(classes.[t] + "," + String.Join(",", row)) |> ignore)
                AtomicFile.WriteAllText(Path.Combine(folder, "confusion_matrix.csv"), matrix.ToString())
                HtmlCharts.WritePage(Path.Combine(folder, "confusion_matrix.html"),
                                     sprintf "%s probe on test: accuracy %.3f over %d records" target report.Accuracy test.Length, "predicted", "true",
                                     [ HtmlCharts.CountHeatmap(Array.map (Array.map int64) report.Confusion, classes, classes) ], true,
                                     "../" + HtmlCharts.PlotlyFileName)
            AtomicFile.WriteAllText(Path.Combine(folder, "probe.json"), JsonSerializer.Serialize(summary, jsonOptions))
            { Summary = summary; Report = report; Fit = fit }

    static member private SummaryText(s: ProbeSessionSummary) =
        let b = StringBuilder()
        let line (t: string) = b.AppendLine t |> ignore
        line (sprintf "Linear probes session %d on training session %d (weights %s, split %s, %d-d embeddings)"
                  s.ProbeSession s.TrainingSession s.Weights s.SplitScheme s.EmbeddingDimension)
        line ""
        for t in s.Targets do
            let used split = t.Counts |> Array.find (fun c -> c.Split = split)
            let tr, va, te = used "train", used "validation", used "test"
            line (sprintf "%s (%s): train %d, validation %d, test %d used; excluded missing %d/%d/%d, out of range %d/%d/%d"
                      t.Target t.Kind tr.Used va.Used te.Used tr.Missing va.Missing te.Missing tr.OutOfRange va.OutOfRange te.OutOfRange)
            if not (isNull t.Skipped) then line (sprintf "  skipped: %s" t.Skipped)
            elif t.Kind = ProbeKind.Regression then
                line (sprintf "  epoch %d (%s): validation MAE %.2f; test MAE %.2f" t.BestEpoch t.Selection t.ValidationScore t.TestMeanAbsoluteError)
            else
                line (sprintf "  epoch %d (%s): validation accuracy %.4f; test accuracy %.4f, macro F1 %.4f" t.BestEpoch t.Selection t.ValidationScore t.TestAccuracy t.TestMacroF1)
        line ""
        line (sprintf "elapsed %.1f s" s.ElapsedSeconds)
        b.ToString()

    /// Trains the probes on training session `sessionNumber`'s embeddings of `dataset` (train / validation / test
    /// folds of the session's split scheme) and writes a new artifacts/probe_training_sessions/session_N/.
    static member Run(layout: ArtifactLayout, session: TrainingSession, dataset: ProcessedDataset, options: ProbeOptions,
                      progress: Action<ProbeProgress>, cancel: CancellationToken) : ProbeRunResult =
        let clock = Stopwatch.StartNew()
        let targets =
            if isNull options.Targets || options.Targets.Length = 0 then ProbeOptions.AllTargets
            else options.Targets |> Array.map (fun t -> t.Trim().ToLowerInvariant()) |> Array.distinct
        targets |> Array.iter (ProbeStage.Describe >> ignore)
        let sessionNumber = session.Number
        let bySplit = [| DataSplit.Train; DataSplit.Validation; DataSplit.Test |] |> Array.map (fun s -> s.Name(), session.SplitScheme.IndicesOf(dataset, s))
        // The records of the three parts in dataset order, so the embeddings of `ecg embed --split all` (the same records,
        // the same order) are reused when the scheme's parts cover the dataset.
        let part = Collections.Generic.Dictionary<int, string>()
        for name, idx in bySplit do for i in idx do part.[i] <- name
        let indices = part.Keys |> Seq.sort |> Seq.toArray
        let splitOf = indices |> Array.map (fun i -> part.[i])
        let embeddingsName = if indices.Length = dataset.RecordCount then DataSplit.All.Name() else "probes"
        if (snd bySplit.[0]).Length = 0 then
            raise (UserError(sprintf "Split scheme '%s' leaves no training records in this dataset." session.Manifest.Split))
        let batchDone = Action<int, int>(fun d t -> if not (isNull progress) then progress.Invoke { Step = "embeddings"; Done = d; Total = t })
        let struct (set, _) =
            EmbeddingStage.ComputeOrReuse(layout.Embeddings(sessionNumber, embeddingsName), session, dataset, indices, embeddingsName,
                                          options.Weights, options.Device, batchDone, cancel)
        let rows = set.Rows()
        rows |> Array.iteri (fun i r ->
            match r |> Array.tryFindIndex (Double.IsFinite >> not) with
            | Some j -> invalidOp (sprintf "Training session %d gives ecg_id %d a non-finite embedding (component %d is %g): its signal or the weights hold NaN or infinity." sessionNumber set.EcgIds.[i] j r.[j])
            | None -> ())
        let struct (number, folder) = layout.ClaimProbeSession()
        HtmlCharts.EnsurePlotly folder
        let results =
            targets |> Array.mapi (fun k target ->
                cancel.ThrowIfCancellationRequested()
                if not (isNull progress) then progress.Invoke { Step = target; Done = k; Total = targets.Length }
                let field, _, _ = ProbeStage.Describe target
                let source = match field with | "age" -> dataset.Age | "sex" -> dataset.Sex | "height" -> dataset.Height | _ -> dataset.Weight
                let values = indices |> Array.map (fun i -> source.[i])
                ProbeStage.TrainTarget(Path.Combine(folder, target), target, set, rows, values, splitOf, options.Training))
        let summary =
            { ProbeSession = number; Folder = folder; TrainingSession = sessionNumber; TrainingSessionFolder = session.Folder
              Weights = set.Weights; SplitScheme = session.Manifest.Split; EmbeddingDimension = set.Dimension
              Targets = results |> Array.map (fun t -> t.Summary); CreatedUtc = DateTime.UtcNow; ElapsedSeconds = clock.Elapsed.TotalSeconds }
        AtomicFile.WriteAllText(Path.Combine(folder, "summary.txt"), ProbeStage.SummaryText summary)
        AtomicFile.WriteAllText(Path.Combine(folder, "probe_session.json"), JsonSerializer.Serialize(summary, jsonOptions))
        if not (isNull progress) then progress.Invoke { Step = "done"; Done = targets.Length; Total = targets.Length }
        { Summary = summary; Targets = results }

    static member Run(layout: ArtifactLayout, session: TrainingSession, dataset: ProcessedDataset, options: ProbeOptions, progress: Action<ProbeProgress>) =
        ProbeStage.Run(layout, session, dataset, options, progress, CancellationToken.None)

    static member Run(layout: ArtifactLayout, session: TrainingSession, dataset: ProcessedDataset) =
        ProbeStage.Run(layout, session, dataset, ProbeOptions.Default, null, CancellationToken.None)
