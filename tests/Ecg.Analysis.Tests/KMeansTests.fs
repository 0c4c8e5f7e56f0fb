module Ecg.Analysis.Tests.KMeansTests

open Expecto
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

[<Tests>]
let tests =
    testList "KMeans" [
        test "well separated blobs: inertia and partition equal scikit-learn's" {
            // sklearn 1.2.1: KMeans(n_clusters=4, n_init=10, random_state=0).fit(blobs(200, 4, 4, 10.0, 1.0, 11))
            // (reference_values.py) gives inertia 756.5289235341929 and labels [0,1,2,3] * 50.
            let data = blobs 200 4 4 10.0 1.0 11UL
            let result = KMeans.fit (KMeansOptions.Default 4) data
            Expect.floatClose { absolute = 0.0; relative = 1e-9 } result.Inertia 756.5289235341929 "inertia"
            Expect.isTrue (samePartition result.Labels (Array.init 200 (fun i -> i % 4))) "same partition as scikit-learn"
            Expect.equal result.Centroids.Length 4 "centroids"
            Expect.isGreaterThanOrEqual result.Iterations 1 "iterations"
        }
        test "overlapping blobs: inertia within 0.5% of scikit-learn's" {
            // sklearn 1.2.1: KMeans(n_clusters=5, n_init=10, random_state=0).fit(blobs(500, 8, 5, 2.0, 1.5, 12)).inertia_
            let reference = 8672.53936256182
            for seed in [ 0; 1; 2 ] do
                let result = KMeans.fit { KMeansOptions.Default 5 with Seed = seed } (blobs 500 8 5 2.0 1.5 12UL)
                Expect.isLessThanOrEqual (abs (result.Inertia - reference) / reference) 0.005 (sprintf "seed %d inertia %g" seed result.Inertia)
        }
        test "inertia is the sum of squared distances to the assigned centroid and labels are nearest centroids" {
            let data = blobs 150 3 3 3.0 1.0 5UL
            let r = KMeans.fit { KMeansOptions.Default 3 with Restarts = 2 } data
            let sum = Array.map2 (fun (row: float[]) l -> FeatureMatrix.SquaredDistance(row, r.Centroids.[l])) data r.Labels |> Array.sum
            Expect.floatClose Accuracy.high r.Inertia sum "inertia"
            data |> Array.iteri (fun i row ->
                let nearest = r.Centroids |> Array.map (fun c -> FeatureMatrix.SquaredDistance(row, c)) |> Array.min
                Expect.floatClose Accuracy.high (FeatureMatrix.SquaredDistance(row, r.Centroids.[r.Labels.[i]])) nearest "nearest")
        }
        test "same seed gives the same result" {
            let data = blobs 100 3 3 2.0 1.0 6UL
            Expect.equal (KMeans.fit (KMeansOptions.Default 3) data).Labels (KMeans.fit (KMeansOptions.Default 3) data).Labels "deterministic"
        }
        test "rejects more clusters than rows and ragged rows" {
            Expect.throwsT<System.ArgumentException> (fun () -> KMeans.fit (KMeansOptions.Default 5) (blobs 3 2 1 1.0 1.0 1UL) |> ignore) "k > N"
            Expect.throwsT<System.ArgumentException> (fun () -> KMeans.fit (KMeansOptions.Default 1) [| [| 1.0; 2.0 |]; [| 1.0 |] |] |> ignore) "ragged"
        }
    ]
