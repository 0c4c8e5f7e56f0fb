namespace Ecg.Analysis

open System
open MathNet.Numerics.LinearAlgebra

/// A fitted principal component analysis, as scikit-learn's `PCA(svd_solver="full")` reports it.
[<CLIMutable>]
type PcaResult =
    { /// Principal axes, (Components, D), in order of decreasing variance.
      Components: float[][]
      /// Column means subtracted before projecting.
      Mean: float[]
      /// Variance along each component (singular value^2 / (N - 1)).
      ExplainedVariance: float[]
      /// Fraction of the total variance along each component.
      ExplainedVarianceRatio: float[]
      SingularValues: float[]
      /// The fitted rows projected on the components, (N, Components).
      Projection: float[][] }

    /// Projects new rows on the fitted components.
    member p.Transform(rows: float[][]) : float[][] =
        let d = FeatureMatrix.Validate(rows, "rows")
        if d <> p.Mean.Length then invalidArg "rows" (sprintf "rows have %d columns, the PCA was fitted on %d" d p.Mean.Length)
        rows |> Array.map (fun r ->
            p.Components |> Array.map (fun c ->
                let mutable s = 0.0
                for j in 0 .. d - 1 do s <- s + (r.[j] - p.Mean.[j]) * c.[j]
                s))

/// PCA through the SVD of the centred data. Signs follow scikit-learn's `svd_flip` (decision
/// on U: the largest-magnitude entry of each column of U is made positive), so projections
/// equal scikit-learn's `PCA(n_components, svd_solver="full").fit_transform` to rounding.
module Pca =
    /// Fits `components` principal components on the rows (N, D).
    let fit (components: int) (rows: float[][]) : PcaResult =
        let d = FeatureMatrix.Validate(rows, "rows")
        let n = rows.Length
        let rank = min n d
        if components < 1 || components > rank then
            invalidArg "components" (sprintf "components = %d must be between 1 and min(N, D) = %d" components rank)
        let mean = Array.init d (fun j -> (rows |> Array.sumBy (fun r -> r.[j])) / float n)
        let x = Matrix<float>.Build.Dense(n, d, fun i j -> rows.[i].[j] - mean.[j])
        // Thin SVD X = U S V^T. For tall X go through a thin QR (X = Q R, R = Ur S V^T) so U is (N, D),
        // not the (N, N) a full SVD of X would build.
        let u, s, vt =
            if n > d then
                let qr = x.QR(Factorization.QRMethod.Thin)
                let svd = qr.R.Svd(true)
                qr.Q * svd.U, svd.S, svd.VT
            else
                let svd = x.Svd(true)
                svd.U.SubMatrix(0, n, 0, rank), svd.S, svd.VT.SubMatrix(0, rank, 0, d)
        let u = u.Clone()
        let vt = vt.Clone()
        for c in 0 .. rank - 1 do
            let mutable best = 0
            for i in 1 .. n - 1 do
                if abs u.[i, c] > abs u.[best, c] then best <- i
            if u.[best, c] < 0.0 then
                u.SetColumn(c, -u.Column(c))
                vt.SetRow(c, -vt.Row(c))
        let variance = Array.init rank (fun c -> s.[c] * s.[c] / float (max 1 (n - 1)))
        let total = Array.sum variance
        { Components = Array.init components (fun c -> vt.Row(c).ToArray())
          Mean = mean
          ExplainedVariance = variance.[.. components - 1]
          ExplainedVarianceRatio = variance.[.. components - 1] |> Array.map (fun v -> if total > 0.0 then v / total else 0.0)
          SingularValues = Array.init components (fun c -> s.[c])
          Projection = Array.init n (fun i -> Array.init components (fun c -> u.[i, c] * s.[c])) }
