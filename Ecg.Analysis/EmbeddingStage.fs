namespace Ecg.Analysis

open System
open System.IO
open System.Runtime.InteropServices
open System.Security.Cryptography
open System.Threading
open Ecg.Data
open Ecg.Model

/// Where the embeddings of a run were written.
[<CLIMutable>]
type EmbeddingRunResult = { Set: EmbeddingSet; Path: string }

/// The Embed stage: a training session's penultimate-layer embeddings for a split of a dataset (see
/// Ecg.Model.EmbeddingExtractor for how windowed models embed whole records), saved where the layout says.
[<AbstractClass; Sealed>]
type EmbeddingStage private () =

    /// Embeddings of the records at `indices` (in that order), in memory; `split` names them in the set.
    static member Compute(session: TrainingSession, dataset: ProcessedDataset, indices: int[], split: string, weights: WeightsChoice,
                          device: string, batchDone: Action<int, int>, cancel: CancellationToken) : EmbeddingSet =
        EmbeddingStage.Compute(session, dataset, indices, split, weights, device, batchDone, cancel, Export.InferenceEngine.Torch, false)

    /// Compute on either engine: TorchSharp, or ONNX Runtime on the session's exported graph (exported when missing);
    /// `wholeRecord`: one pass over each whole record instead of the mean over the evaluation windows.
    static member Compute(session: TrainingSession, dataset: ProcessedDataset, indices: int[], split: string, weights: WeightsChoice,
                          device: string, batchDone: Action<int, int>, cancel: CancellationToken, engine: Export.InferenceEngine,
                          wholeRecord: bool) : EmbeddingSet =
        EmbeddingStage.Embed(session, dataset, indices, split, weights, device, batchDone, cancel, engine, wholeRecord,
                             EmbeddingStage.Fingerprint(session, dataset, indices, weights, wholeRecord))

    /// The embeddings, recorded with a fingerprint the caller has already computed (hashing every signal costs a pass).
    static member private Embed(session: TrainingSession, dataset: ProcessedDataset, indices: int[], split: string, weights: WeightsChoice,
                                device: string, batchDone: Action<int, int>, cancel: CancellationToken, engine: Export.InferenceEngine,
                                wholeRecord: bool, fingerprint: string) : EmbeddingSet =
        SessionCompatibility.Require(session, dataset)
        let values, dimension =
            match engine with
            | Export.InferenceEngine.OnnxInt8 ->
                // Saved embeddings are reused by fingerprint (session, weights, records): they must be the float network's.
                raise (UserError "--engine onnx-int8 scores records (evaluate, predict); embeddings come from the float network: use --engine torch or onnx.")
            | Export.InferenceEngine.Onnx ->
                use onnx = Export.ModelExport.LoadOnnx(session, weights, (if wholeRecord then Nullable WindowAggregation.Whole else Nullable()))
                onnx.EmbedRecords(dataset, indices, Nullable(), batchDone, cancel), onnx.Dimension
            | _ ->
                use extractor = EmbeddingExtractor.Load(session, weights, device)
                extractor.EmbedRecords(dataset, indices, batchDone, cancel, wholeRecord), extractor.Dimension
        let classes = dataset.ClassNames.Length
        let labels = Array.zeroCreate<byte> (indices.Length * classes)
        indices |> Array.iteri (fun k i -> Array.blit dataset.Labels (i * classes) labels (k * classes) classes)
        { SessionNumber = session.Number; Weights = string weights; Split = split
          EcgIds = indices |> Array.map (fun i -> dataset.EcgIds.[i])
          Embeddings = values; Dimension = dimension; Labels = labels; ClassNames = dataset.ClassNames
          Fingerprint = fingerprint
          Pass = if wholeRecord || not (EmbeddingExtractor.Windowed session) then "whole" else "windows" }

    /// What embeddings depend on, as one SHA-256: the session folder, the weights file's bytes, and the records
    /// (their ecg_ids, labels and signal values, in order). Equal fingerprints mean the same numbers would come out.
    /// When the dataset file recorded its signals' SHA-256 (SignalStore.RecordedSha256), that hash with the
    /// records' ecg_ids stands for their values, and no signal is read; otherwise every value is hashed.
    static member Fingerprint(session: TrainingSession, dataset: ProcessedDataset, indices: int[], weights: WeightsChoice) : string =
        EmbeddingStage.Fingerprint(session, dataset, indices, weights, false)

    /// Fingerprint; a whole-record pass of a windowed session is marked, so it is never taken for the windows' mean.
    static member Fingerprint(session: TrainingSession, dataset: ProcessedDataset, indices: int[], weights: WeightsChoice, wholeRecord: bool) : string =
        use hash = IncrementalHash.CreateHash HashAlgorithmName.SHA256
        hash.AppendData(Text.Encoding.UTF8.GetBytes(session.Folder + "\n" + string weights + "\n" + TrainingSession.Sha256(session.WeightsPath weights) + "\n"))
        if wholeRecord && EmbeddingExtractor.Windowed session then hash.AppendData(Text.Encoding.UTF8.GetBytes "pass whole\n")
        let recorded = dataset.Signals.RecordedSha256
        if not (isNull recorded) then hash.AppendData(Text.Encoding.UTF8.GetBytes("signals_sha256 " + recorded + "\n"))
        for i in indices do
            hash.AppendData(BitConverter.GetBytes dataset.EcgIds.[i])
            hash.AppendData(dataset.LabelsOf(i).Span)
            if isNull recorded then hash.AppendData(MemoryMarshal.AsBytes(dataset.Signal(i).Span))
        Convert.ToHexStringLower(hash.GetHashAndReset())

    /// The embeddings of `indices` saved at `path` when that file was computed from exactly these weights and records
    /// (its fields and fingerprint match), else computed now and saved there. The flag says whether the file was reused.
    static member ComputeOrReuse(path: string, session: TrainingSession, dataset: ProcessedDataset, indices: int[], split: string, weights: WeightsChoice,
                                 device: string, batchDone: Action<int, int>, cancel: CancellationToken) : struct (EmbeddingSet * bool) =
        let saved =
            if not (File.Exists path) then None
            else
                try Some(EmbeddingFile.Read path)
                with :? InvalidDataException | :? IOException -> None   // damaged: computed again and replaced
        let fingerprint = EmbeddingStage.Fingerprint(session, dataset, indices, weights)
        match saved with
        | Some set when set.SessionNumber = session.Number && set.Split = split && set.Weights = string weights
                        && set.ClassNames = dataset.ClassNames && set.Fingerprint = fingerprint -> struct (set, true)
        | _ ->
            let set = EmbeddingStage.Embed(session, dataset, indices, split, weights, device, batchDone, cancel, Export.InferenceEngine.Torch, false, fingerprint)
            EmbeddingFile.Write(path, set)
            struct (set, false)

    /// Records of a split under the session's scheme; a UserError when it holds none.
    static member internal Indices(session: TrainingSession, dataset: ProcessedDataset, split: DataSplit) =
        let indices = session.SplitScheme.IndicesOf(dataset, split)
        if indices.Length = 0 then
            raise (UserError(sprintf "The %s split of scheme '%s' holds no records of this dataset (folds %s)."
                                 (split.Name()) session.Manifest.Split (String.Join(",", session.SplitScheme.FoldsOf split))))
        indices

    /// Embeds a split (null: test when the dataset has test records, else validation) and writes
    /// feature_space/session_N/embeddings_<split>.npz, or, for a whole-record pass of a windowed session,
    /// embeddings_<split>_whole.npz (the feature space and probes, which use the windows, then never overwrite it).
    static member Run(layout: ArtifactLayout, session: TrainingSession, dataset: ProcessedDataset, split: Nullable<DataSplit>, weights: WeightsChoice,
                      device: string, batchDone: Action<int, int>, cancel: CancellationToken, engine: Export.InferenceEngine, wholeRecord: bool) : EmbeddingRunResult =
        let split = if split.HasValue then split.Value else DataSplits.DefaultForReport(session.SplitScheme, dataset)
        let indices = EmbeddingStage.Indices(session, dataset, split)
        let set = EmbeddingStage.Compute(session, dataset, indices, split.Name(), weights, device, batchDone, cancel, engine, wholeRecord)
        let name = if wholeRecord && EmbeddingExtractor.Windowed session then split.Name() + "_whole" else split.Name()
        let path = layout.Embeddings(session.Number, name)
        EmbeddingFile.Write(path, set)
        { Set = set; Path = path }

    /// Run with the best weights, the session's device, its windows and no progress.
    static member Run(layout: ArtifactLayout, session: TrainingSession, dataset: ProcessedDataset, split: DataSplit) =
        EmbeddingStage.Run(layout, session, dataset, Nullable split, WeightsChoice.Best, null, null, CancellationToken.None, Export.InferenceEngine.Torch, false)
