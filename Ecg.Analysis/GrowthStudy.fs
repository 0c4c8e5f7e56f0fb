namespace Ecg.Analysis

open System
open System.Collections.Generic
open System.Diagnostics
open System.Globalization
open System.IO
open Ecg.Data
open Ecg.Model

/// One measured step of the growth study: what, for how many records, seconds, a rate, and the step's peak resident memory.
[<CLIMutable>]
type GrowthStep = { What: string; Records: int; Seconds: float; Rate: string; PeakMegabytes: float }

/// The growth study of `ecg bench --stages growth`: how time and memory grow with the number of records. For one
/// record count N it reads the first N CSV rows of a PTB-XL folder, trains one benchmark-preset epoch of the
/// cross-lead CNN on them (folds 1-8, validation on fold 9), embeds all N records with that model, and runs K-Means,
/// PCA, t-SNE and UMAP on the N embeddings. Several counts run one after another, each in a fresh process, so every
/// peak-memory figure belongs to one count alone.
[<AbstractClass; Sealed>]
type GrowthStudy private () =

    static let rate (count: int) (seconds: float) (unit: string) =
        (float count / max seconds 1e-9).ToString("F0", CultureInfo.InvariantCulture) + " " + unit

    static let peakMegabytes () = TrainingBenchmark.PeakResidentMegabytes()

    static let resetPeak () = TrainingBenchmark.ResetPeakResidentMemory()

    /// Measures every count in a child process of this same program (`argumentsFor` gives its command line), streaming
    /// its output; returns the first non-zero exit code, or 0.
    static member RunEach(counts: IReadOnlyList<int>, argumentsFor: Func<int, string[]>) : int =
        let mutable code = 0
        for count in counts do
            if code = 0 then
                use child = Process.Start(Avx512Guard.StartInfoForThisProgram(argumentsFor.Invoke count))
                child.WaitForExit()
                code <- child.ExitCode
        code

    /// Measures one record count in this process. Projections run only up to `projectionLimit` points; `report` gets
    /// each step as it ends.
    static member Measure(folder: string, records: int, projectionLimit: int, threads: Nullable<int>, report: Action<GrowthStep>) : IReadOnlyList<GrowthStep> =
        let steps = List<GrowthStep>()
        let add (s: GrowthStep) =
            steps.Add s
            report.Invoke s
        resetPeak ()
        let clock = Stopwatch.StartNew()
        let preprocessed =
            Preprocessing.Run { PreprocessingOptions.Create(folder, "") with MaxRecords = records }
        // Every readable record is read; the superdiagnostic task's records train and are embedded (as `ecg train` would).
        let dataset = TrainingData.For(preprocessed.Dataset, TrainingConfig.BenchmarkPreset)
        let seconds = clock.Elapsed.TotalSeconds
        let read = preprocessed.Summary.RecordsRead
        add { What = "preprocess in memory"; Records = read; Seconds = seconds
              Rate = rate read seconds "records/s" + sprintf ", %s kept, %.0f MiB of signals" (dataset.RecordCount.ToString("N0", CultureInfo.InvariantCulture)) (float dataset.Signals.Length * 4.0 / 1048576.0)
              PeakMegabytes = peakMegabytes () }

        let artifacts = Path.Combine(Path.GetTempPath(), sprintf "ecg-growth-%d-%s" Environment.ProcessId (Guid.NewGuid().ToString "N"))
        try
            resetPeak ()
            let config = TrainingConfig.BenchmarkPreset.With(1, threads)
            clock.Restart()
            let result = Trainer.Start(artifacts, config, dataset, SplitScheme.Benchmark, notes = "ecg bench growth study",
                                       options = TrainingOptions(WriteReports = false))
            let seconds = clock.Elapsed.TotalSeconds
            let epoch = result.History.[0]
            let m = result.Session.Manifest
            add { What = "one training epoch (benchmark preset)"; Records = m.TrainRecords; Seconds = seconds
                  Rate = sprintf "%.0f samples/s training, %.1f s for the epoch with validation on %s records (session set-up and checkpoint included: %.1f s)"
                             epoch.TrainSamplesPerSecond epoch.Seconds (m.ValidationRecords.ToString("N0", CultureInfo.InvariantCulture)) seconds
                  PeakMegabytes = peakMegabytes () }

            resetPeak ()
            clock.Restart()
            let embeddings, dimension =
                use extractor = EmbeddingExtractor.Load(result.Session, WeightsChoice.OfEpoch 1)
                extractor.EmbedRecords(dataset, Array.init dataset.RecordCount id), extractor.Dimension
            let seconds = clock.Elapsed.TotalSeconds
            add { What = "embed all records (7 windows each)"; Records = dataset.RecordCount; Seconds = seconds
                  Rate = rate dataset.RecordCount seconds "records/s"; PeakMegabytes = peakMegabytes () }

            let rows = Array.init dataset.RecordCount (fun i -> Array.init dimension (fun j -> float embeddings.[i * dimension + j]))
            let time what (run: unit -> obj) =
                resetPeak ()
                let c = Stopwatch.StartNew()
                GC.KeepAlive(run ())
                add { What = what; Records = rows.Length; Seconds = c.Elapsed.TotalSeconds
                      Rate = rate rows.Length c.Elapsed.TotalSeconds "points/s"; PeakMegabytes = peakMegabytes () }
            time "K-Means (k = 5)" (fun () -> box (KMeans.fit (KMeansOptions.Default 5) rows))
            time "PCA (2 components)" (fun () -> box (Pca.fit 2 rows))
            if rows.Length <= projectionLimit then
                time "t-SNE (Barnes-Hut)" (fun () -> box (Tsne.fit TsneOptions.Default rows))
                time "UMAP" (fun () -> box (Umap.fit UmapOptions.Default rows))
            else
                report.Invoke { What = sprintf "t-SNE and UMAP skipped: %s points > --growth-projection-limit %s" (rows.Length.ToString("N0", CultureInfo.InvariantCulture)) (projectionLimit.ToString("N0", CultureInfo.InvariantCulture))
                                Records = rows.Length; Seconds = 0.0; Rate = ""; PeakMegabytes = 0.0 }
        finally
            try Directory.Delete(artifacts, true)
            with
            | :? IOException -> ()
            | :? UnauthorizedAccessException -> ()
        steps :> IReadOnlyList<GrowthStep>
