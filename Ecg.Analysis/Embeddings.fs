namespace Ecg.Analysis

open System
open System.IO
open System.Threading
open Ecg.Data
open Ecg.Model

/// Where the embeddings of a run were written.
[<CLIMutable>]
type EmbeddingRunResult = { Set: EmbeddingSet; Path: string }

/// The embedding step: a training session's penultimate-layer embeddings for a split of a dataset
/// (see Ecg.Model.EmbeddingExtractor for how windowed models embed whole records).
[<AbstractClass; Sealed>]
type Embeddings private () =
    /// Splits the stages accept.
    static member SplitNames = [| "train"; "validation"; "test"; "all" |]

    /// artifacts/training_sessions/session_N, opened; a clear error when absent.
    static member OpenSession(artifactsRoot: string, sessionNumber: int) : TrainingSession =
        let folder = Path.Combine(TrainingSession.SessionsRoot artifactsRoot, TrainingSession.FolderPrefix + string sessionNumber)
        if not (Directory.Exists folder) then
            raise (DirectoryNotFoundException(sprintf "Training session %d not found: no folder '%s'." sessionNumber folder))
        TrainingSession.Open folder

    /// artifacts/feature_space/session_N.
    static member FeatureSpaceFolder(artifactsRoot: string, sessionNumber: int) =
        Path.Combine(artifactsRoot, "feature_space", TrainingSession.FolderPrefix + string sessionNumber)

    /// Indices (dataset order) of a split under the session's split scheme.
    static member SplitIndices(session: TrainingSession, dataset: ProcessedDataset, split: string) : int[] =
        let scheme = session.SplitScheme
        match (if isNull split then "" else split.Trim().ToLowerInvariant()) with
        | "train" -> scheme.TrainIndices dataset
        | "validation" -> scheme.ValidationIndices dataset
        | "test" -> scheme.TestIndices dataset
        | "all" -> Array.init dataset.RecordCount id
        | other -> invalidArg "split" (sprintf "Unknown split '%s': use train, validation, test or all." other)

    /// The default split of the analyses: test when the scheme has test records in this dataset, else validation.
    static member DefaultSplit(session: TrainingSession, dataset: ProcessedDataset) =
        if (Embeddings.SplitIndices(session, dataset, "test")).Length > 0 then "test" else "validation"

    static member internal CheckDataset(session: TrainingSession, dataset: ProcessedDataset) =
        let m = session.Manifest
        if dataset.ClassNames <> m.ClassNames then
            invalidArg "dataset" (sprintf "Dataset classes [%s] differ from session '%s' classes [%s]."
                                      (String.Join(",", dataset.ClassNames)) session.Folder (String.Join(",", m.ClassNames)))
        if dataset.Samples <> m.Samples then
            invalidArg "dataset" (sprintf "Dataset records have %d samples; session '%s' was trained on %d." dataset.Samples session.Folder m.Samples)

    /// Embeddings of the records at `indices` (in that order), in memory.
    static member Compute(session: TrainingSession, dataset: ProcessedDataset, indices: int[], split: string, weights: string,
                          device: string, batchDone: Action<int, int>, cancel: CancellationToken) : EmbeddingSet =
        Embeddings.CheckDataset(session, dataset)
        use extractor = EmbeddingExtractor.Load(session, (if String.IsNullOrWhiteSpace weights then "best" else weights), device)
        let values = extractor.EmbedRecords(dataset, indices, batchDone, cancel)
        let classes = dataset.ClassNames.Length
        let labels = Array.zeroCreate<byte> (indices.Length * classes)
        indices |> Array.iteri (fun k i -> Array.blit dataset.Labels (i * classes) labels (k * classes) classes)
        { SessionNumber = session.Number; Weights = extractor.Weights; Split = split
          EcgIds = indices |> Array.map (fun i -> dataset.EcgIds.[i])
          Embeddings = values; Dimension = extractor.Dimension; Labels = labels; ClassNames = dataset.ClassNames }

    /// Embeds a split ("train", "validation", "test" or "all") and writes
    /// artifacts/feature_space/session_N/embeddings_{split}.npz.
    static member Run(artifactsRoot: string, sessionNumber: int, dataset: ProcessedDataset, split: string, weights: string,
                      device: string, batchDone: Action<int, int>) : EmbeddingRunResult =
        let session = Embeddings.OpenSession(artifactsRoot, sessionNumber)
        let split = split.Trim().ToLowerInvariant()
        let indices = Embeddings.SplitIndices(session, dataset, split)
        if indices.Length = 0 then
            invalidArg "split" (sprintf "Split '%s' of scheme '%s' holds no records of this dataset." split session.Manifest.Split)
        let set = Embeddings.Compute(session, dataset, indices, split, weights, device, batchDone, CancellationToken.None)
        let path = Path.Combine(Embeddings.FeatureSpaceFolder(artifactsRoot, sessionNumber), EmbeddingFile.FileName split)
        EmbeddingFile.Write(path, set)
        { Set = set; Path = path }

    /// Run with the best weights, the session's device and no progress.
    static member Run(artifactsRoot: string, sessionNumber: int, dataset: ProcessedDataset, split: string) =
        Embeddings.Run(artifactsRoot, sessionNumber, dataset, split, "best", null, null)
