/// Typed choices (split, weights, window aggregation) and thresholds that record what they were tuned for.
module Ecg.Model.Tests.ChoicesTests

open System.IO
open Expecto
open Ecg.Data
open Ecg.Model
open Ecg.Model.Tests.TrainingFixtures

let private userError (f: unit -> 'a) =
    let e = Expect.throwsC (f >> ignore) id
    Expect.isTrue (e :? UserError) (sprintf "a UserError, not %s" (e.GetType().Name))
    e.Message

/// A session folder with config.json but no training: enough for thresholds files.
let private emptySession () =
    let data = synthetic 20 50 1
    let manifest = TrainingSession.Describe(TrainingConfig(Device = "cpu", EvalAggregation = "mean"), data, SplitScheme.Benchmark, null)
    TrainingSession.Create(temporaryArtifacts (), manifest, "")

let private evaluation split (probabilities: float32[]) (labels: byte[]) =
    let rows = labels.Length / 5
    Evaluation(split, Array.init rows id, 5, classNames, probabilities, labels, Array.create 5 nan, nan)

[<Tests>]
let tests =
    testList "Choices" [
        test "splits, aggregations: every name parses, case and spaces aside; others list the accepted names" {
            for name in DataSplits.Names do Expect.equal ((DataSplits.Parse (" " + name.ToUpperInvariant())).Name()) name name
            for name in WindowAggregations.Names do Expect.equal ((WindowAggregations.Parse name).Name()) name name
            Expect.equal (userError (fun () -> DataSplits.Parse "tset")) "--split 'tset': use one of train, validation, test, all." "split"
            Expect.equal (userError (fun () -> WindowAggregations.Parse("median", "--aggregation"))) "--aggregation 'median': use one of max, mean, whole." "aggregation"
        }

        test "a later stage's --split: a part, or the session's own scheme meaning the stage's default; another scheme is refused" {
            Expect.equal (DataSplits.ParseForSession("validation", SplitScheme.Select)) (System.Nullable DataSplit.Validation) "a part"
            Expect.isFalse (DataSplits.ParseForSession(" Select ", SplitScheme.Select)).HasValue "the session's scheme: the default"
            Expect.isFalse (DataSplits.ParseForSession(null, SplitScheme.Select)).HasValue "none given: the default"
            Expect.isFalse (DataSplits.ParseForSession("benchmark", Unchecked.defaultof<SplitScheme>)).HasValue "a scheme name checked alone"
            Expect.equal (userError (fun () -> DataSplits.ParseForSession("benchmark", SplitScheme.Select)))
                         "--split 'benchmark' names the benchmark split scheme, but the session was trained under the select split: give one of train, validation, test, all or select."
                         "another scheme"
            Expect.stringContains (userError (fun () -> DataSplits.ParseForSession("tset", SplitScheme.Benchmark))) "(benchmark, select, refit, original)" "lists both kinds"
        }

        test "ensemble selection (Caruana): best candidate first, complementary members weighted in, noise left out" {
            // Two informative candidates whose errors differ (each sees a different half of the classes well) and one
            // that is noise: the mean of the two beats either, the noise never helps.
            let rng = System.Random 7
            let rows, classes = 400, 5
            let labels = Array.init (rows * classes) (fun _ -> if rng.NextDouble() < 0.3 then 1uy else 0uy)
            let candidate (strength: int -> float) =
                Array.init (rows * classes) (fun i -> float32 (float labels.[i] * strength (i % classes) + rng.NextDouble()) / 3.0f)
            let first = candidate (fun c -> if c < 3 then 1.5 else 0.3)
            let second = candidate (fun c -> if c >= 2 then 1.5 else 0.3)
            let noise = Array.init (rows * classes) (fun _ -> float32 (rng.NextDouble()))
            let evals = [| evaluation "validation" noise labels; evaluation "validation" first labels; evaluation "validation" second labels |]
                        |> Array.map (fun e -> e.WithProbabilities e.Probabilities)
            let choice = EnsembleSelection.Greedy(evals, 10)
            let alone = evals |> Array.map (fun e -> e.MacroAuc)
            Expect.equal choice.Rounds.[0].Added (Array.findIndex ((=) (Array.max alone)) alone) "round 1 takes the best candidate alone"
            Expect.floatClose Accuracy.high choice.Rounds.[0].ValidationMacroAuc (Array.max alone) "round 1's AUC is that candidate's"
            Expect.equal choice.Counts.[0] 0 "the noise is left out"
            Expect.isTrue (choice.Counts.[1] > 0 && choice.Counts.[2] > 0) "both informative candidates are in"
            Expect.floatClose Accuracy.high (Array.sum choice.Weights) 1.0 "weights sum to 1"
            Expect.equal choice.ValidationMacroAuc (choice.Rounds |> Array.map (fun r -> r.ValidationMacroAuc) |> Array.max) "the best round is kept"
            Expect.isTrue (choice.ValidationMacroAuc > Array.max alone) "the ensemble beats every member"
            let weighted = Ensemble.Mean(evals, "0, 1, 2", DataSplit.Validation, choice.Weights)
            Expect.floatClose Accuracy.high weighted.MacroAuc choice.ValidationMacroAuc "the weighted mean scores what the selection saw"
            let again = EnsembleSelection.Greedy(evals, 10)
            Expect.equal (again.Counts, again.KeptRound, again.Rounds) (choice.Counts, choice.KeptRound, choice.Rounds) "deterministic"
            // A minimum gain keeps the earliest round that no later round beats by that much.
            let aucs = choice.Rounds |> Array.map (fun r -> r.ValidationMacroAuc)
            let expectedKept gain =
                let mutable kept = 0
                for r in 1 .. aucs.Length - 1 do if aucs.[r] > aucs.[kept] + gain then kept <- r
                kept + 1
            for gain in [ 1e-4; 1e-3; 1e-2; 1.0 ] do
                let sparing = EnsembleSelection.Greedy(evals, 10, gain)
                Expect.equal sparing.Rounds choice.Rounds (sprintf "gain %g: the same rounds" gain)
                Expect.equal sparing.KeptRound (expectedKept gain) (sprintf "gain %g: the round kept" gain)
                Expect.isLessThanOrEqual sparing.KeptRound choice.KeptRound "never a later round than without a minimum gain"
            Expect.equal (EnsembleSelection.Greedy(evals, 10, 1.0)).KeptRound 1 "a gain no round reaches keeps round 1"
            for bad in [ -1e-4; nan ] do
                Expect.throwsT<System.ArgumentOutOfRangeException> (fun () -> EnsembleSelection.Greedy(evals, 10, bad) |> ignore) (sprintf "minimum gain %g refused" bad)
        }

        test "weights: best, an epoch or a range, with a canonical text and the file each names" {
            let paths = SessionPaths "/s"
            for text, canonical, file in [ "best", "best", "/s/weights/best.bin"; "", "best", "/s/weights/best.bin"; "BEST", "best", "/s/weights/best.bin"
                                           "7", "7", "/s/weights/epoch_007.bin"; "9-12", "9-12", "/s/weights/average_009-012.bin"
                                           " 9 - 12 ", "9-12", "/s/weights/average_009-012.bin" ] do
                let w = WeightsChoice.Parse text
                Expect.equal (string w) canonical (sprintf "canonical text of '%s'" text)
                Expect.equal (w.PathIn paths) file (sprintf "file of '%s'" text)
                Expect.equal (WeightsChoice.Parse(string w)) w "the canonical text parses back to the same choice"
            for bad in [ "final"; "0"; "12-9"; "0-3"; "1.5"; "-3" ] do
                Expect.stringContains (userError (fun () -> WeightsChoice.Parse bad)) "--weights" (sprintf "'%s' refused" bad)
        }

        test "thresholds are found only for the weights and aggregation they were tuned for" {
            let session = emptySession ()
            let probabilities = Array.init 50 (fun i -> float32 ((i * 37 % 50)) / 50.0f)
            let labels = Array.init 50 (fun i -> if (i * 37 % 50) > 20 then 1uy else 0uy)
            let tuned = DecisionThresholds.Tune(evaluation "validation" probabilities labels, WeightsChoice.Best, WindowAggregation.Mean)
            tuned.Save session
            Expect.isTrue (File.Exists session.Paths.Thresholds) "the session's own (best weights, its mean aggregation): thresholds.json"
            let found = DecisionThresholds.Find(session, WeightsChoice.Best, WindowAggregation.Mean)
            Expect.isNotNull (box found) "found for what they were tuned for"
            Expect.equal found.Values tuned.Values "same values"
            Expect.equal found.Provenance tuned.Provenance "same provenance"
            Expect.isNull (box (DecisionThresholds.Find(session, WeightsChoice.Best, WindowAggregation.Max))) "not for max windows"
            Expect.isNull (box (DecisionThresholds.Find(session, WeightsChoice.OfEpoch 1, WindowAggregation.Mean))) "not for epoch 1's weights"
            let other = DecisionThresholds.Tune(evaluation "validation" probabilities labels, WeightsChoice.Averaged(1, 2), WindowAggregation.Max)
            other.Save session
            Expect.isTrue (File.Exists(Path.Combine(session.Folder, "evaluations", "thresholds_1-2_max.json"))) "others beside the evaluations"
            Expect.equal (DecisionThresholds.Find(session, WeightsChoice.Averaged(1, 2), WindowAggregation.Max)).Provenance.Weights "1-2" "found"
            Expect.stringContains (found.Provenance.Describe()) "tuned on validation (10 records) for best weights, windows combined by mean" "described"
        }

        test "a thresholds.json written before provenance reads as the best weights with the session's aggregation" {
            let session = emptySession ()
            // The format written before weights and aggregation were recorded (end-of-training report, best weights).
            let legacy = """{
  "tuned_on": "validation",
  "validation_records": 12,
  "rule": "predict the class when probability >= threshold; Infinity means never",
  "default_threshold": 0.5,
  "classes": [
    { "name": "CD", "threshold": 0.25, "validation_f1": 0.5, "validation_f1_at_default": 0.4 },
    { "name": "HYP", "threshold": "Infinity", "validation_f1": 0, "validation_f1_at_default": 0 },
    { "name": "MI", "threshold": 0.3, "validation_f1": 0.5, "validation_f1_at_default": 0.4 },
    { "name": "NORM", "threshold": 0.6, "validation_f1": 0.5, "validation_f1_at_default": 0.4 },
    { "name": "STTC", "threshold": 0.35, "validation_f1": 0.5, "validation_f1_at_default": 0.4 }
  ]
}"""
            File.WriteAllText(session.Paths.Thresholds, legacy)
            let found = DecisionThresholds.Find(session, WeightsChoice.Best, WindowAggregation.Mean)
            Expect.equal found.Values [| 0.25; infinity; 0.3; 0.6; 0.35 |] "values"
            Expect.equal (found.Provenance.Weights, found.Provenance.Aggregation) ("best", "mean") "best weights, the session's (mean) aggregation"
            Expect.isNull (box (DecisionThresholds.Find(session, WeightsChoice.Best, WindowAggregation.Max))) "not reused for another aggregation"
            File.WriteAllText(session.Paths.Thresholds, legacy.Replace("\"CD\"", "\"XX\""))
            Expect.stringContains (userError (fun () -> DecisionThresholds.Find(session, WeightsChoice.Best, WindowAggregation.Mean))) "classes" "other classes refused"
            File.WriteAllText(session.Paths.Thresholds, legacy.[.. 40])
            Expect.stringContains (userError (fun () -> DecisionThresholds.Find(session, WeightsChoice.Best, WindowAggregation.Mean))) "thresholds.json" "a truncated file is named"
        }

        test "a dataset that does not fit a session is refused with every difference named" {
            let session = emptySession ()
            let other = synthetic 20 60 1
            let message = userError (fun () -> SessionCompatibility.Require(session, other))
            Expect.stringContains message "60 samples per record vs the session's 50" "length"
            Expect.stringContains message (sprintf "session %d" session.Number) "names the session"
            SessionCompatibility.Require(session, synthetic 30 50 2)   // same shape, other records: fits for inference
            let forTraining = userError (fun () -> SessionCompatibility.Require(session, synthetic 30 50 2, forTraining = true))
            Expect.stringContains forTraining "training records" "training needs the same training records"
        }
    ]
