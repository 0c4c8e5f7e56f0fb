namespace Ecg.Analysis

open System

/// How one class lines up with the clusters.
[<CLIMutable>]
type ClassClusterMatch =
    { ClassIndex: int
      /// The cluster whose records most often carry the class (highest fraction of the cluster's
      /// records with the class; ties go to the lower cluster index); -1 when no record has the class.
      BestCluster: int
      /// Fraction of BestCluster's records that carry the class (its purity for the class).
      FractionOfCluster: float
      /// Records of BestCluster that carry the class.
      Count: int
      /// Fraction of all records with the class that fall in BestCluster.
      FractionOfClass: float }

[<CLIMutable>]
type ClusterEvaluationResult =
    { /// Binarised prototype of each cluster, (Clusters, Classes): 1 where at least half of the
      /// cluster's records carry the class.
      Prototypes: byte[][]
      /// Mean multi-hot vector of each cluster before binarising, (Clusters, Classes).
      ClassFractions: float[][]
      ClusterSizes: int[]
      /// Prediction of each record: its cluster's prototype, (N, Classes).
      Predictions: byte[][]
      /// Fraction of records whose prediction equals their label set exactly (scikit-learn `accuracy_score`).
      ExactMatch: float
      /// Mean over classes of |pred and true| / |pred or true|, 0 for a class never predicted nor true
      /// (scikit-learn `jaccard_score(average="macro", zero_division=0)`).
      MacroJaccard: float
      /// Fraction of wrong (record, class) entries (scikit-learn `hamming_loss`).
      HammingLoss: float
      PerClass: ClassClusterMatch[] }

/// Cluster-to-class evaluation: every cluster predicts its prototype label set.
module ClusterEvaluation =
    /// `clusters` holds each record's cluster (0 .. K-1); `labels` the multi-hot label rows (N, Classes).
    let evaluate (clusters: int[]) (labels: byte[][]) : ClusterEvaluationResult =
        if isNull clusters then nullArg "clusters"
        if isNull labels then nullArg "labels"
        let n = clusters.Length
        if n = 0 then invalidArg "clusters" "no records to evaluate"
        if labels.Length <> n then invalidArg "labels" (sprintf "labels has %d rows, clusters has %d records" labels.Length n)
        let classes = labels.[0].Length
        labels |> Array.iteri (fun i r ->
            if r.Length <> classes then invalidArg "labels" (sprintf "labels row %d has %d classes, row 0 has %d" i r.Length classes)
            r |> Array.iteri (fun c v -> if v > 1uy then invalidArg "labels" (sprintf "labels row %d class %d is %d (must be 0 or 1)" i c v)))
        clusters |> Array.iteri (fun i k -> if k < 0 then invalidArg "clusters" (sprintf "record %d has cluster %d (must be >= 0)" i k))
        let k = Array.max clusters + 1
        let sizes = Array.zeroCreate<int> k
        let counts = Array.init k (fun _ -> Array.zeroCreate<int> classes)
        for i in 0 .. n - 1 do
            sizes.[clusters.[i]] <- sizes.[clusters.[i]] + 1
            for c in 0 .. classes - 1 do counts.[clusters.[i]].[c] <- counts.[clusters.[i]].[c] + int labels.[i].[c]
        let fractions = Array.init k (fun j -> Array.init classes (fun c -> if sizes.[j] = 0 then 0.0 else float counts.[j].[c] / float sizes.[j]))
        let prototypes = fractions |> Array.map (Array.map (fun f -> if f >= 0.5 then 1uy else 0uy))
        let predictions = clusters |> Array.map (fun j -> Array.copy prototypes.[j])
        let exact = Seq.zip predictions labels |> Seq.filter (fun (p, t) -> p = t) |> Seq.length
        let wrong = Seq.zip predictions labels |> Seq.sumBy (fun (p, t) -> Array.fold2 (fun s a b -> if a <> b then s + 1 else s) 0 p t)
        let jaccard =
            Array.init classes (fun c ->
                let mutable both = 0
                let mutable either = 0
                for i in 0 .. n - 1 do
                    let p, t = predictions.[i].[c] = 1uy, labels.[i].[c] = 1uy
                    if p && t then both <- both + 1
                    if p || t then either <- either + 1
                if either = 0 then 0.0 else float both / float either)
        let perClass =
            Array.init classes (fun c ->
                let total = counts |> Array.sumBy (fun r -> r.[c])
                if total = 0 then { ClassIndex = c; BestCluster = -1; FractionOfCluster = 0.0; Count = 0; FractionOfClass = 0.0 }
                else
                    let best = Array.init k id |> Array.maxBy (fun j -> fractions.[j].[c], -j)
                    { ClassIndex = c; BestCluster = best; FractionOfCluster = fractions.[best].[c]
                      Count = counts.[best].[c]; FractionOfClass = float counts.[best].[c] / float total })
        { Prototypes = prototypes; ClassFractions = fractions; ClusterSizes = sizes; Predictions = predictions
          ExactMatch = float exact / float n
          MacroJaccard = Array.average jaccard
          HammingLoss = float wrong / float (n * classes)
          PerClass = perClass }

    /// Multi-hot rows from a flat row-major (N, Classes) buffer such as `ProcessedDataset.Labels`.
    let labelRows (flat: byte[]) (classes: int) : byte[][] =
        if isNull flat then nullArg "flat"
        if classes < 1 || flat.Length % classes <> 0 then
            invalidArg "flat" (sprintf "labels buffer of %d values is not a multiple of %d classes" flat.Length classes)
        Array.chunkBySize classes flat
