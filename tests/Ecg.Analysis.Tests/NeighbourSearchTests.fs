module Ecg.Analysis.Tests.NeighbourSearchTests

open System.Diagnostics
open Expecto
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

/// 3,000 x 16, eight overlapping blobs: large enough for the random-projection trees to matter.
let data = lazy (blobs 3000 16 8 1.5 1.0 31UL)

let recall (exact: int[][]) (approximate: int[][]) =
    let hits = Array.map2 (fun (e: int[]) (a: int[]) -> (Set.intersect (Set.ofArray e) (Set.ofArray a)).Count) exact approximate
    float (Array.sum hits) / float (exact.Length * exact.[0].Length)

[<Tests>]
let tests =
    testList "Neighbour search" [
        test "squared distances: the scalar sum's value at every length, in any order of arguments" {
            let rng = Lcg(41UL)
            for d in [ 1; 3; 4; 7; 8; 9; 16; 127; 128; 131 ] do
                let a = Array.init d (fun _ -> rng.Gaussian())
                let b = Array.init d (fun _ -> 3.0 * rng.Gaussian())
                let scalar = Array.fold2 (fun s x y -> s + (x - y) * (x - y)) 0.0 a b
                let vectorised = FeatureMatrix.SquaredDistance(a, b)
                Expect.floatClose Accuracy.veryHigh vectorised scalar (sprintf "D = %d" d)
                Expect.equal (FeatureMatrix.SquaredDistance(b, a)) vectorised (sprintf "D = %d: symmetric to the bit" d)
                Expect.equal (FeatureMatrix.SquaredDistance(a, a)) 0.0 (sprintf "D = %d: zero to itself" d)
        }
        test "NN-descent finds at least 98% of the exact 15 nearest neighbours" {
            let x = data.Value
            let exact, exactD = NearestNeighbours.Find(x, 15)
            let sw = Stopwatch.StartNew()
            let approx, approxD = NearestNeighbours.Approximate(x, 15, 0)
            let r = recall exact approx
            printfn "NN-descent 3000x16, k 15: recall %.4f in %.2f s" r sw.Elapsed.TotalSeconds
            Expect.isGreaterThan r 0.98 "recall"
            // Rows are sorted by float64 distance, and those distances are the true ones.
            for i in 0 .. x.Length - 1 do
                Expect.isTrue (approxD.[i] |> Array.pairwise |> Array.forall (fun (a, b) -> a <= b)) "sorted"
                Expect.isFalse (Array.contains i approx.[i]) "the point itself is excluded"
                Expect.floatClose Accuracy.veryHigh approxD.[i].[0] (FeatureMatrix.SquaredDistance(x.[i], x.[approx.[i].[0]])) "distance"
                Expect.isGreaterThanOrEqual approxD.[i].[14] exactD.[i].[14] "no closer than the exact k-th"
        }
        test "NN-descent gives identical neighbours for a seed, whatever the thread scheduling" {
            let x = blobs 1500 8 4 1.5 1.0 32UL
            let a, da = NearestNeighbours.Approximate(x, 10, 7)
            let b, db = NearestNeighbours.Approximate(x, 10, 7)
            Expect.equal a b "indices"
            Expect.equal da db "distances"
        }
        test "NN-descent handles duplicate rows and tiny inputs" {
            let x = Array.init 40 (fun i -> [| float (i % 3); 0.0 |])
            let idx, d = NearestNeighbours.Approximate(x, 5, 0)
            let exactD = snd (NearestNeighbours.Find(x, 5))
            Expect.equal d exactD "distances of the 5 nearest (all duplicates at 0)"
            Expect.isTrue (idx |> Array.forall (fun r -> Array.distinct r = r)) "no repeated neighbour"
        }
        test "Automatic search is exact below 4,096 rows" {
            Expect.isTrue (NearestNeighbours.UsesExactSearch(NeighbourSearch.Automatic, 4095)) "4095"
            Expect.isFalse (NearestNeighbours.UsesExactSearch(NeighbourSearch.Automatic, 4096)) "4096"
            Expect.throwsT<System.ArgumentException> (fun () -> NearestNeighbours.Approximate(data.Value, 3000, 0) |> ignore) "k"
        }
        test "UMAP with approximate neighbours keeps neighbourhoods as well as with exact ones (within 0.01)" {
            let x = blobs 2000 16 8 1.5 1.0 36UL
            let fit search = Umap.fit { UmapOptions.Default with NeighbourSearch = search; Epochs = 100 } x
            let exact = fit NeighbourSearch.Exact
            let approx = fit NeighbourSearch.Approximate
            let te = Trustworthiness.compute 10 x exact.Embedding
            let ta = Trustworthiness.compute 10 x approx.Embedding
            printfn "UMAP 2000x16 trustworthiness: exact neighbours %.4f, NN-descent %.4f" te ta
            Expect.isFalse approx.ExactNeighbours "approximate"
            Expect.isLessThan (abs (te - ta)) 0.01 "trustworthiness"
            Expect.equal (fit NeighbourSearch.Approximate).Embedding approx.Embedding "deterministic for a seed"
        }
        test "t-SNE with approximate neighbours keeps neighbourhoods as well as with exact ones (within 0.01)" {
            let x = blobs 700 16 8 1.5 1.0 33UL
            let fit search = Tsne.fit { TsneOptions.Default with NeighbourSearch = search; Iterations = 400 } x
            let exact = fit NeighbourSearch.Exact
            let approx = fit NeighbourSearch.Approximate
            let te = Trustworthiness.compute 10 x exact.Embedding
            let ta = Trustworthiness.compute 10 x approx.Embedding
            printfn "t-SNE 700x16 trustworthiness: exact neighbours %.4f, NN-descent %.4f" te ta
            Expect.isLessThan (abs (te - ta)) 0.01 "trustworthiness"
            Expect.equal (fit NeighbourSearch.Approximate).Embedding approx.Embedding "deterministic for a seed"
        }
    ]
