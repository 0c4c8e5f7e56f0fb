namespace Ecg.Analysis

open System

/// The feature-space analyses with a C#-friendly surface (F# code can use the modules directly).
/// Rows are `double[][]`: one embedding per record; see FeatureMatrix for conversions.
[<AbstractClass; Sealed>]
type FeatureSpaceAlgorithms =
    static member KMeans(rows: float[][], options: KMeansOptions) = KMeans.fit options rows
    static member KMeans(rows: float[][], clusters: int, seed: int) = KMeans.fit { KMeansOptions.Default clusters with Seed = seed } rows
    static member Pca(rows: float[][], components: int) = Pca.fit components rows
    static member Tsne(rows: float[][], options: TsneOptions) = Tsne.fit options rows
    static member Tsne(rows: float[][]) = Tsne.fit TsneOptions.Default rows
    static member Umap(rows: float[][], options: UmapOptions) = Umap.fit options rows
    static member Umap(rows: float[][]) = Umap.fit UmapOptions.Default rows
    static member Trustworthiness(original: float[][], embedded: float[][], neighbours: int) =
        Trustworthiness.compute neighbours original embedded
    static member LinearSumAssignment(cost: float[,], maximize: bool) = Hungarian.solve maximize cost
    static member EvaluateClusters(clusters: int[], labels: byte[][]) = ClusterEvaluation.evaluate clusters labels
    static member EvaluateClusters(clusters: int[], flatLabels: byte[], classes: int) =
        ClusterEvaluation.evaluate clusters (ClusterEvaluation.labelRows flatLabels classes)
    static member MatchBuckets(scheme: BucketScheme, clusters: int[], values: float[]) =
        MetadataBuckets.matchClusters scheme clusters values
