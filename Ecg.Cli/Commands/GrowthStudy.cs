using System.Diagnostics;
using System.Globalization;
using Ecg.Analysis;
using Ecg.Data;
using Ecg.Model;

namespace Ecg.Cli.Commands;

/// <summary>
/// The growth study of `ecg bench --stages growth`: how time and memory grow with the number of records. For one
/// record count N it reads the first N CSV rows of a PTB-XL folder, trains one benchmark-preset epoch of the
/// cross-lead CNN on them (folds 1-8, validation on fold 9), embeds all N records with that model, and runs K-Means,
/// PCA, t-SNE and UMAP on the N embeddings. Several counts run one after another, each in a fresh process, so every
/// peak-memory figure belongs to one count alone.
/// </summary>
public static class GrowthStudy
{
    /// <summary>One measured step: what, for how many records, seconds, a rate, and the step's peak resident memory.</summary>
    public sealed record Step(string What, int Records, double Seconds, string Rate, double PeakMegabytes);

    /// <summary>Measures every count in a child `ecg bench` process (same executable), streaming its lines.</summary>
    public static int RunEach(IReadOnlyList<int> counts, Func<int, string[]> argumentsFor)
    {
        foreach (var count in counts)
        {
            using var child = Process.Start(Avx512Guard.StartInfoForThisProgram(argumentsFor(count)))!;
            child.WaitForExit();
            if (child.ExitCode != 0) return child.ExitCode;
        }
        return ExitCodes.Success;
    }

    /// <summary>
    /// Measures one record count in this process. Projections (t-SNE, UMAP: exact nearest neighbours, quadratic in N)
    /// run only up to <paramref name="projectionLimit"/> points; <paramref name="report"/> gets each step as it ends.
    /// </summary>
    public static IReadOnlyList<Step> Measure(string folder, int records, int projectionLimit, int? threads, Action<Step> report)
    {
        var steps = new List<Step>();
        void Add(Step s) { steps.Add(s); report(s); }

        ResetPeak();
        var clock = Stopwatch.StartNew();
        var preprocessed = Preprocessing.Run(new PreprocessingOptions
            { PtbXlFolder = folder, OutputPath = "", SamplingRate = 100, Folds = Array.Empty<int>(), MaxRecords = records });
        var dataset = preprocessed.Dataset;
        double seconds = clock.Elapsed.TotalSeconds;
        int read = preprocessed.Summary.RecordsRead + preprocessed.Summary.DroppedWithoutSuperclass;
        Add(new Step("preprocess in memory", read, seconds, Rate(read, seconds, "records/s") +
                     $", {dataset.RecordCount:N0} kept, {dataset.Signals.Length * 4 / 1048576.0:F0} MiB of signals", PeakMegabytes()));

        var artifacts = Path.Combine(Path.GetTempPath(), $"ecg-growth-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            ResetPeak();
            var config = TrainingConfig.BenchmarkPreset with { Epochs = 1, Threads = threads };
            clock.Restart();
            var result = Trainer.Start(artifacts, config, dataset, SplitScheme.Benchmark, notes: "ecg bench growth study",
                                       options: new TrainingOptions { WriteReports = false });
            seconds = clock.Elapsed.TotalSeconds;
            var epoch = result.History[0];
            int trainRecords = result.Session.Manifest.TrainRecords, validationRecords = result.Session.Manifest.ValidationRecords;
            Add(new Step("one training epoch (benchmark preset)", trainRecords, seconds,
                         $"{epoch.TrainSamplesPerSecond:F0} samples/s training, {epoch.Seconds:F1} s for the epoch with validation on " +
                         $"{validationRecords:N0} records (session set-up and checkpoint included: {seconds:F1} s)", PeakMegabytes()));

            ResetPeak();
            clock.Restart();
            float[] embeddings;
            int dimension;
            using (var extractor = EmbeddingExtractor.Load(result.Session, "1"))
            {
                embeddings = extractor.EmbedRecords(dataset, Enumerable.Range(0, dataset.RecordCount).ToArray());
                dimension = extractor.Dimension;
            }
            seconds = clock.Elapsed.TotalSeconds;
            Add(new Step("embed all records (7 windows each)", dataset.RecordCount, seconds, Rate(dataset.RecordCount, seconds, "records/s"), PeakMegabytes()));

            var rows = Enumerable.Range(0, dataset.RecordCount)
                .Select(i => Enumerable.Range(0, dimension).Select(j => (double)embeddings[i * dimension + j]).ToArray()).ToArray();
            Time("K-Means (k = 5)", () => KMeans.fit(KMeansOptions.Default(5), rows));
            Time("PCA (2 components)", () => Pca.fit(2, rows));
            if (rows.Length <= projectionLimit)
            {
                Time("t-SNE (Barnes-Hut, exact neighbours)", () => Tsne.fit(TsneOptions.Default, rows));
                Time("UMAP (exact neighbours)", () => Umap.fit(UmapOptions.Default, rows));
            }
            else
                report(new Step($"t-SNE and UMAP skipped: {rows.Length:N0} points > --growth-projection-limit {projectionLimit:N0}", rows.Length, 0, "", 0));

            void Time<T>(string what, Func<T> run)
            {
                ResetPeak();
                var c = Stopwatch.StartNew();
                GC.KeepAlive(run());
                Add(new Step(what, rows.Length, c.Elapsed.TotalSeconds, Rate(rows.Length, c.Elapsed.TotalSeconds, "points/s"), PeakMegabytes()));
            }
        }
        finally
        {
            try { Directory.Delete(artifacts, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return steps;
    }

    private static string Rate(int count, double seconds, string unit) =>
        (count / Math.Max(seconds, 1e-9)).ToString("F0", CultureInfo.InvariantCulture) + " " + unit;

    private static double PeakMegabytes() => TrainingBenchmark.PeakResidentMegabytes();

    /// <summary>Resets this process's peak resident memory (Linux: "5" to /proc/self/clear_refs), so each step gets its own peak.</summary>
    private static void ResetPeak()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
