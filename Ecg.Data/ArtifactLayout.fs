namespace Ecg.Data

open System
open System.Globalization
open System.IO
open System.Text

// ---------------------------------------------------------------------------------------------------------------
// Errors a user can act on
// ---------------------------------------------------------------------------------------------------------------

/// A problem with the user's input (a missing folder, an unknown session, a bad option value): the CLI prints its
/// message as one line and exits with code 1. Library code throws it where the message alone says what to do.
type UserError(message: string) =
    inherit Exception(message)

// ---------------------------------------------------------------------------------------------------------------
// Numbered folders: session_1, session_2, ... never overwritten
// ---------------------------------------------------------------------------------------------------------------

/// Folders numbered `session_N` under a parent: listing, resolving "N" or "latest", and claiming the next one.
[<AbstractClass; Sealed>]
type NumberedFolders private () =

    /// The prefix of every numbered folder (training sessions, feature space, probe sessions).
    static member Prefix = "session_"

    /// The file whose exclusive creation (O_EXCL) makes a process the owner of a freshly claimed folder.
    static member OwnerFile = ".owner"

    /// `parent/session_N`.
    static member Path(parent: string, number: int) =
        Path.Combine(parent, NumberedFolders.Prefix + number.ToString(CultureInfo.InvariantCulture))

    /// The N of a folder named session_N, or 0 when the name is not of that form.
    static member NumberOf(folder: string) : int =
        let name = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder: string))
        if name.StartsWith(NumberedFolders.Prefix, StringComparison.Ordinal) then
            match Int32.TryParse(name.Substring(NumberedFolders.Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture) with
            | true, n when n > 0 -> n
            | _ -> 0
        else 0

    /// Numbers of the folders under `parent` that hold `completeFile` (a folder without it was claimed but never
    /// written, or is not one of ours), ascending.
    static member Existing(parent: string, completeFile: string) : int[] =
        if not (Directory.Exists parent) then [||]
        else
            Directory.GetDirectories(parent, NumberedFolders.Prefix + "*")
            |> Array.choose (fun d ->
                match NumberedFolders.NumberOf d with
                | n when n > 0 && File.Exists(Path.Combine(d, completeFile)) -> Some n
                | _ -> None)
            |> Array.sort

    /// Resolves "N" or "latest" (also empty) among the existing numbers; a UserError that lists them otherwise.
    /// `what` names the kind of folder in the message, e.g. "training session".
    static member Resolve(parent: string, completeFile: string, choice: string, what: string) : int =
        let numbers = NumberedFolders.Existing(parent, completeFile)
        let known =
            if numbers.Length = 0 then "there are none yet"
            else "existing: " + String.Join(", ", numbers)
        let choice = if isNull choice then "" else choice.Trim()
        if choice = "" || choice.Equals("latest", StringComparison.OrdinalIgnoreCase) then
            if numbers.Length = 0 then raise (UserError(sprintf "No %s in %s: %s." what parent known))
            numbers.[numbers.Length - 1]
        else
            match Int32.TryParse(choice, NumberStyles.None, CultureInfo.InvariantCulture) with
            | true, n when Array.contains n numbers -> n
            | _ -> raise (UserError(sprintf "%s '%s' not found in %s: %s." (string (Char.ToUpperInvariant what.[0]) + what.Substring 1) choice parent known))

    /// Claims the next free `session_N` under `parent` and returns (N, folder). Safe between processes: the folder
    /// belongs to whoever creates its .owner file with CreateNew (O_EXCL); a loser moves on to N+1. A folder that
    /// already holds `completeFile` is never reused.
    static member Claim(parent: string, completeFile: string) : struct (int * string) =
        Directory.CreateDirectory parent |> ignore
        let highest =
            Directory.EnumerateDirectories(parent, NumberedFolders.Prefix + "*")
            |> Seq.map NumberedFolders.NumberOf
            |> Seq.fold max 0
        let rec claim n =
            let folder = NumberedFolders.Path(parent, n)
            if File.Exists(Path.Combine(folder, completeFile)) then claim (n + 1)
            else
                Directory.CreateDirectory folder |> ignore
                let owned =
                    try
                        use owner = new FileStream(Path.Combine(folder, NumberedFolders.OwnerFile), FileMode.CreateNew, FileAccess.Write)
                        owner.Write(Encoding.UTF8.GetBytes(sprintf "pid %d %s\n" Environment.ProcessId (DateTime.UtcNow.ToString "O")))
                        true
                    with :? IOException when File.Exists(Path.Combine(folder, NumberedFolders.OwnerFile)) -> false
                if owned then struct (n, folder) else claim (n + 1)
        claim (highest + 1)

// ---------------------------------------------------------------------------------------------------------------
// The files of one training session
// ---------------------------------------------------------------------------------------------------------------

/// Every file inside one training session folder, `training_sessions/session_N/`. The names are part of the
/// artifact format (reports link to them, older sessions have them), so they live here once.
[<Sealed; AllowNullLiteral>]
type SessionPaths(folder: string) =
    let file name = Path.Combine(folder, name)
    member _.Folder = folder
    member _.Config = file "config.json"
    member _.Notes = file "notes.txt"
    member _.TrainingLog = file "training_log.txt"
    member _.Metrics = file "metrics.csv"
    member _.Standardisation = file "standardisation.json"
    member _.Thresholds = file "thresholds.json"
    member _.ClassificationReport = file "classification_report.txt"
    member _.Predictions = file "predictions.csv"
    /// The reported split's macro AUC, Fmax and AUC per class, which the report page opens with.
    member _.Headline = file "headline.json"
    member _.ReportPage = file "report.html"
    /// The training curves: Loss.html, Accuracy.html, AUC.html.
    member _.Curve(name: string) = file (name + ".html")
    member _.ConfusionMatricesFolder = file "confusion_matrices"
    member this.ConfusionMatrix(className: string) = Path.Combine(this.ConfusionMatricesFolder, className + ".html")
    member _.EvaluationsFolder = file "evaluations"
    /// evaluations/<name>.txt (the name carries split, weights and aggregation; see the evaluation report).
    member this.Evaluation(name: string) = Path.Combine(this.EvaluationsFolder, name + ".txt")
    member _.WeightsFolder = file "weights"
    member this.BestWeights = Path.Combine(this.WeightsFolder, "best.bin")
    member this.EpochWeights(epoch: int) = Path.Combine(this.WeightsFolder, sprintf "epoch_%03d.bin" epoch)
    /// weights/average_FFF-TTT.bin, written by checkpoint averaging.
    member this.AveragedWeights(fromEpoch: int, toEpoch: int) = Path.Combine(this.WeightsFolder, SessionPaths.AveragedWeightsName(fromEpoch, toEpoch))
    member _.ExportFolder = file "export"
    /// export/model_<weights>.<extension>: the session's weights as ONNX or safetensors (ecg export).
    member this.Export(weights: string, extension: string) = Path.Combine(this.ExportFolder, sprintf "model_%s.%s" weights extension)
    member _.StateFolder = file "state"
    member this.State = Path.Combine(this.StateFolder, "state.json")
    member this.OptimizerState(epoch: int) = Path.Combine(this.StateFolder, SessionPaths.OptimizerStateName epoch)
    static member AveragedWeightsName(fromEpoch: int, toEpoch: int) = sprintf "average_%03d-%03d.bin" fromEpoch toEpoch
    static member OptimizerStateName(epoch: int) = sprintf "optimizer_epoch_%03d.bin" epoch

// ---------------------------------------------------------------------------------------------------------------
// The artifacts root
// ---------------------------------------------------------------------------------------------------------------

/// Where every stage reads and writes, under one artifacts root (default ./artifacts, or $ECG_ARTIFACTS):
///
///     processed/ptbxl_<rate>hz.npz                 the dataset (preprocess)
///     training_sessions/session_N/                 one training run (see SessionPaths)
///     feature_space/session_N/                     embeddings, projections, charts of training session N
///     probe_training_sessions/session_M/<target>/  linear probes
///     ensembles/sessions_<a>_<b>_<split>...txt     ensemble reports
///
/// Stages, the report page and the scripts take their paths from here, so the layout changes in one place.
[<Sealed>]
type ArtifactLayout(root: string) =
    let root = Path.GetFullPath root

    /// The environment variable that moves the artifacts root.
    static member EnvironmentVariable = "ECG_ARTIFACTS"

    /// The root from an explicit folder, else $ECG_ARTIFACTS, else ./artifacts.
    static member Resolve(given: string) =
        let chosen =
            if not (String.IsNullOrWhiteSpace given) then given
            else
                match Environment.GetEnvironmentVariable ArtifactLayout.EnvironmentVariable with
                | null | "" -> "artifacts"
                | fromEnvironment -> fromEnvironment
        ArtifactLayout chosen

    member _.Root = root

    // ----- processed data -----
    member _.ProcessedFolder = Path.Combine(root, "processed")
    /// The processed dataset the preprocess stage writes for a sampling rate.
    member this.ProcessedDataset(samplingRate: int) = Path.Combine(this.ProcessedFolder, sprintf "ptbxl_%dhz.npz" samplingRate)

    // ----- training sessions -----
    member _.TrainingSessions = Path.Combine(root, "training_sessions")
    member this.TrainingSessionFolder(number: int) = NumberedFolders.Path(this.TrainingSessions, number)
    member this.TrainingSession(number: int) = SessionPaths(this.TrainingSessionFolder number)
    /// Training session numbers that have a config.json, ascending.
    member this.TrainingSessionNumbers() = NumberedFolders.Existing(this.TrainingSessions, "config.json")
    /// "N" or "latest" (also empty) to a training session number; a UserError listing the sessions otherwise.
    member this.ResolveTrainingSession(choice: string) =
        NumberedFolders.Resolve(this.TrainingSessions, "config.json", choice, "training session")
    /// Claims the next training session folder (see NumberedFolders.Claim).
    member this.ClaimTrainingSession() = NumberedFolders.Claim(this.TrainingSessions, "config.json")

    // ----- feature space -----
    member _.FeatureSpaceRoot = Path.Combine(root, "feature_space")
    /// feature_space/session_N: the analyses of training session N.
    member this.FeatureSpace(trainingSession: int) = NumberedFolders.Path(this.FeatureSpaceRoot, trainingSession)
    /// feature_space/session_N/embeddings_<split>.npz.
    member this.Embeddings(trainingSession: int, split: string) =
        Path.Combine(this.FeatureSpace trainingSession, sprintf "embeddings_%s.npz" split)

    // ----- probe sessions -----
    member _.ProbeSessions = Path.Combine(root, "probe_training_sessions")
    member this.ProbeSession(number: int) = NumberedFolders.Path(this.ProbeSessions, number)
    /// Probe session numbers that have a probe_session.json, ascending.
    member this.ProbeSessionNumbers() = NumberedFolders.Existing(this.ProbeSessions, "probe_session.json")
    member this.ClaimProbeSession() = NumberedFolders.Claim(this.ProbeSessions, "probe_session.json")

    // ----- ensembles -----
    member _.Ensembles = Path.Combine(root, "ensembles")
    /// ensembles/<name>.txt.
    member this.EnsembleReport(name: string) = Path.Combine(this.Ensembles, name + ".txt")
    /// ensembles/<name>.json: the members and weights a chosen ensemble was given, and how.
    member this.EnsembleChoice(name: string) = Path.Combine(this.Ensembles, name + ".json")
