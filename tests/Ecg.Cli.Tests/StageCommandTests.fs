/// The pipeline commands end to end on the real 400-record sample, with short settings, and their failure modes.
module Ecg.Cli.Tests.StageCommandTests

open System
open System.IO
open Expecto
open Ecg.Cli.Tests.EcgProcess

let private tempFolder name = Ecg.Tests.TestFolders.create ("cli-" + name)

/// Runs ecg in `folder` with PTBXL_DIR unset, so only what the test passes counts.
let private ecgIn folder arguments = runIn folder [ "PTBXL_DIR", ""; "ECG_ARTIFACTS", "" ] arguments

let private expectOk (r: Outcome) = Expect.equal r.ExitCode 0 (sprintf "exit code; output:\n%s\n%s" r.Output r.Error)

/// A copy of the sample (CSVs and records) with one record's signal file truncated.
let private damagedSampleCopy () =
    let source = sampleFolder ()
    let copy = tempFolder "damaged"
    for file in [ "ptbxl_database.csv"; "scp_statements.csv" ] do
        File.Copy(Path.Combine(source, file), Path.Combine(copy, file))
    let records = Path.Combine(copy, "records100", "00000")
    Directory.CreateDirectory records |> ignore
    for file in Directory.GetFiles(Path.Combine(source, "records100", "00000")) do
        File.Copy(file, Path.Combine(records, Path.GetFileName file))
    let dat = Path.Combine(records, "00007_lr.dat")
    File.WriteAllBytes(dat, File.ReadAllBytes(dat).[.. 9999])
    copy

[<Tests>]
let tests =
    testSequenced <| testList "Stages" [
        test "preprocess, train with a stop and a resume, evaluate: the sample end to end" {
            let work = tempFolder "pipeline"
            let pre = ecgIn work [ "preprocess"; "--data"; sampleFolder () ]
            expectOk pre
            Expect.stringContains pre.Output "records kept:                400" "every readable record is kept"
            // Per task, the counts the benchmark's own code gives on the sample (tests/Ecg.Data.Tests/benchmark_task_labels.py).
            for task, records, classes in [ "superdiagnostic", 390, 5; "subdiagnostic", 390, 21; "diagnostic", 390, 32; "form", 98, 17; "rhythm", 382, 8; "all", 400, 53 ] do
                Expect.stringContains pre.Output (sprintf "  %-16s %6d records, %3d classes" task records classes) (sprintf "%s: records and classes" task)
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "processed", "ptbxl_100hz.npz"))) "the npz"
            let again = ecgIn work [ "preprocess"; "--data"; sampleFolder () ]
            expectOk again
            Expect.stringContains again.Output "Up to date" "a second run reuses the file"

            let first = ecgIn work [ "train"; "--epochs"; "2"; "--batch-size"; "64"; "--stop-after-epoch"; "1"; "--seed"; "3" ]
            expectOk first
            Expect.stringContains first.Output "Resume with: ecg train --resume 1" "stopped after epoch 1, says how to go on"
            let resumed = ecgIn work [ "train"; "--resume"; "1" ]
            expectOk resumed
            Expect.stringContains resumed.Output "Session 1 finished after 2 epoch(s)" "resumed to the end"
            let session = Path.Combine(work, "artifacts", "training_sessions", "session_1")
            for file in [ "config.json"; "metrics.csv"; "training_log.txt"; "weights/best.bin"; "weights/epoch_002.bin" ] do
                Expect.isTrue (File.Exists(Path.Combine(session, file))) file

            let evaluation = ecgIn work [ "evaluate"; "--split"; "validation"; "--bootstrap"; "50" ]
            expectOk evaluation
            Expect.stringContains evaluation.Output "macro" "macro AUC"
            Expect.stringContains evaluation.Output "samples avg" "a classification report"
            Expect.isTrue (File.Exists(Path.Combine(session, "evaluations", "validation_best.txt"))) "saved evaluation"
            let meanWindows = ecgIn work [ "evaluate"; "--split"; "validation"; "--bootstrap"; "0"; "--aggregation"; "mean" ]
            expectOk meanWindows
            Expect.isTrue (File.Exists(Path.Combine(session, "evaluations", "validation_best_mean.txt"))) "saved beside the max evaluation"
            let macroOf (text: string) = Text.RegularExpressions.Regex.Match(text, @"macro\s+(\d\.\d{4})").Groups.[1].Value
            for r in [ evaluation; meanWindows ] do
                let auc = Double.Parse(macroOf r.Output, Globalization.CultureInfo.InvariantCulture)
                Expect.isTrue (auc >= 0.0 && auc <= 1.0) (sprintf "a macro AUC in [0, 1]: %f" auc)
            // Each report uses thresholds tuned for its own probabilities, and says so: the session's thresholds.json
            // (max of windows) for the max report, fresh ones (saved beside the reports) for the mean report.
            Expect.stringContains evaluation.Output "for best weights, windows combined by max; these same records, so optimistic" "max thresholds named"
            Expect.stringContains meanWindows.Output "for best weights, windows combined by mean; these same records, so optimistic" "mean thresholds named"
            Expect.isTrue (File.Exists(Path.Combine(session, "evaluations", "thresholds_best_mean.json"))) "mean thresholds saved"
            // Bad values: a usage error (exit 2) naming the option and what it takes.
            for arguments, says in [ [ "evaluate"; "--aggregation"; "median" ], "--aggregation 'median': use one of max, mean, whole"
                                     [ "evaluate"; "--split"; "tset" ], "--split 'tset': use one of train, validation, test, all"
                                     [ "evaluate"; "--weights"; "final" ], "--weights 'final': use best, an epoch number"
                                     [ "train"; "--lr"; "abc" ], "--lr 'abc': expected a number"
                                     [ "evaluate"; "--bootstrap"; "many" ], "--bootstrap 'many': expected a whole number"
                                     [ "export"; "--rate"; "250" ], "--rate must be 100 or 500"
                                     [ "export"; "--format"; "pt" ], "--format 'pt': use one of onnx, safetensors, onnx-int8"
                                     [ "export"; "--weights"; "final" ], "--weights 'final': use best, an epoch number" ] do
                let r = ecgIn work arguments
                Expect.equal r.ExitCode 2 (sprintf "%A: a bad command line" arguments)
                Expect.stringContains r.Output says (sprintf "%A: says what the option takes" arguments)

            let averaged = ecgIn work [ "average"; "--epochs"; "1-2"; "--bootstrap"; "0" ]
            expectOk averaged
            Expect.isTrue (File.Exists(Path.Combine(session, "weights", "average_001-002.bin"))) "averaged weights"
            Expect.isTrue (File.Exists(Path.Combine(session, "evaluations", "validation_1-2.txt"))) "and their evaluation"
            let averagedAgain = ecgIn work [ "evaluate"; "--split"; "validation"; "--weights"; "1-2"; "--bootstrap"; "0" ]
            expectOk averagedAgain
            Expect.equal (macroOf averagedAgain.Output) (macroOf averaged.Output) "evaluate --weights 1-2 reads the same weights"
            let tooFar = ecgIn work [ "average"; "--epochs"; "2-7" ]
            Expect.equal tooFar.ExitCode 1 "a range past the last epoch"
            Expect.stringContains tooFar.Output "has completed 2 epochs" "says why"
            let notARange = ecgIn work [ "average"; "--epochs"; "last" ]
            Expect.equal notARange.ExitCode 2 "not a range: a bad command line"
            Expect.stringContains notARange.Output "9-12" "shows the form"

            let record = Path.Combine(sampleFolder (), "records100", "00000", "00001_lr")
            let one = ecgIn work [ "predict"; record; "--session"; "1" ]
            expectOk one
            Expect.stringContains one.Output "00001_lr" "the record's row"
            Expect.stringContains one.Output "session thresholds tuned on validation" "uses the session's thresholds"
            let csv = Path.Combine(work, "predictions.csv")
            expectOk (ecgIn work [ "predict"; Path.Combine(sampleFolder (), "records100"); "--output"; csv ])
            Expect.equal (File.ReadAllLines csv).Length 401 "a header and one row per sample record"
            let broken = damagedSampleCopy ()
            let corrupt = ecgIn work [ "predict"; Path.Combine(broken, "records100", "00000", "00007_lr") ]
            Expect.equal corrupt.ExitCode 1 "a corrupt record fails"
            Expect.stringContains corrupt.Output "00007_lr" "and the error names it"

            let embed = ecgIn work [ "embed"; "--split"; "validation" ]
            expectOk embed
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "feature_space", "session_1", "embeddings_validation.npz"))) "embeddings npz"
            let space = ecgIn work [ "feature-space"; "--split"; "validation"; "--seed"; "1" ]
            expectOk space
            Expect.stringContains space.Output "trustworthiness" "projections with their quality"
            Expect.stringContains space.Output "Hungarian" "metadata buckets matched to clusters"
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "feature_space", "session_1", "charts", "index.html"))) "charts"
            let probe = ecgIn work [ "probe"; "--epochs"; "5"; "--targets"; "age,sex" ]
            expectOk probe
            Expect.stringContains probe.Output "probe session 1" "a numbered probe session"
            Expect.isTrue (Directory.Exists(Path.Combine(work, "artifacts", "probe_training_sessions", "session_1", "sex"))) "per-target folder"
            let badTarget = ecgIn work [ "probe"; "--targets"; "shoe_size" ]
            Expect.equal badTarget.ExitCode 1 "unknown probe target"
            Expect.stringContains badTarget.Output "shoe_size" "named"

            // The second member trains in bfloat16 mixed precision: its float32 weights serve every later stage alike.
            expectOk (ecgIn work [ "train"; "--epochs"; "1"; "--batch-size"; "64"; "--seed"; "4"; "--model"; "xresnet1d18"; "--precision"; "bfloat16" ])
            Expect.stringContains (File.ReadAllText(Path.Combine(work, "artifacts", "training_sessions", "session_2", "config.json")))
                                  "\"precision\": \"bfloat16\"" "config.json records the precision"
            let ensemble = ecgIn work [ "ensemble"; "--sessions"; "1,2"; "--split"; "validation"; "--bootstrap"; "20" ]
            expectOk ensemble
            Expect.stringContains ensemble.Output "Ensemble of sessions 1, 2" "names its members"
            Expect.stringContains ensemble.Output "session 2 (xresnet1d18)" "a second architecture"
            Expect.stringContains ensemble.Output "thresholds tuned for this ensemble on validation" "its own thresholds"
            Expect.stringContains ensemble.Output "these same records, so optimistic" "flagged as tuned on what they score"
            let onTest = ecgIn work [ "ensemble"; "--sessions"; "1,2"; "--bootstrap"; "0" ]
            expectOk onTest
            Expect.stringContains onTest.Output "test split" "the test fold by default"
            Expect.stringContains onTest.Output "thresholds tuned for this ensemble on validation" "thresholds from the ensemble's validation probabilities"
            let meanEnsemble = ecgIn work [ "ensemble"; "--sessions"; "1,2"; "--split"; "validation"; "--bootstrap"; "0"; "--aggregation"; "mean" ]
            expectOk meanEnsemble
            Expect.stringContains meanEnsemble.Output "windows combined by mean" "says how windows were combined"
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "ensembles", "sessions_1_2_validation_mean.txt"))) "its own file"
            let single = ecgIn work [ "ensemble"; "--sessions"; "1" ]
            Expect.equal single.ExitCode 2 "an ensemble needs two sessions"
            // Members that name their own weights (SESSION:WEIGHTS): one session's epochs, as snapshots of restarted cycles.
            let snapshots = ecgIn work [ "ensemble"; "--sessions"; "1:1,1:2"; "--split"; "validation"; "--bootstrap"; "0" ]
            expectOk snapshots
            Expect.stringContains snapshots.Output "Ensemble of sessions 1:1, 1:2 (mean of probabilities, each member's own weights)" "names each member's weights"
            Expect.stringContains snapshots.Output "session 1:2 (cross-lead-cnn)" "each member's figure"
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "ensembles", "sessions_1w1_1w2_validation.txt"))) "its own file"
            // The mean of one member's probabilities with themselves is that member: its macro AUC, as evaluate gives it.
            let twice = ecgIn work [ "ensemble"; "--sessions"; "1:2,1:2"; "--split"; "validation"; "--bootstrap"; "0" ]
            let epoch2 = ecgIn work [ "evaluate"; "--session"; "1"; "--split"; "validation"; "--weights"; "2"; "--bootstrap"; "0" ]
            expectOk twice
            expectOk epoch2
            Expect.isNonEmpty (macroOf epoch2.Output) "a macro AUC printed"
            Expect.equal (macroOf twice.Output) (macroOf epoch2.Output) "epoch 2 with itself is epoch 2"
            for arguments, code, says in
                [ [ "--sessions"; "1:1,1:2"; "--stack" ], 2, "SESSION:WEIGHTS members are for the plain mean and --choose"
                  [ "--sessions"; "1:1,1:2"; "--weights"; "2" ], 2, "give the weights in one place"
                  [ "--sessions"; "1:final,1:2" ], 2, "--sessions weights 'final'"
                  [ "--sessions"; "1:7,1:2"; "--split"; "validation" ], 1, "epoch_007.bin" ] do
                let r = ecgIn work ("ensemble" :: arguments)
                Expect.equal r.ExitCode code (sprintf "%A refused" arguments)
                Expect.stringContains r.Output says (sprintf "%A: says why" arguments)

            // The original notebooks' split has no validation fold: NaN validation metrics must not break the session files.
            let original = ecgIn work [ "train"; "--epochs"; "1"; "--batch-size"; "64"; "--split"; "original"; "--seed"; "5" ]
            expectOk original
            Expect.stringContains original.Output "Session 3 finished after 1 epoch(s)" "trains without a validation fold"
            // Session 3 twice is enough to reach an ensemble over a split with no records.
            let noValidation = ecgIn work [ "ensemble"; "--sessions"; "3,3"; "--split"; "validation" ]
            Expect.equal noValidation.ExitCode 1 "an empty split"
            Expect.stringContains noValidation.Output "validation split" "says which split is empty"
            Expect.stringContains noValidation.Output "has no records" "and why it stops"

            let missingSession = ecgIn work [ "evaluate"; "--session"; "9" ]
            Expect.equal missingSession.ExitCode 1 "unknown session"
            Expect.stringContains missingSession.Output "Training session '9' not found" "names the session"
            Expect.stringContains missingSession.Output "existing: 1, 2, 3" "lists the sessions there are"
        }

        test "every benchmark task end to end on the sample (train, evaluate, predict, embed), and a lead-II session" {
            let work = tempFolder "tasks"
            expectOk (ecgIn work [ "preprocess"; "--data"; sampleFolder () ])
            let record = Path.Combine(sampleFolder (), "records100", "00000", "00001_lr")
            // Classes per task on the sample, from the benchmark's own rules (tests/Ecg.Data.Tests/benchmark_task_labels.py).
            let tasks = [ "superdiagnostic", 5; "subdiagnostic", 21; "diagnostic", 32; "form", 17; "rhythm", 8; "all", 53 ]
            for number, (task, classes) in List.indexed tasks |> List.map (fun (i, t) -> i + 1, t) do
                let train = ecgIn work [ "train"; "--task"; task; "--epochs"; "1"; "--batch-size"; "64"; "--seed"; "1" ]
                expectOk train
                Expect.stringContains train.Output (sprintf "%s task, %d classes" task classes) (sprintf "%s: the session's task and classes" task)
                let config = File.ReadAllText(Path.Combine(work, "artifacts", "training_sessions", sprintf "session_%d" number, "config.json"))
                Expect.stringContains config (sprintf "\"task\": \"%s\"" task) "the session records its task"
                let evaluation = ecgIn work [ "evaluate"; "--session"; string number; "--bootstrap"; "0" ]
                expectOk evaluation
                let perClass = Text.RegularExpressions.Regex.Matches(evaluation.Output.Split("macro").[0], @"(?m)^\s{2}\S+\s+(\d\.\d{4}|NaN)\s*$").Count
                Expect.equal perClass classes (sprintf "%s: an AUC line per class" task)
                Expect.stringContains evaluation.Output "Fmax   0." (sprintf "%s: Fmax beside the macro AUC" task)
                let predict = ecgIn work [ "predict"; record; "--session"; string number ]
                expectOk predict
                use json = Text.Json.JsonDocument.Parse config
                let names = [| for n in json.RootElement.GetProperty("class_names").EnumerateArray() -> n.GetString() |]
                Expect.equal names.Length classes "class names in config.json"
                for name in names do Expect.stringContains predict.Output name (sprintf "%s: predict prints class %s" task name)
                expectOk (ecgIn work [ "embed"; "--session"; string number; "--split"; "validation" ])
                Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "feature_space", sprintf "session_%d" number, "embeddings_validation.npz"))) "embeddings"
            let unknown = ecgIn work [ "train"; "--task"; "rythm" ]
            Expect.equal unknown.ExitCode 2 "an unknown task"
            Expect.stringContains unknown.Output "rhythm" "lists the tasks"

            // ONNX: the exported graph scores like TorchSharp (macro AUC to 3 decimals; probabilities agree to 1e-4 in Ecg.Model's tests).
            let exported = ecgIn work [ "export"; "--session"; "1"; "--format"; "onnx" ]
            expectOk exported
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "training_sessions", "session_1", "export", "model_best.onnx"))) "the ONNX file"
            expectOk (ecgIn work [ "export"; "--session"; "1"; "--format"; "safetensors" ])
            let macro (text: string) = Double.Parse(Text.RegularExpressions.Regex.Match(text, @"macro\s+(\d\.\d{4})").Groups.[1].Value, Globalization.CultureInfo.InvariantCulture)
            let torch = ecgIn work [ "evaluate"; "--session"; "1"; "--bootstrap"; "0" ]
            let onnx = ecgIn work [ "evaluate"; "--session"; "1"; "--bootstrap"; "0"; "--engine"; "onnx" ]
            expectOk onnx
            Expect.floatClose { absolute = 1e-3; relative = 0.0 } (macro onnx.Output) (macro torch.Output) "ONNX Runtime and TorchSharp agree"
            expectOk (ecgIn work [ "predict"; record; "--session"; "1"; "--engine"; "onnx" ])
            expectOk (ecgIn work [ "embed"; "--session"; "1"; "--split"; "validation"; "--engine"; "onnx" ])
            let whole = ecgIn work [ "embed"; "--session"; "1"; "--split"; "validation"; "--engine"; "onnx"; "--aggregation"; "whole" ]
            expectOk whole
            Expect.stringContains whole.Output "embeddings_validation_whole.npz" "the whole-record pass has its own file"
            let wholeEval = ecgIn work [ "evaluate"; "--session"; "1"; "--bootstrap"; "0"; "--engine"; "onnx"; "--aggregation"; "whole" ]
            expectOk wholeEval
            let wholeTorch = ecgIn work [ "evaluate"; "--session"; "1"; "--bootstrap"; "0"; "--aggregation"; "whole" ]
            Expect.floatClose { absolute = 1e-3; relative = 0.0 } (macro wholeEval.Output) (macro wholeTorch.Output) "whole records: ONNX Runtime and TorchSharp agree"
            // int8: predict needs the int8 file first (it calibrates on training records, which predict does not read).
            let noInt8 = ecgIn work [ "predict"; record; "--session"; "1"; "--engine"; "onnx-int8" ]
            Expect.equal noInt8.ExitCode 1 "no int8 file yet"
            Expect.stringContains noInt8.Output "--format onnx-int8" "says how to make it"
            let int8 = ecgIn work [ "export"; "--session"; "1"; "--format"; "onnx-int8" ]
            expectOk int8
            Expect.stringContains int8.Output "calibrated on" "says what it calibrated on"
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "training_sessions", "session_1", "export", "model_best_int8.onnx"))) "the int8 file"
            expectOk (ecgIn work [ "predict"; record; "--session"; "1"; "--engine"; "onnx-int8" ])
            let int8Eval = ecgIn work [ "evaluate"; "--session"; "1"; "--bootstrap"; "0"; "--engine"; "onnx-int8" ]
            expectOk int8Eval
            Expect.floatClose { absolute = 0.02; relative = 0.0 } (macro int8Eval.Output) (macro torch.Output) "int8 scores close to float"
            let int8Embed = ecgIn work [ "embed"; "--session"; "1"; "--split"; "validation"; "--engine"; "onnx-int8" ]
            Expect.equal int8Embed.ExitCode 1 "embeddings stay float"
            Expect.stringContains int8Embed.Output "embeddings come from the float network" "says why"
            let badPass = ecgIn work [ "embed"; "--session"; "1"; "--aggregation"; "max" ]
            Expect.equal badPass.ExitCode 2 "embed takes mean or whole"
            Expect.stringContains badPass.Output "--aggregation 'max'" "names the option and value"
            let badEngine = ecgIn work [ "predict"; record; "--engine"; "tensorrt" ]
            Expect.equal badEngine.ExitCode 2 "an unknown engine"

            // Lead II alone: the session records its lead, every later stage reads only that lead.
            let lead = ecgIn work [ "train"; "--leads"; "II"; "--epochs"; "1"; "--batch-size"; "64"; "--seed"; "2"; "--model"; "xresnet1d18" ]
            expectOk lead
            Expect.stringContains lead.Output "leads II" "one lead"
            let leadSession = string (tasks.Length + 1)
            expectOk (ecgIn work [ "evaluate"; "--session"; leadSession; "--bootstrap"; "0" ])
            let predicted = ecgIn work [ "predict"; record; "--session"; leadSession ]
            expectOk predicted
            Expect.stringContains predicted.Output "00001_lr" "a 12-lead record scored on its lead II"
            expectOk (ecgIn work [ "embed"; "--session"; leadSession; "--split"; "validation" ])
            let badLead = ecgIn work [ "train"; "--leads"; "II,X9"; "--epochs"; "1" ]
            Expect.equal badLead.ExitCode 1 "a lead the dataset lacks"
            Expect.stringContains badLead.Output "Lead 'X9' is not in this dataset" "named, with the leads there are"
            let mixed = ecgIn work [ "ensemble"; "--sessions"; sprintf "1,%s" leadSession; "--bootstrap"; "0" ]
            Expect.equal mixed.ExitCode 1 "an ensemble of different lead sets is refused"
            Expect.stringContains mixed.Output "must share their leads" "says why"
            let mixedTasks = ecgIn work [ "ensemble"; "--sessions"; "1,5"; "--bootstrap"; "0" ]
            Expect.equal mixedTasks.ExitCode 1 "an ensemble of different tasks is refused"

            // Fine-tuning the superclass session on rhythm: the backbone is copied, the head (other classes) starts afresh.
            let tuned = ecgIn work [ "train"; "--task"; "rhythm"; "--init-from"; "1"; "--freeze-backbone"; "1"; "--epochs"; "2"; "--batch-size"; "64" ]
            expectOk tuned
            Expect.stringContains tuned.Output "reinitialised: classifier.weight, classifier.bias" "says what starts afresh"
            let tunedConfig = File.ReadAllText(Path.Combine(work, "artifacts", "training_sessions", sprintf "session_%d" (tasks.Length + 2), "config.json"))
            Expect.stringContains tunedConfig "\"initialized_from\"" "the session records where it started from"
        }

        test "the select split through the later stages, and an ensemble chosen on fold 8 and reported on fold 9" {
            let work = tempFolder "select"
            expectOk (ecgIn work [ "preprocess"; "--data"; sampleFolder () ])
            for seed in [ "1"; "2" ] do
                expectOk (ecgIn work [ "train"; "--split"; "select"; "--epochs"; "1"; "--batch-size"; "64"; "--seed"; seed; "--model"; "xresnet1d18" ])
            // --split select in a later stage: the stage's default part under the session's scheme (test: fold 9).
            let evaluation = ecgIn work [ "evaluate"; "--session"; "1"; "--split"; "select"; "--bootstrap"; "0" ]
            expectOk evaluation
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "training_sessions", "session_1", "evaluations", "test_best.txt"))) "the test split"
            let other = ecgIn work [ "evaluate"; "--session"; "1"; "--split"; "benchmark" ]
            Expect.equal other.ExitCode 1 "another scheme than the session's"
            Expect.stringContains other.Output "trained under the select split" "says which scheme the session has"
            expectOk (ecgIn work [ "embed"; "--session"; "2"; "--split"; "select" ])
            // The window aggregation chosen on fold 8, the test split evaluated once with it.
            let aggregation = ecgIn work [ "evaluate"; "--session"; "1"; "--aggregation"; "choose"; "--bootstrap"; "0" ]
            expectOk aggregation
            Expect.isMatch aggregation.Output @"Aggregation chosen on the validation split: (max|mean|whole) \(validation macro AUC: max [0-9.]+, mean [0-9.]+, whole [0-9.]+\)" "every candidate's fold-8 figure"
            Expect.stringContains aggregation.Output "Session 1, test split" "then the test split"
            let chooseOnValidation = ecgIn work [ "evaluate"; "--session"; "1"; "--aggregation"; "choose"; "--split"; "validation" ]
            Expect.equal chooseOnValidation.ExitCode 1 "not reported on the records it was chosen on"
            Expect.stringContains chooseOnValidation.Output "chosen on" "says why"

            let chosen = ecgIn work [ "ensemble"; "--sessions"; "1,2"; "--choose"; "--rounds"; "4"; "--bootstrap"; "0" ]
            expectOk chosen
            Expect.stringContains chosen.Output "on the validation split (fold 8" "chosen on fold 8"
            Expect.stringContains chosen.Output "Chosen ensemble, test split" "reported on the test split"
            let choice = Path.Combine(work, "artifacts", "ensembles", "chosen_from_1_2_test.json")
            Expect.isTrue (File.Exists choice) "the choice is saved"
            use json = System.Text.Json.JsonDocument.Parse(File.ReadAllText choice)
            let weights = [ for w in json.RootElement.GetProperty("weights").EnumerateArray() -> w.GetDouble() ]
            Expect.floatClose Accuracy.high (List.sum weights) 1.0 "weights sum to 1"
            Expect.equal (json.RootElement.GetProperty("added_per_round").GetArrayLength()) 4 "every round recorded"
            let sparing = ecgIn work [ "ensemble"; "--sessions"; "1,2"; "--choose"; "--rounds"; "4"; "--min-gain"; "1"; "--bootstrap"; "0" ]
            expectOk sparing
            Expect.stringContains sparing.Output "kept: round 1," "no round gains a whole unit of AUC: round 1 is kept"
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "ensembles", "chosen_from_1_2_test_min_gain_1.json"))) "saved under its own name"
            // Candidates that name their own weights (snapshots) compete like sessions; the file keeps each member's weights.
            let snapshots = ecgIn work [ "ensemble"; "--sessions"; "1:1,2"; "--choose"; "--rounds"; "4"; "--bootstrap"; "0" ]
            expectOk snapshots
            Expect.stringContains snapshots.Output "Ensemble chosen from sessions 1:1, 2 on the validation split (fold 8" "each candidate named with its weights"
            Expect.stringContains snapshots.Output "each member's own weights" "says the weights differ"
            use snapshotJson = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "artifacts", "ensembles", "chosen_from_1w1_2_test.json")))
            let root = snapshotJson.RootElement
            Expect.equal (root.GetProperty("session_weights").GetString()) "each member's own" "no common weights"
            let kept = [ for m in root.GetProperty("members").EnumerateArray() -> m.GetInt32() ]
            let keptWeights = [ for w in root.GetProperty("member_weights").EnumerateArray() -> w.GetString() ]
            Expect.equal keptWeights [ for m in kept -> if m = 1 then "1" else "best" ] "each kept member with the weights it was a candidate with"
            let onValidation = ecgIn work [ "ensemble"; "--sessions"; "1,2"; "--choose"; "--split"; "validation" ]
            Expect.equal onValidation.ExitCode 2 "no reporting on the split the choice was made on"

            // Self-supervised pretraining (session 3), then a classifier fine-tuned from it (session 4).
            let badTemperature = ecgIn work [ "train"; "--temperature"; "0.2"; "--epochs"; "1" ]
            Expect.equal badTemperature.ExitCode 2 "--temperature without --objective contrastive: a usage error"
            Expect.stringContains badTemperature.Output "--objective contrastive" "says what it belongs to"
            let pretrained = ecgIn work [ "train"; "--split"; "select"; "--objective"; "contrastive"; "--augment"; "ecg"; "--preset"; "cpu"
                                          "--epochs"; "1"; "--batch-size"; "64"; "--model"; "xresnet1d18" ]
            expectOk pretrained
            Expect.stringContains pretrained.Output "validation contrastive loss" "the pretraining's own figure"
            Expect.stringContains pretrained.Output "ecg train --init-from 3" "and what to do next"
            let refused = ecgIn work [ "evaluate"; "--session"; "3"; "--bootstrap"; "0" ]
            Expect.equal refused.ExitCode 1 "no classification figures from an untrained classifier"
            Expect.stringContains refused.Output "contrastive pretraining" "says why"
            expectOk (ecgIn work [ "embed"; "--session"; "3"; "--split"; "validation" ])
            let tuned = ecgIn work [ "train"; "--split"; "select"; "--init-from"; "3"; "--preset"; "cpu"; "--epochs"; "1"; "--batch-size"; "64" ]
            expectOk tuned
            Expect.stringContains tuned.Output "reinitialised: head.classifier.weight, head.classifier.bias" "the classifier starts afresh"
            expectOk (ecgIn work [ "evaluate"; "--session"; "4"; "--bootstrap"; "0" ])

            // --crop: training crops and evaluation windows of 5 s (500 samples at 100 Hz), windows at half that stride.
            let longer = ecgIn work [ "train"; "--split"; "select"; "--preset"; "cpu"; "--crop"; "5"; "--epochs"; "1"; "--batch-size"; "64"; "--model"; "xresnet1d18" ]
            expectOk longer
            use config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "artifacts", "training_sessions", "session_5", "config.json")))
            let recipe = config.RootElement.GetProperty "config"
            let field (name: string) = recipe.GetProperty(name).GetInt32()
            Expect.equal (field "crop_length", field "eval_window", field "eval_stride") (500, 500, 250) "5 s crops and windows, 2.5 s stride"
            Expect.stringContains (recipe.GetProperty("preset").GetString()) "modified" "a changed recipe"
            expectOk (ecgIn work [ "evaluate"; "--session"; "5"; "--bootstrap"; "0" ])
            let tooLong = ecgIn work [ "train"; "--crop"; "20"; "--epochs"; "1" ]
            Expect.equal tooLong.ExitCode 1 "longer than the records"
            Expect.stringContains tooLong.Output "ptbxl_100hz.npz are 10 s long" "names the file and the records' length"
            let negative = ecgIn work [ "train"; "--crop"; "-1"; "--epochs"; "1" ]
            Expect.equal negative.ExitCode 2 "not a length: a usage error"
            // --cycles: a restarted one-cycle schedule; cycles that do not divide the epochs are refused before training.
            let uneven = ecgIn work [ "train"; "--preset"; "cpu"; "--epochs"; "3"; "--cycles"; "2" ]
            Expect.equal uneven.ExitCode 1 "refused"
            Expect.stringContains uneven.Output "epochs (3) must split into one_cycle_cycles (2)" "says why, naming the field"

            // The protocol's last step: sessions 1 and 2's recipes retrained under --split refit (folds 1-8, no validation,
            // fold 9 the test; sessions 6 and 7), weighted as a choice made on fold 8 says. The choice file is written
            // here with both members, so the test does not depend on which of them the 4 rounds above kept.
            for seed in [ "1"; "2" ] do
                let refit = ecgIn work [ "train"; "--split"; "refit"; "--epochs"; "1"; "--batch-size"; "64"; "--seed"; seed; "--model"; "xresnet1d18" ]
                expectOk refit
                Expect.stringContains refit.Output "0 validation" "no validation fold"
                Expect.stringContains refit.Output "the lowest (no validation fold)" "the best epoch by training loss, no NaN AUC"
                Expect.isFalse (refit.Output.Contains "NaN") "no NaN printed"
            let refitTest = ecgIn work [ "evaluate"; "--session"; "6"; "--bootstrap"; "0" ]
            expectOk refitTest
            Expect.stringContains refitTest.Output "Session 6, test split" "tested on fold 9"
            let ensembles = Path.Combine(work, "artifacts", "ensembles")
            let choiceFile name (text: string) =
                let path = Path.Combine(ensembles, name)
                File.WriteAllText(path, text)
                path
            let twoMembers = choiceFile "chosen_by_hand.json" """{"members": [1, 2], "weights": [0.75, 0.25], "aggregation": "each member's own"}"""
            let applied = ecgIn work [ "ensemble"; "--sessions"; "6,7"; "--apply-choice"; twoMembers; "--bootstrap"; "0" ]
            expectOk applied
            Expect.stringContains applied.Output "session 6 0.7500 (as member 1), session 7 0.2500 (as member 2)" "the weights, member by member"
            Expect.stringContains applied.Output "test split" "reported on fold 9"
            Expect.isTrue (File.Exists(Path.Combine(ensembles, "sessions_6_7_test_applying_chosen_by_hand.txt"))) "its own report"
            let refused (arguments: string list) (expected: string) (because: string) =
                let r = ecgIn work ([ "ensemble" ] @ arguments @ [ "--bootstrap"; "0" ])
                Expect.equal r.ExitCode 1 because
                Expect.stringContains r.Output expected because
            refused [ "--sessions"; "7,6"; "--apply-choice"; twoMembers ] "seed 2 against 1" "another recipe than the member's: the field named"
            refused [ "--sessions"; "7,6"; "--apply-choice"; Path.Combine("ensembles", "chosen_by_hand.json") ] "seed 2 against 1"
                "a relative path as --choose names it is found under the artifacts root"
            refused [ "--sessions"; "6,7,6"; "--apply-choice"; twoMembers ] "give one session per member" "one session per member"
            refused [ "--sessions"; "6,7"; "--apply-choice"; choiceFile "truncated.json" """{"members": [1, 2], "weig""" ] "is not a choice file" "a damaged file"
            refused [ "--sessions"; "6,7"; "--apply-choice"; choiceFile "bad_weights.json" """{"members": [1, 2], "weights": [0.5, 0.6]}""" ]
                "field 'weights'" "weights that do not sum to 1"
            refused [ "--sessions"; "6,7"; "--apply-choice"; Path.Combine(ensembles, "missing.json") ] "not found" "a missing file"
            // A choice among snapshots applies each member's weights to the session standing in for it.
            let withSnapshots = choiceFile "chosen_snapshots.json" """{"members": [1, 2], "weights": [0.5, 0.5], "member_weights": ["1", "best"]}"""
            let appliedSnapshots = ecgIn work [ "ensemble"; "--sessions"; "6,7"; "--apply-choice"; withSnapshots; "--bootstrap"; "0" ]
            expectOk appliedSnapshots
            Expect.stringContains appliedSnapshots.Output "session 6:1 0.5000 (as member 1:1), session 7 0.5000 (as member 2)" "the member's weights, on the session for it"
            Expect.isTrue (File.Exists(Path.Combine(ensembles, "sessions_6w1_7_test_applying_chosen_snapshots.txt"))) "named with each member's weights"
            refused [ "--sessions"; "6,7"; "--apply-choice"; withSnapshots; "--weights"; "1" ] "leave --weights out" "the weights come from the file"
            refused [ "--sessions"; "6,7"; "--apply-choice"; choiceFile "bad_member_weights.json" """{"members": [1, 2], "weights": [0.5, 0.5], "member_weights": ["1"]}""" ]
                "field 'member_weights'" "one member's weights per member"
            refused [ "--sessions"; "6,7"; "--apply-choice"; choiceFile "bad_member_epoch.json" """{"members": [1, 2], "weights": [0.5, 0.5], "member_weights": ["final", "best"]}""" ]
                "member 1 (session 1)" "weights that are not weights, naming the member"
            let both = ecgIn work [ "ensemble"; "--sessions"; "6,7"; "--apply-choice"; twoMembers; "--choose" ]
            Expect.equal both.ExitCode 2 "a choice is made or applied, not both"

            // A stack fitted on fold 8 (sessions 1 and 2), reported on fold 9, then applied to their refit counterparts.
            let stacked = ecgIn work [ "ensemble"; "--sessions"; "1,2"; "--stack"; "--bootstrap"; "0" ]
            expectOk stacked
            Expect.stringContains stacked.Output "fitted on the validation split (fold 8" "fitted on fold 8"
            Expect.stringContains stacked.Output "Stacked ensemble, test split" "reported on fold 9"
            let stackFile = Path.Combine("ensembles", "stacked_1_2_test.json")
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", stackFile))) "the stack is saved"
            let appliedStack = ecgIn work [ "ensemble"; "--sessions"; "6,7"; "--apply-choice"; stackFile; "--bootstrap"; "0" ]
            expectOk appliedStack
            Expect.stringContains appliedStack.Output "logistic stack of logits, session 6 as member 1, session 7 as member 2" "the members, in the file's order"
            Expect.isTrue (File.Exists(Path.Combine(ensembles, "sessions_6_7_test_applying_stacked_1_2_test.txt"))) "its own report"
            refused [ "--sessions"; "7,6"; "--apply-choice"; stackFile ] "seed 2 against 1" "a stack's members are checked too"
            refused [ "--sessions"; "6,7"; "--apply-choice"
                      choiceFile "bad_stack.json" """{"members": [1, 2], "class_names": ["CD", "HYP", "MI", "NORM", "STTC"], "coefficients": [[1.0]], "intercepts": [0, 0, 0, 0, 0], "c": 1}""" ]
                "field 'coefficients'" "a stack without a coefficient per member and class"
            Expect.equal (ecgIn work [ "ensemble"; "--sessions"; "1,2"; "--stack"; "--choose" ]).ExitCode 2 "one way to choose at a time"
        }

        test "500 Hz input end to end: preprocess --rate 500, train, evaluate, predict a 500 Hz record; a 100 Hz record is refused" {
            let folder =
                match Environment.GetEnvironmentVariable "PTBXL_SAMPLE_500HZ_DIR" with
                | null | "" -> Path.GetFullPath(Path.Combine(repositoryRoot, "..", "shared", "ptbxl-sample-500hz"))
                | given -> given
            if not (File.Exists(Path.Combine(folder, "ptbxl_database.csv"))) then
                failwithf "The 500 Hz PTB-XL sample is missing: expected %s (set PTBXL_SAMPLE_500HZ_DIR to its folder)." folder
            let work = tempFolder "rate500"
            expectOk (ecgIn work [ "preprocess"; "--data"; folder; "--rate"; "500" ])
            Expect.isTrue (File.Exists(Path.Combine(work, "artifacts", "processed", "ptbxl_500hz.npz"))) "the 500 Hz file"
            let train = ecgIn work [ "train"; "--rate"; "500"; "--model"; "xresnet1d18"; "--epochs"; "1"; "--batch-size"; "32"; "--seed"; "1" ]
            expectOk train
            use config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "artifacts", "training_sessions", "session_1", "config.json")))
            let recipe = config.RootElement.GetProperty "config"
            let field (name: string) = recipe.GetProperty(name).GetInt32()
            // The preset's 2.5 s crops and windows at 1.25 s stride, in 500 Hz samples.
            Expect.equal (field "crop_length", field "eval_window", field "eval_stride") (1250, 1250, 625) "2.5 s at 500 Hz"
            Expect.stringContains (config.RootElement.GetProperty("data_file").GetString()) "ptbxl_500hz.npz" "trained on the 500 Hz file"
            // Later stages read the session's own rate's file without being told; --rate still overrides it.
            let evaluation = ecgIn work [ "evaluate"; "--session"; "1"; "--bootstrap"; "0" ]
            expectOk evaluation
            Expect.stringContains evaluation.Output "macro" "a macro AUC"
            let other = ecgIn work [ "evaluate"; "--session"; "1"; "--bootstrap"; "0"; "--rate"; "100" ]
            Expect.equal other.ExitCode 1 "no 100 Hz file here"
            Expect.stringContains other.Output "ptbxl_100hz.npz" "names the file it looked for"
            let predicted = ecgIn work [ "predict"; Path.Combine(folder, "records500", "00000", "00001_hr"); "--session"; "1" ]
            expectOk predicted
            Expect.stringContains predicted.Output "00001_hr" "the 500 Hz record scored"
            let low = ecgIn work [ "predict"; Path.Combine(folder, "records100", "00000", "00001_lr"); "--session"; "1" ]
            Expect.equal low.ExitCode 1 "a 100 Hz record for a 500 Hz session"
            Expect.stringContains low.Output "sampled at 100 Hz; session 1 takes 500 Hz" "names the record's rate and the session's"
        }

        test "synth writes a PTB-XL-shaped folder that preprocesses with zero failures, deterministically" {
            let work = tempFolder "synth"
            let first = ecgIn work [ "synth"; "first"; "--records"; "120"; "--seed"; "5" ]
            expectOk first
            expectOk (ecgIn work [ "synth"; "second"; "--records"; "120"; "--seed"; "5" ])
            let sums folder = File.ReadAllText(Path.Combine(work, folder, "SHA256SUMS.txt"))
            Expect.equal (sums "second") (sums "first") "same seed, same files"
            let pre = ecgIn work [ "preprocess"; "--data"; Path.Combine(work, "first"); "--strict" ]
            expectOk pre
            Expect.stringContains pre.Output "failed:                      0" "no failures"
            let refused = ecgIn work [ "synth"; "first"; "--records"; "10" ]
            Expect.equal refused.ExitCode 1 "a non-empty folder is not overwritten without --overwrite"
        }

        test "bench prints a figure per measurement, with the core count" {
            let r = ecgIn (tempFolder "bench") [ "bench"; "--data"; sampleFolder (); "--stages"; "read,preprocess" ]
            expectOk r
            Expect.isMatch r.Output @"read WFDB \(warm cache\)\s+\d+ records/s" "reading speed"
            Expect.isMatch r.Output @"preprocess in memory, warm cache\s+\d+ records/s" "preprocessing speed"
            Expect.stringContains r.Output (sprintf "[%d cores]" Environment.ProcessorCount) "the machine's core count"
            let speeds = ecgIn (tempFolder "bench") [ "bench"; "--stages"; "train,engines"; "--batch-sizes"; "4"; "--lengths"; "250"; "--steps"; "1"
                                                      "--rounds"; "1"; "--phases"; "train"; "--precisions"; "float32,bfloat16" ]
            expectOk speeds
            for precision in [ "float32"; "bfloat16" ] do
                Expect.isMatch speeds.Output (sprintf @"train cross-lead-cnn %s, batch 4, 250 samples\s+\d+\.\d samples/s" precision) precision
            for engine in [ "torchsharp"; "onnxruntime"; "onnxruntime, 1-d convolutions"; "onnxruntime int8" ] do
                Expect.isMatch speeds.Output (sprintf @"inference cross-lead-cnn on %s, round 1, batch 4, 250 samples\s+\d+\.\d samples/s" engine) engine
            // Projections on saved embeddings (300 points of 16 values around 5 centres) instead of generated blobs.
            let folder = tempFolder "bench"
            let file = Path.Combine(folder, "embeddings_all.npz")
            let points = Ecg.Analysis.ProjectionBenchmark.blobs 300 16 5 2
            Ecg.Analysis.EmbeddingFile.Write(file,
                { SessionNumber = 1; Weights = "best"; Split = "all"; EcgIds = Array.init 300 id; Dimension = 16
                  Embeddings = points |> Array.collect (Array.map float32); Labels = Array.zeroCreate 300; ClassNames = [| "A" |]
                  Fingerprint = null; Pass = "windows" })
            let projections = ecgIn folder [ "bench"; "--stages"; "projections"; "--embeddings"; file ]
            expectOk projections
            Expect.isMatch projections.Output @"projections of 300 x 16 embeddings \(embeddings_all.npz\)\s+K-Means [\d.]+ s, PCA [\d.]+ s, t-SNE \(Barnes-Hut\) [\d.]+ s \(neighbours and P [\d.]+ s, descent [\d.]+ s; trustworthiness 0.9\d\d\)" "timed on the file's rows"
            let missing = ecgIn folder [ "bench"; "--stages"; "projections"; "--embeddings"; Path.Combine(folder, "none.npz") ]
            Expect.equal missing.ExitCode 1 "a missing file"
            Expect.stringContains missing.Output "none.npz" "named"
            let badPrecision = ecgIn (tempFolder "bench") [ "bench"; "--stages"; "train"; "--precisions"; "float16" ]
            Expect.equal badPrecision.ExitCode 1 "unknown precision"
            Expect.stringContains badPrecision.Output "float16" "named"
        }

        test "bench growth measures each record count in its own process" {
            let r = ecgIn (tempFolder "growth") [ "bench"; "--data"; sampleFolder (); "--stages"; "growth"; "--growth-records"; "150,all"
                                                  "--growth-projection-limit"; "200" ]
            expectOk r
            for rows in [ "150 rows"; "all rows" ] do
                for step in [ "preprocess in memory"; "one training epoch"; "embed all records"; "K-Means"; "PCA" ] do
                    Expect.isMatch r.Output (sprintf @"growth %s: %s.*peak RSS \d+ MiB" rows step) (sprintf "%s: %s" rows step)
            Expect.isMatch r.Output @"growth 150 rows: t-SNE.* in \d+\.\d s" "t-SNE within the projection limit"
            Expect.stringContains r.Output "t-SNE and UMAP skipped: 390 points" "beyond it, skipped and said"
            let bad = ecgIn (tempFolder "growth") [ "bench"; "--data"; sampleFolder (); "--stages"; "growth,read" ]
            Expect.equal bad.ExitCode 1 "growth runs alone"
            let badModel = ecgIn (tempFolder "bench") [ "bench"; "--stages"; "train"; "--models"; "alexnet" ]
            Expect.equal badModel.ExitCode 1 "unknown model"
            Expect.stringContains badModel.Output "alexnet" "named"
        }

        test "preprocess without a data folder fails with a one-line reason" {
            let r = ecgIn (tempFolder "nodata") [ "preprocess" ]
            Expect.equal r.ExitCode 1 "failure"
            Expect.stringContains r.Output "No PTB-XL folder: pass --data" "says how to give one"
        }

        test "preprocess of a folder that is not PTB-XL fails and names it" {
            let empty = tempFolder "empty"
            let r = ecgIn empty [ "preprocess"; "--data"; empty ]
            Expect.equal r.ExitCode 1 "failure"
            Expect.stringContains r.Output "is not a PTB-XL folder" "names the problem"
        }

        test "train without a processed dataset says to preprocess first" {
            let r = ecgIn (tempFolder "nodataset") [ "train"; "--epochs"; "1" ]
            Expect.equal r.ExitCode 1 "failure"
            Expect.stringContains r.Output "run `ecg preprocess" "says what to run"
        }

        test "a corrupt record is reported and skipped; --strict turns it into a failure" {
            let data = damagedSampleCopy ()
            let work = tempFolder "corrupt"
            let r = ecgIn work [ "preprocess"; "--data"; data ]
            expectOk r
            Expect.stringContains r.Output "records kept:                399" "the other records are kept"
            Expect.stringContains r.Output "ecg_id 7" "the failure names the record"
            let strict = ecgIn work [ "preprocess"; "--data"; data; "--force"; "--strict" ]
            Expect.equal strict.ExitCode 1 "strict fails"
        }
    ]
