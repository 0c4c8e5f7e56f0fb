namespace Ecg.Analysis

open System

/// Half-open bins [Edges.[b], Edges.[b+1]) of one metadata field; the last edge may be +infinity.
[<CLIMutable>]
type BucketScheme =
    { Field: string
      Edges: float[] }
    member s.BucketCount = s.Edges.Length - 1
    /// Bucket index of a value, or -1 when it is NaN or outside every bin.
    member s.BucketOf(value: float) =
        if Double.IsNaN value then -1
        else
            let mutable b = -1
            for i in 0 .. s.Edges.Length - 2 do
                if value >= s.Edges.[i] && value < s.Edges.[i + 1] then b <- i
            b
    static member Age = { Field = "age"; Edges = [| 2.0; 25.0; 50.0; 75.0; Double.PositiveInfinity |] }
    static member Height = { Field = "height"; Edges = [| 60.0; 100.0; 133.0; 166.0; Double.PositiveInfinity |] }
    static member Weight = { Field = "weight"; Edges = [| 5.0; 60.0; 120.0; 180.0; Double.PositiveInfinity |] }
    /// Sex coded 0 / 1 (PTB-XL: 0 male, 1 female); matchClusters accepts exactly 0 or 1, anything else is out of range.
    static member Sex = { Field = "sex"; Edges = [| 0.0; 1.0; 2.0 |] }

[<CLIMutable>]
type BucketMatchResult =
    { Field: string
      /// Bucket of each record, -1 when excluded.
      Buckets: int[]
      /// Records with NaN (missing) values.
      Missing: int
      /// Records with a value outside every bin.
      OutOfRange: int
      /// Records used: neither missing nor out of range.
      Included: int
      /// Counts of included records, (Clusters, Buckets).
      Confusion: int[,]
      /// Bucket matched to each cluster by the Hungarian method, -1 for an unmatched cluster.
      BucketOfCluster: int[]
      /// Included records whose cluster is matched with their bucket, divided by Included (0 when none).
      Accuracy: float }

/// Lines clusters up with metadata buckets: a cluster x bucket confusion matrix and the one-to-one
/// matching of clusters to buckets that maximises matched records (linear sum assignment).
module MetadataBuckets =
    let private checkSex (values: float[]) =
        values |> Array.map (fun v -> if Double.IsNaN v || v = 0.0 || v = 1.0 then v else Double.PositiveInfinity)

    /// Matches `clusters` (0 .. K-1 per record) with the buckets of `values` under `scheme`.
    let matchClusters (scheme: BucketScheme) (clusters: int[]) (values: float[]) : BucketMatchResult =
        if isNull clusters then nullArg "clusters"
        if isNull values then nullArg "values"
        if values.Length <> clusters.Length then
            invalidArg "values" (sprintf "%s has %d values, clusters has %d records" scheme.Field values.Length clusters.Length)
        if scheme.Edges.Length < 2 then invalidArg "scheme" (sprintf "%s scheme needs at least 2 edges" scheme.Field)
        clusters |> Array.iteri (fun i k -> if k < 0 then invalidArg "clusters" (sprintf "record %d has cluster %d (must be >= 0)" i k))
        // Sex codes other than exactly 0 or 1 are out of range, not rounded.
        let values = if scheme.Field = "sex" then checkSex values else values
        let buckets = values |> Array.map scheme.BucketOf
        let missing = values |> Array.filter Double.IsNaN |> Array.length
        let excluded = buckets |> Array.filter (fun b -> b < 0) |> Array.length
        let k = if clusters.Length = 0 then 0 else Array.max clusters + 1
        let confusion = Array2D.zeroCreate<int> k scheme.BucketCount
        for i in 0 .. clusters.Length - 1 do
            if buckets.[i] >= 0 then confusion.[clusters.[i], buckets.[i]] <- confusion.[clusters.[i], buckets.[i]] + 1
        let included = clusters.Length - excluded
        let assignment = Hungarian.solve true (Array2D.map float confusion)
        let bucketOfCluster = Array.create k -1
        Array.iter2 (fun r c -> bucketOfCluster.[r] <- c) assignment.Rows assignment.Columns
        { Field = scheme.Field; Buckets = buckets; Missing = missing; OutOfRange = excluded - missing; Included = included
          Confusion = confusion; BucketOfCluster = bucketOfCluster
          Accuracy = if included = 0 then 0.0 else assignment.Total / float included }
