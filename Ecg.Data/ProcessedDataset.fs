namespace Ecg.Data

open System

/// The preprocessed PTB-XL dataset held in memory: what the processed `.npz` file stores.
/// Arrays are flat and row-major so they move to tensors and NumPy without copies:
/// Signals is (RecordCount, Samples, Leads) in mV; Labels is (RecordCount, ClassNames.Length) multi-hot.
/// Metadata missing in PTB-XL is NaN (numbers) or "" (strings).
[<CLIMutable>]
type ProcessedDataset =
    { Signals: float32[]
      RecordCount: int
      Samples: int
      Leads: int
      SamplingRate: float
      LeadNames: string[]
      EcgIds: int[]
      Labels: byte[]
      ClassNames: string[]
      StratFolds: int[]
      PatientIds: float[]
      Age: float[]
      Sex: float[]
      Height: float[]
      Weight: float[]
      Site: float[]
      Device: string[] }

    /// Values per record in Signals (Samples * Leads).
    member d.RecordLength = d.Samples * d.Leads

    /// One record's signal, (Samples, Leads) row-major, without copying.
    member d.Signal(index: int) = ReadOnlyMemory<float32>(d.Signals, index * d.RecordLength, d.RecordLength)

    /// One record's multi-hot labels, without copying.
    member d.LabelsOf(index: int) = ReadOnlyMemory<byte>(d.Labels, index * d.ClassNames.Length, d.ClassNames.Length)

    /// A new dataset holding the records at the given indices, in that order (arrays copied).
    member d.Subset(indices: int[]) : ProcessedDataset =
        let classes = d.ClassNames.Length
        let pick (a: 'T[]) = indices |> Array.map (fun i -> a.[i])
        let signals = Array.zeroCreate<float32> (indices.Length * d.RecordLength)
        let labels = Array.zeroCreate<byte> (indices.Length * classes)
        indices |> Array.iteri (fun k i ->
            Array.blit d.Signals (i * d.RecordLength) signals (k * d.RecordLength) d.RecordLength
            Array.blit d.Labels (i * classes) labels (k * classes) classes)
        { d with
            Signals = signals; Labels = labels; RecordCount = indices.Length
            EcgIds = pick d.EcgIds; StratFolds = pick d.StratFolds; PatientIds = pick d.PatientIds
            Age = pick d.Age; Sex = pick d.Sex; Height = pick d.Height; Weight = pick d.Weight
            Site = pick d.Site; Device = pick d.Device }

/// Which strat_folds form the training, validation and test sets.
[<CLIMutable>]
type SplitScheme =
    { Name: string; TrainFolds: int[]; ValidationFolds: int[]; TestFolds: int[] }

    /// The PTB-XL benchmark's split: folds 1-8 train, 9 validation, 10 test.
    static member Benchmark = { Name = "benchmark"; TrainFolds = [| 1 .. 8 |]; ValidationFolds = [| 9 |]; TestFolds = [| 10 |] }

    /// The original notebooks' split: folds 1-8 train, 9 and 10 test, no validation set.
    static member Original = { Name = "original"; TrainFolds = [| 1 .. 8 |]; ValidationFolds = [||]; TestFolds = [| 9; 10 |] }

    static member Parse(name: string) =
        match (if isNull name then "" else name.Trim().ToLowerInvariant()) with
        | "" | "benchmark" -> SplitScheme.Benchmark
        | "original" -> SplitScheme.Original
        | other -> invalidArg "name" (sprintf "Unknown split '%s': use benchmark (1-8/9/10) or original (1-8/9-10)." other)

    /// Indices of the records whose fold is in the given folds, in dataset order.
    member _.IndicesIn(dataset: ProcessedDataset, folds: int[]) =
        let wanted = Collections.Generic.HashSet<int>(folds)
        [| for i in 0 .. dataset.RecordCount - 1 do if wanted.Contains dataset.StratFolds.[i] then yield i |]

    member s.TrainIndices(dataset) = s.IndicesIn(dataset, s.TrainFolds)
    member s.ValidationIndices(dataset) = s.IndicesIn(dataset, s.ValidationFolds)
    member s.TestIndices(dataset) = s.IndicesIn(dataset, s.TestFolds)
