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

/// What the feature-space stage analyses and how.
[<CLIMutable>]
type FeatureSpaceOptions =
    { /// The records analysed; null picks test when the split scheme has test records, else validation.
      Split: Nullable<DataSplit>
      Weights: WeightsChoice
      /// K-Means clusters for the class analysis; 0 takes the number of the session's classes (5 for superclasses).
      Clusters: int
      /// Seeds K-Means (every run), t-SNE's and UMAP's approximate neighbour search, and UMAP's layout.
      Seed: int
      Tsne: bool
      Umap: bool
      /// Neighbours of t-SNE and UMAP: Automatic (exact below 4,096 rows), Exact or Approximate (NN-descent).
      Neighbours: NeighbourSearch
      /// t-SNE's repulsive forces: Automatic (interpolation from 10,000 rows), BarnesHut or Interpolation.
      TsneGradient: TsneGradient
      /// "auto", "cpu" or "cuda"; null uses the session's.
      Device: string }
    static member Default =
        { Split = Nullable(); Weights = WeightsChoice.Best; Clusters = 0; Seed = 0; Tsne = true; Umap = true
          Neighbours = NeighbourSearch.Automatic; TsneGradient = TsneGradient.Automatic; Device = null }

/// A progress tick: the step now running ("embeddings", "k-means", "pca", "t-sne", "umap", "trustworthiness",
/// "metadata", "charts"),
/// with batch counts during embedding (Done = Total = 0 otherwise).
[<CLIMutable>]
type FeatureSpaceProgress = { Step: string; Done: int; Total: int }

[<CLIMutable>]
type ClusterSummary =
    { Cluster: int
      Size: int
      /// Classes in the cluster's prototype (carried by at least half of its records).
      Prototype: string[]
      /// Fraction of the cluster's records carrying each class, in class order.
      ClassFractions: float[] }

[<CLIMutable>]
type ClassClusterSummary =
    { Class: string
      /// -1 when no record carries the class.
      BestCluster: int
      FractionOfCluster: float
      Count: int
      FractionOfClass: float }

[<CLIMutable>]
type ProjectionSummary =
    { Name: string
      /// sklearn.manifold.trustworthiness of the 2-D layout against the embeddings, NaN when too few records.
      Trustworthiness: float
      TrustworthinessNeighbours: int
      /// PCA: explained variance ratios; t-SNE: KL divergence and perplexity; UMAP: neighbours and initialisation.
      Details: string }

[<CLIMutable>]
type BucketSummary =
    { Field: string
      Buckets: string[]
      /// K-Means clusters fitted for this field (as many as buckets).
      /// K-Means clusters for the class analysis; 0 takes the number of the session's classes (5 for superclasses).
      Clusters: int
      Missing: int
      OutOfRange: int
      Included: int
      /// Included records, (Clusters, Buckets).
      Confusion: int[][]
      /// Bucket matched to each cluster (Hungarian, maximising matched records), -1 unmatched.
      BucketOfCluster: int[]
      /// Matched / included.
      Accuracy: float }

/// Wall-clock seconds one step of a feature-space run took (the steps of FeatureSpaceProgress).
[<CLIMutable>]
type StepTime = { Step: string; Seconds: float }

/// summary.json of a feature-space run.
[<CLIMutable>]
type FeatureSpaceSummary =
    { TrainingSession: int
      Weights: string
      Split: string
      Records: int
      Dimension: int
      Seed: int
      ClassNames: string[]
      Clusters: int
      Inertia: float
      /// True when the embeddings came from a saved file of the same session, weights and records (EmbeddingStage.ComputeOrReuse).
      EmbeddingsReused: bool
      ClusterSummaries: ClusterSummary[]
      /// Each record predicts its cluster's prototype (ClusterEvaluation).
      ExactMatch: float
      MacroJaccard: float
      HammingLoss: float
      PerClass: ClassClusterSummary[]
      Projections: ProjectionSummary[]
      MetadataBuckets: BucketSummary[]
      /// Where the time went, step by step, in the order run.
      Steps: StepTime[]
      ElapsedSeconds: float }

/// What a run wrote.
[<CLIMutable>]
type FeatureSpaceResult =
    { Summary: FeatureSpaceSummary
      Folder: string
      EmbeddingsPath: string
      SummaryJsonPath: string
      SummaryTextPath: string
      ProjectionsCsvPath: string
      ChartsIndexPath: string
      ChartPaths: string[] }

/// The Feature space stage: embeddings -> K-Means + class-cluster evaluation -> PCA / t-SNE / UMAP
/// -> metadata buckets; writes artifacts/feature_space/session_N/ (see docs/feature_space.md).
[<AbstractClass; Sealed>]
type FeatureSpaceStage private () =
    static let invariant (v: float) = if Double.IsNaN v then "" else v.ToString("R", CultureInfo.InvariantCulture)

    static let bucketNames (scheme: BucketScheme) = FeatureSpaceStage.BucketNames scheme

    static let labelSetName (classNames: string[]) (row: byte[]) =
        let names = Array.zip classNames row |> Array.filter (fun (_, v) -> v = 1uy) |> Array.map fst
        if names.Length = 0 then "none" else String.Join("+", names)

    static let csvField (s: string) = if s.IndexOfAny([| ','; '"'; '\n' |]) >= 0 then "\"" + s.Replace("\"", "\"\"") + "\"" else s

    /// The 2-D projections requested, as (name, coordinates, summary); their trustworthiness is estimated in one
    /// pass (the original-space distances, most of its cost, shared).
    static let project (options: FeatureSpaceOptions) (rows: float[][]) (report: string -> unit) =
        let n = rows.Length
        let trustNeighbours = min 5 ((n - 1) / 2)
        let layouts =
            [ report "pca"
              let pca = Pca.fit 2 rows
              yield "pca", pca.Projection,
                    sprintf "explained variance ratio %s" (String.Join(", ", pca.ExplainedVarianceRatio |> Array.map (sprintf "%.4f")))
              if options.Tsne then
                  report "t-sne"
                  // sklearn needs perplexity < N; for a small split use a third of N (at most the default 30).
                  let perplexity = min TsneOptions.Default.Perplexity (max 1.0 (float (n - 1) / 3.0))
                  // Started from the PCA layout above, as t-SNE's init="pca" would compute it again.
                  let tsne = Tsne.fitFromPca { TsneOptions.Default with Perplexity = perplexity; Seed = options.Seed
                                                                        NeighbourSearch = options.Neighbours; Gradient = options.TsneGradient }
                                 pca.Projection rows
                  yield "tsne", tsne.Embedding,
                        sprintf "perplexity %g, %s repulsion, KL divergence %.4f after %d iterations" perplexity
                            (if tsne.Gradient = TsneGradient.Interpolation then "interpolated (FFT)" else "Barnes-Hut")
                            tsne.KlDivergence tsne.Iterations
              if options.Umap then
                  report "umap"
                  let neighbours = min UmapOptions.Default.Neighbours (n - 1)
                  let umap = Umap.fit { UmapOptions.Default with Neighbours = neighbours; Seed = options.Seed; NeighbourSearch = options.Neighbours } rows
                  yield "umap", umap.Embedding, sprintf "%d neighbours, %s initialisation, %d epochs" neighbours umap.Initialisation umap.Epochs ]
        report "trustworthiness"
        let trust =
            if trustNeighbours >= 1 then Trustworthiness.estimateAll trustNeighbours rows (layouts |> List.map (fun (_, l, _) -> l) |> List.toArray)
            else Array.create layouts.Length Double.NaN
        layouts |> List.mapi (fun k (name, layout, details) ->
            name, layout, { Name = name; Trustworthiness = trust.[k]; TrustworthinessNeighbours = trustNeighbours; Details = details })

    /// Readable bucket names: "[2, 25)", ..., ">= 75"; sex "male (0)", "female (1)".
    static member BucketNames(scheme: BucketScheme) : string[] =
        if scheme.Field = "sex" then [| "male (0)"; "female (1)" |]
        else
            Array.init scheme.BucketCount (fun b ->
                let lo, hi = scheme.Edges.[b], scheme.Edges.[b + 1]
                if Double.IsPositiveInfinity hi then sprintf ">= %g" lo else sprintf "[%g, %g)" lo hi)

    static member private WriteText(s: FeatureSpaceSummary) =
        let b = StringBuilder()
        let line (t: string) = b.AppendLine t |> ignore
        line (sprintf "Feature space of training session %d (weights %s), split %s: %d records x %d dimensions (embeddings %s)"
                  s.TrainingSession s.Weights s.Split s.Records s.Dimension (if s.EmbeddingsReused then "reused from the saved file" else "computed and saved"))
        line ""
        line (sprintf "K-Means: %d clusters, seed %d, inertia %.4f" s.Clusters s.Seed s.Inertia)
        for c in s.ClusterSummaries do
            line (sprintf "  cluster %d: %4d records, prototype {%s}, class fractions %s" c.Cluster c.Size (String.Join(", ", c.Prototype))
                      (String.Join(" ", Array.map2 (fun (n: string) f -> sprintf "%s %.2f" n f) s.ClassNames c.ClassFractions)))
        line (sprintf "Each record predicts its cluster's prototype: exact match %.4f, macro Jaccard %.4f, Hamming loss %.4f" s.ExactMatch s.MacroJaccard s.HammingLoss)
        line "Best cluster per class (highest fraction of its records carrying the class):"
        for p in s.PerClass do
            if p.BestCluster < 0 then line (sprintf "  %-6s no record carries it" p.Class)
            else line (sprintf "  %-6s cluster %d: %d records, %.1f%% of the cluster, %.1f%% of the class" p.Class p.BestCluster p.Count (100.0 * p.FractionOfCluster) (100.0 * p.FractionOfClass))
        line ""
        line "Projections (trustworthiness against the embeddings):"
        for p in s.Projections do
            line (sprintf "  %-5s trustworthiness@%d %.4f; %s" p.Name p.TrustworthinessNeighbours p.Trustworthiness p.Details)
        line ""
        line "Metadata buckets (K-Means with as many clusters as buckets, clusters matched to buckets by the Hungarian method):"
        for m in s.MetadataBuckets do
            line (sprintf "  %s: %d included, %d missing, %d out of range; accuracy %.4f" m.Field m.Included m.Missing m.OutOfRange m.Accuracy)
            line (sprintf "    %-10s %s" "cluster" (String.Join(" ", m.Buckets |> Array.map (sprintf "%12s"))))
            m.Confusion |> Array.iteri (fun k row ->
                let matched = if m.BucketOfCluster.[k] >= 0 then "-> " + m.Buckets.[m.BucketOfCluster.[k]] else "unmatched"
                line (sprintf "    %-10d %s   %s" k (String.Join(" ", row |> Array.map (sprintf "%12d"))) matched))
        line ""
        let steps = s.Steps |> Array.map (fun t -> sprintf "%s %.1f s" t.Step t.Seconds)
        line (sprintf "elapsed %.1f s (%s)" s.ElapsedSeconds (String.Join(", ", steps)))
        b.ToString()

    /// Runs the stage for training session `sessionNumber` under `artifactsRoot` on `dataset` (the processed
    /// dataset the session was trained on, or another with the same classes and record length).
    static member Run(layout: ArtifactLayout, session: TrainingSession, dataset: ProcessedDataset, options: FeatureSpaceOptions,
                      progress: Action<FeatureSpaceProgress>, cancel: CancellationToken) : FeatureSpaceResult =
        let clock = Stopwatch.StartNew()
        let notify step finished total = if not (isNull progress) then progress.Invoke { Step = step; Done = finished; Total = total }
        // Each report ends the step running and starts the next.
        let steps = Collections.Generic.List<StepTime>()
        let mutable current = struct ("setup", TimeSpan.Zero)
        let endStep () =
            let struct (name, started) = current
            steps.Add { Step = name; Seconds = (clock.Elapsed - started).TotalSeconds }
        let report step =
            endStep ()
            current <- struct (step, clock.Elapsed)
            notify step 0 0
        if options.Clusters < 0 then raise (UserError(sprintf "--clusters %d: give a positive count (or 0 for the number of classes)." options.Clusters))
        let sessionNumber = session.Number
        let chosen = if options.Split.HasValue then options.Split.Value else DataSplits.DefaultForReport(session.SplitScheme, dataset)
        let split = chosen.Name()
        let indices = EmbeddingStage.Indices(session, dataset, chosen)
        if indices.Length < 3 then
            raise (UserError(sprintf "Split '%s' holds %d records of this dataset; the feature space needs at least 3." split indices.Length))
        let folder = layout.FeatureSpace sessionNumber
        Directory.CreateDirectory folder |> ignore

        // Embeddings
        let batchDone = Action<int, int>(fun d t -> notify "embeddings" d t)
        // Reused when `ecg embed` (or an earlier run) saved the same session's embeddings of the same records.
        let embeddingsPath = layout.Embeddings(sessionNumber, split)
        report "embeddings"
        let struct (set, reused) = EmbeddingStage.ComputeOrReuse(embeddingsPath, session, dataset, indices, split, options.Weights, options.Device, batchDone, cancel)
        notify (if reused then "embeddings reused" else "embeddings computed") 0 0
        let rows = set.Rows()
        let labels = set.LabelRows()
        let n = rows.Length
        let classNames = set.ClassNames

        // Clusters and classes
        cancel.ThrowIfCancellationRequested()
        report "k-means"
        let clusters = min (if options.Clusters = 0 then set.ClassNames.Length else options.Clusters) n
        let kmeans = KMeans.fit { KMeansOptions.Default clusters with Seed = options.Seed } rows
        let evaluation = ClusterEvaluation.evaluate kmeans.Labels labels

        // Projections
        cancel.ThrowIfCancellationRequested()
        let projections = project options rows report

        // Metadata buckets: one seeded K-Means per distinct bucket count.
        cancel.ThrowIfCancellationRequested()
        report "metadata"
        let schemes = [| BucketScheme.Age; BucketScheme.Sex; BucketScheme.Height; BucketScheme.Weight |]
        // Each field's values for the split's records, gathered once (the CSV and the charts read them per record).
        let fieldValues =
            schemes |> Array.map (fun scheme ->
                let source = match scheme.Field with | "age" -> dataset.Age | "sex" -> dataset.Sex | "height" -> dataset.Height | _ -> dataset.Weight
                scheme.Field, indices |> Array.map (fun i -> source.[i]))
            |> dict
        let valuesOf (field: string) = fieldValues.[field]
        let clusteringsByK = Collections.Generic.Dictionary<int, int[]>()
        let clusteringFor k =
            match clusteringsByK.TryGetValue k with
            | true, c -> c
            | _ ->
                let c = (KMeans.fit { KMeansOptions.Default (min k n) with Seed = options.Seed } rows).Labels
                clusteringsByK.[k] <- c
                c
        let buckets =
            schemes |> Array.map (fun scheme ->
                let assigned = clusteringFor scheme.BucketCount
                scheme, assigned, MetadataBuckets.matchClusters scheme assigned (valuesOf scheme.Field))

        let summary =
            { TrainingSession = sessionNumber; Weights = set.Weights; Split = split; Records = n; Dimension = set.Dimension
              Seed = options.Seed; ClassNames = classNames; Clusters = clusters; Inertia = kmeans.Inertia; EmbeddingsReused = reused
              ClusterSummaries =
                  Array.init clusters (fun k ->
                      { Cluster = k; Size = evaluation.ClusterSizes.[k]
                        Prototype = Array.zip classNames evaluation.Prototypes.[k] |> Array.filter (fun (_, v) -> v = 1uy) |> Array.map fst
                        ClassFractions = evaluation.ClassFractions.[k] })
              ExactMatch = evaluation.ExactMatch; MacroJaccard = evaluation.MacroJaccard; HammingLoss = evaluation.HammingLoss
              PerClass =
                  evaluation.PerClass |> Array.map (fun p ->
                      { Class = classNames.[p.ClassIndex]; BestCluster = p.BestCluster; FractionOfCluster = p.FractionOfCluster
                        Count = p.Count; FractionOfClass = p.FractionOfClass })
              Projections = projections |> List.map (fun (_, _, s) -> s) |> List.toArray
              MetadataBuckets =
                  buckets |> Array.map (fun (scheme, _, m) ->
                      { Field = m.Field; Buckets = bucketNames scheme; Clusters = Array2D.length1 m.Confusion
                        Missing = m.Missing; OutOfRange = m.OutOfRange; Included = m.Included
                        Confusion = Array.init (Array2D.length1 m.Confusion) (fun r -> Array.init (Array2D.length2 m.Confusion) (fun c -> m.Confusion.[r, c]))
                        BucketOfCluster = m.BucketOfCluster; Accuracy = m.Accuracy })
              Steps = [||]; ElapsedSeconds = 0.0 }

        // Projections CSV: one row per record.
        let coordinates name = projections |> List.tryFind (fun (p, _, _) -> p = name) |> Option.map (fun (_, layout, _) -> layout)
        let csv = StringBuilder()
        let names = [ "pca"; "tsne"; "umap" ]
        let header =
            [ "ecg_id"; "split" ] @ (names |> List.collect (fun p -> [ p + "_x"; p + "_y" ])) @ [ "cluster"; "labels" ]
            @ (schemes |> Array.toList |> List.map (fun s -> s.Field))
            @ (schemes |> Array.toList |> List.collect (fun s -> [ s.Field + "_bucket"; s.Field + "_cluster" ]))
        csv.AppendLine(String.Join(",", header)) |> ignore
        for i in 0 .. n - 1 do
            let fields =
                [ string set.EcgIds.[i]; split ]
                @ (names |> List.collect (fun p ->
                       match coordinates p with
                       | Some layout -> [ invariant layout.[i].[0]; invariant layout.[i].[1] ]
                       | None -> [ ""; "" ]))
                @ [ string kmeans.Labels.[i]; labelSetName classNames labels.[i] ]
                @ (schemes |> Array.toList |> List.map (fun s -> invariant (valuesOf s.Field).[i]))
                @ (buckets |> Array.toList |> List.collect (fun (scheme, assigned, m) ->
                       [ (if m.Buckets.[i] >= 0 then (bucketNames scheme).[m.Buckets.[i]] else "") ; string assigned.[i] ]))
            csv.AppendLine(String.Join(",", fields |> List.map csvField)) |> ignore
        let csvPath = Path.Combine(folder, "projections.csv")
        AtomicFile.WriteAllText(csvPath, csv.ToString())

        // Charts
        cancel.ThrowIfCancellationRequested()
        report "charts"
        let chartsFolder = Path.Combine(folder, "charts")
        Directory.CreateDirectory chartsFolder |> ignore
        HtmlCharts.EnsurePlotly chartsFolder
        let metadataValues = schemes |> Array.map (fun s -> s.Field, valuesOf s.Field)
        let hover =
            Array.init n (fun i ->
                let meta = metadataValues |> Array.map (fun (f, v) -> sprintf "%s %s" f (if Double.IsNaN v.[i] then "?" else sprintf "%g" v.[i]))
                sprintf "ecg_id %d<br>%s<br>cluster %d<br>%s" set.EcgIds.[i] (labelSetName classNames labels.[i]) kmeans.Labels.[i] (String.Join(", ", meta)))
        let written = Collections.Generic.List<string * string>()
        let page (file: string) (title: string) traces axisName =
            HtmlCharts.WritePage(Path.Combine(chartsFolder, file), title, axisName + " 1", axisName + " 2", traces, false, HtmlCharts.PlotlyFileName)
            written.Add((file, title))
        let groupTraces (layout: float[][]) (groupOf: int -> string) (order: string[]) =
            order |> Array.choose (fun g ->
                let members = [| for i in 0 .. n - 1 do if groupOf i = g then yield i |]
                if members.Length = 0 then None
                else Some (HtmlCharts.Markers(sprintf "%s (%d)" g members.Length,
                                              members |> Array.map (fun i -> layout.[i].[0]), members |> Array.map (fun i -> layout.[i].[1]),
                                              members |> Array.map (fun i -> hover.[i]))))
        for name, layout, _ in projections do
            let title what = sprintf "%s of session %d embeddings (%s, %d records) by %s" (name.ToUpperInvariant()) sessionNumber split n what
            page (sprintf "%s_clusters.html" name) (title "K-Means cluster")
                (groupTraces layout (fun i -> sprintf "cluster %d" kmeans.Labels.[i]) (Array.init clusters (sprintf "cluster %d"))) name
            classNames |> Array.iteri (fun c cls ->
                page (sprintf "%s_class_%s.html" name (HtmlCharts.SafeFileName cls)) (title ("class " + cls))
                    (groupTraces layout (fun i -> if labels.[i].[c] = 1uy then cls else "not " + cls) [| "not " + cls; cls |]) name)
            let combinations = labels |> Array.map (labelSetName classNames)
            let combinationOrder = combinations |> Array.countBy id |> Array.sortBy (fun (g, k) -> -k, g) |> Array.map fst
            page (sprintf "%s_label_sets.html" name) (title "label combination") (groupTraces layout (fun i -> combinations.[i]) combinationOrder) name
            for scheme, _, m in buckets do
                let bucketLabel = bucketNames scheme
                let groupOf i = if m.Buckets.[i] >= 0 then bucketLabel.[m.Buckets.[i]] elif Double.IsNaN (valuesOf scheme.Field).[i] then "missing" else "out of range"
                page (sprintf "%s_%s.html" name scheme.Field) (title (scheme.Field + " bucket"))
                    (groupTraces layout groupOf (Array.append bucketLabel [| "missing"; "out of range" |])) name
        for bucket in summary.MetadataBuckets do
            let file = sprintf "confusion_%s.html" bucket.Field
            let title = sprintf "K-Means (%d clusters) x %s bucket: accuracy %.3f over %d records (%d missing, %d out of range)"
                            bucket.Clusters bucket.Field bucket.Accuracy bucket.Included bucket.Missing bucket.OutOfRange
            HtmlCharts.WritePage(Path.Combine(chartsFolder, file), title, bucket.Field + " bucket", "cluster",
                [ HtmlCharts.CountHeatmap(Array.map (Array.map int64) bucket.Confusion, bucket.Buckets, Array.init bucket.Clusters (sprintf "cluster %d")) ],
                true, HtmlCharts.PlotlyFileName)
            written.Add((file, title))
        let indexPath = Path.Combine(chartsFolder, "index.html")
        HtmlCharts.WriteIndex(indexPath, sprintf "Feature space of training session %d (%s)" sessionNumber split, written)

        endStep ()
        let summary = { summary with Steps = steps.ToArray(); ElapsedSeconds = clock.Elapsed.TotalSeconds }
        let jsonPath = Path.Combine(folder, "summary.json")
        let textPath = Path.Combine(folder, "summary.txt")
        AtomicFile.WriteAllText(jsonPath, JsonSerializer.Serialize(summary, JsonDefaults.Options))
        AtomicFile.WriteAllText(textPath, FeatureSpaceStage.WriteText summary)
        { Summary = summary; Folder = folder; EmbeddingsPath = embeddingsPath; SummaryJsonPath = jsonPath; SummaryTextPath = textPath
          ProjectionsCsvPath = csvPath; ChartsIndexPath = indexPath
          ChartPaths = written |> Seq.map (fun (f, _) -> Path.Combine(chartsFolder, f)) |> Seq.toArray }

    static member Run(layout: ArtifactLayout, session: TrainingSession, dataset: ProcessedDataset, options: FeatureSpaceOptions,
                      progress: Action<FeatureSpaceProgress>) =
        FeatureSpaceStage.Run(layout, session, dataset, options, progress, CancellationToken.None)

    static member Run(layout: ArtifactLayout, session: TrainingSession, dataset: ProcessedDataset) =
        FeatureSpaceStage.Run(layout, session, dataset, FeatureSpaceOptions.Default, null, CancellationToken.None)
