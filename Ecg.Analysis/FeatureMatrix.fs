namespace Ecg.Analysis

open System
open System.Runtime.InteropServices
open System.Runtime.Intrinsics
open System.Threading.Tasks

/// Embeddings and other feature matrices are held as rows: `float[][]` (double[][] from C#),
/// one array per record, all of the same length. These helpers convert and check them.
[<AbstractClass; Sealed>]
type FeatureMatrix =
    /// Rows of a rectangular (N, D) array.
    static member OfArray2D(values: float[,]) : float[][] =
        Array.init (Array2D.length1 values) (fun i -> Array.init (Array2D.length2 values) (fun j -> values.[i, j]))

    /// Rows of a flat row-major float32 buffer of shape (rows, columns), e.g. a tensor's data.
    static member OfRowMajor(values: float32[], rows: int, columns: int) : float[][] =
        if isNull values then nullArg "values"
        if rows < 0 || columns < 0 || values.Length <> rows * columns then
            invalidArg "values" (sprintf "row-major buffer has %d values, expected rows %d x columns %d" values.Length rows columns)
        Array.init rows (fun i -> Array.init columns (fun j -> float values.[i * columns + j]))

    /// A rectangular (N, D) array of the rows.
    static member ToArray2D(rows: float[][]) : float[,] =
        let d = if rows.Length = 0 then 0 else rows.[0].Length
        Array2D.init rows.Length d (fun i j -> rows.[i].[j])

    /// Throws a clear error unless `rows` is non-empty, rectangular and finite; returns the column count.
    static member Validate(rows: float[][], name: string) : int =
        if isNull rows then nullArg name
        if rows.Length = 0 then invalidArg name (sprintf "%s has no rows" name)
        let d = if isNull rows.[0] then 0 else rows.[0].Length
        if d = 0 then invalidArg name (sprintf "%s row 0 has no columns" name)
        rows |> Array.iteri (fun i r ->
            if isNull r || r.Length <> d then
                invalidArg name (sprintf "%s row %d has %d columns, row 0 has %d" name i (if isNull r then 0 else r.Length) d)
            for j in 0 .. d - 1 do
                if not (Double.IsFinite r.[j]) then
                    invalidArg name (sprintf "%s row %d column %d is %g (must be finite)" name i j r.[j]))
        d

    /// Lane by lane, the sums of squared differences of two spans of vectors of the same length: two accumulators
    /// (half the dependency chain) added in a fixed order, so the lanes are the same on every machine. The float64
    /// rows' distances and the approximate search's float32 ones both reduce these lanes.
    static member internal SquaredDifferenceLanes<'T>(va: ReadOnlySpan<Vector256<'T>>, vb: ReadOnlySpan<Vector256<'T>>) : Vector256<'T> =
        let mutable acc0 = Vector256<'T>.Zero
        let mutable acc1 = Vector256<'T>.Zero
        let mutable t = 0
        while t + 1 < va.Length do
            let d0 = va.[t] - vb.[t]
            let d1 = va.[t + 1] - vb.[t + 1]
            acc0 <- acc0 + d0 * d0
            acc1 <- acc1 + d1 * d1
            t <- t + 2
        if t < va.Length then
            let d0 = va.[t] - vb.[t]
            acc0 <- acc0 + d0 * d0
        acc0 + acc1

    /// Squared Euclidean distance between two rows of the same length: four-lane vectors of fixed width, then the
    /// lanes and the tail summed in a fixed order, so the value is the same on every machine, with or without SIMD,
    /// at about 5x the speed of one scalar sum (trustworthiness, K-Means and the exact neighbour search spend most of
    /// their time here).
    static member SquaredDistance(a: float[], b: float[]) : float =
        let n = a.Length
        let acc =
            FeatureMatrix.SquaredDifferenceLanes(MemoryMarshal.Cast<float, Vector256<float>>(ReadOnlySpan(a)),
                                                 MemoryMarshal.Cast<float, Vector256<float>>(ReadOnlySpan(b, 0, n)))
        let mutable s = (acc.GetElement 0 + acc.GetElement 1) + (acc.GetElement 2 + acc.GetElement 3)
        for j in n / 4 * 4 .. n - 1 do
            let d = a.[j] - b.[j]
            s <- s + d * d
        s

    /// The full (N, N) matrix of squared Euclidean distances, computed in parallel.
    static member SquaredDistances(rows: float[][]) : float[][] =
        let n = rows.Length
        let result = Array.init n (fun _ -> Array.zeroCreate<float> n)
        Parallel.For(0, n, fun i ->
            let ri = rows.[i]
            let out = result.[i]
            for j in 0 .. n - 1 do
                if j <> i then out.[j] <- FeatureMatrix.SquaredDistance(ri, rows.[j])) |> ignore
        result
