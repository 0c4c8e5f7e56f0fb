namespace Ecg.Data

open System

/// Where a dataset's signals live: RecordCount records of RecordLength float32 values each, in mV.
/// In memory (one array, `SignalStore.OfArray`) or memory-mapped from a `.npy` file beside the `.npz`
/// (`MappedSignals`, see ProcessedDatasetFile). Offsets are 64-bit, so a mapped store may hold more than
/// the 2^31 values one .NET array can.
[<AbstractClass>]
type SignalStore(recordCount: int, recordLength: int) =
    do if recordCount < 0 || recordLength < 0 then invalidArg "recordCount" "negative record count or length"
    member _.RecordCount = recordCount
    member _.RecordLength = recordLength
    /// Values in all (RecordCount * RecordLength).
    member _.Length = int64 recordCount * int64 recordLength
    /// One record's values, (Samples, Leads) row-major, without copying.
    abstract Record: index: int -> ReadOnlyMemory<float32>
    /// The records at the given indices, in that order: copied when in memory, a view of the file when mapped.
    abstract Subset: indices: int[] -> SignalStore
    /// The `.npy` file the values are mapped from; null when they are held in memory.
    abstract FilePath: string
    default _.FilePath = null
    /// SHA-256 (lower-case hex) of the whole signals array of the file these values were read from, as that file
    /// records it (`signals_sha256`), or null when unknown. A view of a store (a task's records) reports its
    /// source's: with the records' ecg_ids it pins down the values without reading them (EmbeddingStage.Fingerprint).
    abstract RecordedSha256: string
    default _.RecordedSha256 = null
    /// False while deferred signals (SignalStore.Deferred) have not been read yet; true for every other store.
    abstract IsLoaded: bool
    default _.IsLoaded = true
    /// Releases a mapping (no-op in memory). Memory taken from Record must not be used afterwards.
    abstract Dispose: unit -> unit
    default _.Dispose() = ()
    interface IDisposable with
        member s.Dispose() = s.Dispose()

    member internal _.CheckIndex(index: int) =
        if uint index >= uint recordCount then
            raise (ArgumentOutOfRangeException("index", sprintf "record %d of %d" index recordCount))

    /// All values copied into one array (small datasets and tests; fails beyond the .NET array limit).
    member s.ToArray() : float32[] =
        if s.Length > int64 Array.MaxLength then invalidOp (sprintf "%d values do not fit one .NET array" s.Length)
        let values = Array.zeroCreate<float32> (int s.Length)
        for i in 0 .. recordCount - 1 do s.Record(i).Span.CopyTo(Span<float32>(values, i * recordLength, recordLength))
        values

    /// Signals held in one array, (records, RecordLength) row-major.
    static member OfArray(values: float32[], recordLength: int) : SignalStore =
        new ArraySignals(values, recordLength) :> SignalStore

    /// Signals read from a file only when first used (ProcessedDatasetFile.Read with deferSignals): stages that
    /// need only metadata and a saved result never hold them. `load` is called once; its store then serves.
    static member Deferred(recordCount: int, recordLength: int, load: unit -> SignalStore, recordedSha256: string, release: unit -> unit) : SignalStore =
        new DeferredSignals(recordCount, recordLength, load, recordedSha256, release) :> SignalStore

/// Signals held in one float32 array.
and [<Sealed>] internal ArraySignals(values: float32[], recordLength: int, recordedSha256: string) =
    inherit SignalStore((if recordLength = 0 || isNull values then 0 else values.Length / recordLength), recordLength)
    do
        if isNull values then nullArg "values"
        if recordLength > 0 && values.Length % recordLength <> 0 then
            invalidArg "values" (sprintf "%d values are not a whole number of records of %d" values.Length recordLength)
        if recordLength = 0 && values.Length <> 0 then invalidArg "values" "values given for records of length 0"
    new(values, recordLength) = new ArraySignals(values, recordLength, null)
    override _.RecordedSha256 = recordedSha256
    override s.Record(index) =
        s.CheckIndex index
        ReadOnlyMemory<float32>(values, index * recordLength, recordLength)
    override s.Subset(indices) =
        let copy = Array.zeroCreate<float32> (indices.Length * recordLength)
        indices |> Array.iteri (fun k i -> s.Record(i).Span.CopyTo(Span<float32>(copy, k * recordLength, recordLength)))
        new ArraySignals(copy, recordLength) :> SignalStore

/// Some records of another store, by index (a mapped dataset's Subset, a task's view: nothing copied, the
/// file stays shared). Disposing it releases the other store only when it owns it (ProcessedDatasetFile.Read
/// with a task, whose caller never sees the whole dataset); its own Subsets never do.
and [<Sealed>] internal IndexedSignals(source: SignalStore, indices: int[], ownsSource: bool) =
    inherit SignalStore(indices.Length, source.RecordLength)
    do for i in indices do source.CheckIndex i
    new(source, indices) = new IndexedSignals(source, indices, false)
    override s.Record(index) =
        s.CheckIndex index
        source.Record(indices.[index])
    override _.Subset(picked) = new IndexedSignals(source, picked |> Array.map (fun k -> indices.[k])) :> SignalStore
    override _.FilePath = source.FilePath
    override _.RecordedSha256 = source.RecordedSha256
    override _.IsLoaded = source.IsLoaded
    override _.Dispose() = if ownsSource then source.Dispose()

/// See SignalStore.Deferred. Loading is thread-safe; the file handle `release` closes is given up after the load or
/// on Dispose, whichever comes first.
and [<Sealed>] internal DeferredSignals(recordCount: int, recordLength: int, load: unit -> SignalStore, recordedSha256: string, release: unit -> unit) =
    inherit SignalStore(recordCount, recordLength)
    let gate = obj ()
    let mutable released = false
    let releaseOnce () = lock gate (fun () -> if not released then released <- true; release ())
    let loaded =
        Lazy<SignalStore>((fun () ->
            try
                let store = load ()
                if store.RecordCount <> recordCount || store.RecordLength <> recordLength then
                    invalidOp (sprintf "deferred signals: %d x %d loaded, %d x %d announced" store.RecordCount store.RecordLength recordCount recordLength)
                store
            finally releaseOnce ()), Threading.LazyThreadSafetyMode.ExecutionAndPublication)
    override _.IsLoaded = loaded.IsValueCreated
    override _.Record(index) = loaded.Value.Record index
    override _.Subset(indices) = loaded.Value.Subset indices
    override _.RecordedSha256 = recordedSha256
    override _.Dispose() =
        releaseOnce ()
        if loaded.IsValueCreated then loaded.Value.Dispose()

/// The preprocessed PTB-XL dataset: what the processed `.npz` file stores.
/// Arrays are flat and row-major so they move to tensors and NumPy without copies:
/// Signals is (RecordCount, Samples, Leads) in mV, in memory or mapped from a file (see SignalStore);
/// Labels is (RecordCount, ClassNames.Length) multi-hot. Metadata missing in PTB-XL is NaN (numbers) or "" (strings).
/// As preprocessed, a dataset holds every readable record, Labels are the diagnostic superclasses (a row of
/// zeros for a record without one) and Scp every record's SCP codes; ForTask gives the view one of the
/// benchmark's tasks trains and evaluates on (its records, labels and classes).
/// Disposing the dataset releases a mapped signals file (nothing to do in memory). Read's callers may also
/// just drop it: the mapping's SafeHandles are then released by the garbage collector (see MappedSignals).
[<CLIMutable>]
type ProcessedDataset =
    { Signals: SignalStore
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
      Device: string[]
      /// Every record's scp_codes dict and the statement table; null for a file written before they were stored
      /// (or a dataset built without them), where only the superdiagnostic task is available.
      Scp: ScpAnnotations }

    /// Values per record in Signals (Samples * Leads).
    member d.RecordLength = d.Samples * d.Leads

    /// One record's signal, (Samples, Leads) row-major, without copying.
    member d.Signal(index: int) = d.Signals.Record index

    /// One record's multi-hot labels, without copying.
    member d.LabelsOf(index: int) = ReadOnlyMemory<byte>(d.Labels, index * d.ClassNames.Length, d.ClassNames.Length)

    /// A new dataset holding the records at the given indices, in that order. Metadata and in-memory
    /// signals are copied; mapped signals are not: the subset reads the same file (and does not own it).
    member d.Subset(indices: int[]) : ProcessedDataset =
        let classes = d.ClassNames.Length
        let pick (a: 'T[]) = indices |> Array.map (fun i -> a.[i])
        let labels = Array.zeroCreate<byte> (indices.Length * classes)
        indices |> Array.iteri (fun k i -> Array.blit d.Labels (i * classes) labels (k * classes) classes)
        { d with
            Signals = d.Signals.Subset indices; Labels = labels; RecordCount = indices.Length
            EcgIds = pick d.EcgIds; StratFolds = pick d.StratFolds; PatientIds = pick d.PatientIds
            Age = pick d.Age; Sex = pick d.Sex; Height = pick d.Height; Weight = pick d.Weight
            Site = pick d.Site; Device = pick d.Device; Scp = (if isNull d.Scp then null else d.Scp.Subset indices) }

    /// The task's labels over this dataset's records (classes counted over all of them, as the benchmark
    /// counts over the whole database: call it on the whole dataset, then split). A label is kept when more than
    /// minSamples records have it (the benchmark's min_samples, 0 in its experiments). Without Scp only the
    /// superdiagnostic task can be derived (from Labels, which are then the superclasses); other tasks raise
    /// InvalidOperationException saying to preprocess again.
    member d.TaskLabels(task: LabelTask, minSamples: int) : TaskLabels =
        if not (isNull d.Scp) then TaskLabeling.Compute(d.Scp, task, minSamples)
        elif task = LabelTask.Superdiagnostic then TaskLabeling.Select(task, TaskLabeling.LabelSetsOf(d.Labels, d.ClassNames), minSamples)
        else
            raise (InvalidOperationException(
                sprintf "The %s task needs every record's SCP codes, which this dataset does not hold (a file written before they were stored): run `ecg preprocess` again to rebuild it." task.Name))

    /// The dataset one task trains and evaluates on: the records with at least one of the task's labels (in
    /// dataset order), with the task's Labels and ClassNames. Metadata and Scp are copied; signals are not: the
    /// view reads the same store (and, like Subset, does not own it). See TaskLabels for the rules.
    member d.ForTask(task: LabelTask, minSamples: int) : ProcessedDataset = d.ViewOf(d.TaskLabels(task, minSamples), false)

    /// The records, labels and classes of t, signals as a view of this dataset's store (owning it or not).
    member internal d.ViewOf(t: TaskLabels, ownsSignals: bool) : ProcessedDataset =
        let pick (a: 'T[]) = t.Records |> Array.map (fun i -> a.[i])
        { d with
            Signals = new IndexedSignals(d.Signals, t.Records, ownsSignals) :> SignalStore; RecordCount = t.Records.Length
            Labels = t.Labels; ClassNames = t.ClassNames
            EcgIds = pick d.EcgIds; StratFolds = pick d.StratFolds; PatientIds = pick d.PatientIds
            Age = pick d.Age; Sex = pick d.Sex; Height = pick d.Height; Weight = pick d.Weight
            Site = pick d.Site; Device = pick d.Device; Scp = (if isNull d.Scp then null else d.Scp.Subset t.Records) }

    /// ForTask(task, 0): the benchmark's rule (every label that occurs is a class).
    member d.ForTask(task: LabelTask) : ProcessedDataset = d.ForTask(task, 0)

    /// The dataset with only the named leads (matched case-insensitively, in the order given): the benchmark's lead
    /// subsets (lead II alone, any list of leads). Signals are copied into memory (one lead of PTB-XL's 21,799
    /// records at 100 Hz is 87 MB); null, empty, or the dataset's own leads in order return the dataset itself.
    /// A lead the dataset lacks is a UserError that lists the leads it has.
    member d.ForLeads(leads: string[]) : ProcessedDataset =
        if isNull leads || leads.Length = 0 then d
        else
            let positions =
                leads |> Array.map (fun l ->
                    match d.LeadNames |> Array.tryFindIndex (fun n -> String.Equals(n.Trim(), l.Trim(), StringComparison.OrdinalIgnoreCase)) with
                    | Some p -> p
                    | None -> raise (UserError(sprintf "Lead '%s' is not in this dataset; it has %s." l (String.Join(",", d.LeadNames)))))
            if positions = Array.init d.Leads id then d
            else
                let k = positions.Length
                let values = Array.zeroCreate<float32> (d.RecordCount * d.Samples * k)
                for r in 0 .. d.RecordCount - 1 do
                    let source = d.Signal(r).Span
                    let offset = r * d.Samples * k
                    for t in 0 .. d.Samples - 1 do
                        for j in 0 .. k - 1 do
                            values.[offset + t * k + j] <- source.[t * d.Leads + positions.[j]]
                { d with Signals = SignalStore.OfArray(values, d.Samples * k); Leads = k; LeadNames = positions |> Array.map (fun p -> d.LeadNames.[p]) }

    /// True when the dataset holds every record's SCP codes (any task can be derived).
    member d.HasScpCodes = not (isNull d.Scp)

    interface IDisposable with
        member d.Dispose() = if not (isNull (box d.Signals)) then d.Signals.Dispose()

/// Which strat_folds form the training, validation and test sets.
[<CLIMutable>]
type SplitScheme =
    { Name: string; TrainFolds: int[]; ValidationFolds: int[]; TestFolds: int[] }

    /// The PTB-XL benchmark's split: folds 1-8 train, 9 validation, 10 test.
    static member Benchmark = { Name = "benchmark"; TrainFolds = [| 1 .. 8 |]; ValidationFolds = [| 9 |]; TestFolds = [| 10 |] }

    /// The original notebooks' split: folds 1-8 train, 9 and 10 test, no validation set.
    static member Original = { Name = "original"; TrainFolds = [| 1 .. 8 |]; ValidationFolds = [||]; TestFolds = [| 9; 10 |] }

    /// The selection protocol for machines without fold 10: folds 1-7 train, 8 validation (every choice: best epoch,
    /// thresholds, aggregation, ensemble members), 9 test, reported once. Fold 9 then stays a test fold nobody chose on.
    static member Select = { Name = "select"; TrainFolds = [| 1 .. 7 |]; ValidationFolds = [| 8 |]; TestFolds = [| 9 |] }

    /// The select protocol's last step: a recipe chosen under select (its epochs, weights, aggregation, ensemble
    /// weights) trained again on folds 1-8, the training and choosing folds together, with no validation fold, and
    /// tested once on fold 9. Nothing is chosen on fold 9, and the model sees 14% more records than under select.
    static member Refit = { Name = "refit"; TrainFolds = [| 1 .. 8 |]; ValidationFolds = [||]; TestFolds = [| 9 |] }

    static member Parse(name: string) =
        match (if isNull name then "" else name.Trim().ToLowerInvariant()) with
        | "" | "benchmark" -> SplitScheme.Benchmark
        | "original" -> SplitScheme.Original
        | "select" -> SplitScheme.Select
        | "refit" -> SplitScheme.Refit
        | other -> invalidArg "name" (sprintf "Unknown split '%s': use benchmark (1-8/9/10), select (1-7/8/9), refit (1-8/-/9) or original (1-8/9-10)." other)

    /// Indices of the records whose fold is in the given folds, in dataset order.
    member _.IndicesIn(dataset: ProcessedDataset, folds: int[]) =
        let wanted = Collections.Generic.HashSet<int>(folds)
        [| for i in 0 .. dataset.RecordCount - 1 do if wanted.Contains dataset.StratFolds.[i] then yield i |]

    member s.TrainIndices(dataset) = s.IndicesIn(dataset, s.TrainFolds)
    member s.ValidationIndices(dataset) = s.IndicesIn(dataset, s.ValidationFolds)
    member s.TestIndices(dataset) = s.IndicesIn(dataset, s.TestFolds)
