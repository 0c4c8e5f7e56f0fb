/// Where t-SNE's time goes on `ProjectionBenchmark.blobs N 128 5 1`: the approximate neighbour search
/// (k = 3 * perplexity + 1 = 91), the perplexity search, and the whole fit with each repulsion method.
///
/// Usage (after a Release build):
///   dotnet fsi scripts/tsne-profile.fsx [--rows N] [--fit barneshut,interpolation|none] [--search-alone yes|no]
///
///   --rows          points (ECG_ROWS; 21388)
///   --fit           whole fits to time, in order (ECG_FIT; none)
///   --search-alone  also time the neighbour search and the perplexity search on their own (ECG_SEARCH_ALONE; yes)
#load "References.fsx"
#load ".references/Assemblies.fsx"

open System
open System.Diagnostics
open Ecg.Analysis

let rows = References.intParameter "rows" "ECG_ROWS" 21388
let fits = References.parameter "fit" "ECG_FIT" "none"
let data = ProjectionBenchmark.blobs rows 128 5 1
let time name f =
    let sw = Stopwatch.StartNew()
    let r = f ()
    printfn "%-40s %8.1f s" name sw.Elapsed.TotalSeconds
    r
if References.parameter "search-alone" "ECG_SEARCH_ALONE" "yes" = "yes" then
    let _, distances = time (sprintf "neighbours (NN-descent, k = 91) %d x 128" rows) (fun () -> NearestNeighbours.Approximate(data, 91, 0))
    time "perplexity search (P | i)" (fun () -> Tsne.conditionalProbabilities 30.0 distances) |> ignore
for fit in fits.Split(',', StringSplitOptions.RemoveEmptyEntries) do
    if fit <> "none" then
        let gradient = Enum.Parse<TsneGradient>(fit, true)
        let r = time (sprintf "t-SNE fit (%A)" gradient) (fun () -> Tsne.fit { TsneOptions.Default with Gradient = gradient } data)
        printfn "  affinities %.1f s, optimisation %.1f s, KL %.4f, %d iterations, trustworthiness %.4f"
            r.AffinitySeconds r.OptimisationSeconds r.KlDivergence r.Iterations (Trustworthiness.estimate 10 data r.Embedding)
