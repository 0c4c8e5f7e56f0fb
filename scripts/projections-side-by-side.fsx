/// t-SNE and UMAP of this toolkit on one saved input, timed, for the side-by-side comparison with scikit-learn and
/// umap-learn (scripts/projections-side-by-side.sh alternates the two). With --write it first saves
/// `ProjectionBenchmark.blobs N 128 5 1` as a float64 .npy that both sides then read.
///
/// Usage (after a Release build):
///   dotnet fsi scripts/projections-side-by-side.fsx --input blobs.npy [--write yes --rows 21388] [--projections tsne,umap]
#load "References.fsx"
#load ".references/Assemblies.fsx"

open System
open System.Diagnostics
open System.IO
open Ecg.Analysis
open Ecg.Data

let input = References.parameter "input" "ECG_INPUT" "blobs.npy"
let write = References.parameter "write" "ECG_WRITE" "no" = "yes"
let rows = References.intParameter "rows" "ECG_ROWS" 21388
let projections = (References.parameter "projections" "ECG_PROJECTIONS" "tsne,umap").Split(',')

if write then
    let data = ProjectionBenchmark.blobs rows 128 5 1
    use stream = File.Create input
    let header = NpyFormat.HeaderBytes("<f8", [| int64 rows; 128L |])
    stream.Write(header, 0, header.Length)
    let bytes = Array.zeroCreate<byte> (8 * 128)
    for row in data do
        Buffer.BlockCopy(row, 0, bytes, 0, bytes.Length)
        stream.Write(bytes, 0, bytes.Length)
    printfn "written: %s (%d x 128, float64)" input rows

let data =
    use stream = File.OpenRead input
    let header = NpyFormat.ReadHeader(stream, input)
    let n, d = int header.Shape.[0], int header.Shape.[1]
    if header.Descr <> "<f8" then failwithf "%s: expected float64 ('<f8'), found '%s'" input header.Descr
    let bytes = Array.zeroCreate<byte> (8 * d)
    Array.init n (fun _ ->
        stream.ReadExactly(bytes, 0, bytes.Length)
        let row = Array.zeroCreate<float> d
        Buffer.BlockCopy(bytes, 0, row, 0, bytes.Length)
        row)

for projection in projections |> Array.filter (fun p -> p.Trim() <> "none") do
    let sw = Stopwatch.StartNew()
    match projection.Trim() with
    | "tsne" -> Tsne.fit TsneOptions.Default data |> ignore
    | "umap" -> Umap.fit UmapOptions.Default data |> ignore
    | other -> failwithf "unknown projection '%s' (tsne, umap)" other
    printfn "ecg %s %d x %d: %.1f s" (projection.Trim()) data.Length data.[0].Length sw.Elapsed.TotalSeconds
