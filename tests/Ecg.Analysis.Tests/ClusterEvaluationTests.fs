module Ecg.Analysis.Tests.ClusterEvaluationTests

open System
open Expecto
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

/// 60 records, 4 clusters, 5 classes drawn from Lcg(18) as in reference_values.py.
let fixture () =
    let rng = Lcg(18UL)
    let clusters = Array.init 60 (fun _ -> int (rng.Uniform() * 4.0))
    let labels =
        Array.init 60 (fun i -> Array.init 5 (fun c -> if rng.Uniform() < 0.15 + 0.2 * float ((c + clusters.[i]) % 3) then 1uy else 0uy))
    clusters, labels

[<Tests>]
let tests =
    testList "ClusterEvaluation" [
        test "prototypes and scores equal scikit-learn's metrics" {
            // numpy prototypes (cluster mean >= 0.5); sklearn 1.2.1 accuracy_score, jaccard_score(average="macro",
            // zero_division=0), hamming_loss on the prototype predictions (reference_values.py).
            let clusters, labels = fixture ()
            let r = ClusterEvaluation.evaluate clusters labels
            Expect.equal r.Prototypes [| [| 0uy; 0uy; 1uy; 0uy; 0uy |]; [| 0uy; 1uy; 0uy; 0uy; 1uy |]; [| 1uy; 0uy; 0uy; 1uy; 0uy |]; [| 0uy; 0uy; 1uy; 0uy; 0uy |] |] "prototypes"
            Expect.floatClose Accuracy.veryHigh r.ExactMatch 0.23333333333333334 "exact match"
            Expect.floatClose Accuracy.veryHigh r.MacroJaccard 0.4362305236270753 "macro Jaccard"
            Expect.floatClose Accuracy.veryHigh r.HammingLoss 0.26666666666666666 "Hamming loss"
        }
        test "per-class best cluster is the cluster with the highest class fraction" {
            let clusters, labels = fixture ()
            let r = ClusterEvaluation.evaluate clusters labels
            for m in r.PerClass do
                let best = r.ClassFractions |> Array.map (fun f -> f.[m.ClassIndex]) |> Array.max
                Expect.floatClose Accuracy.veryHigh m.FractionOfCluster best "best fraction"
                Expect.equal m.Count (Array.zip clusters labels |> Array.filter (fun (k, l) -> k = m.BestCluster && l.[m.ClassIndex] = 1uy) |> Array.length) "count"
        }
        test "flat labels as in ProcessedDataset give the same result" {
            let clusters, labels = fixture ()
            let a = FeatureSpaceAlgorithms.EvaluateClusters(clusters, Array.concat labels, 5)
            Expect.equal a.Predictions (ClusterEvaluation.evaluate clusters labels).Predictions "same"
        }
        test "metadata buckets: confusion matrix and Hungarian accuracy equal numpy/scipy's" {
            // numpy.digitize on [2, 25, 50, 75, inf), NaN and < 2 excluded; scipy 1.10.1
            // linear_sum_assignment(confusion, maximize=True): accuracy 0.2571428571428571, columns [0, 2, 3, 1].
            let rng = Lcg(19UL)
            let clusters = Array.init 80 (fun _ -> int (rng.Uniform() * 5.0))
            let ages =
                Array.init 80 (fun _ ->
                    let u = rng.Uniform()
                    if u < 0.1 then nan elif u < 0.15 then 1.0 else 2.0 + 95.0 * rng.Uniform())
            let r = MetadataBuckets.matchClusters BucketScheme.Age clusters ages
            Expect.equal (r.Included, r.Missing, r.OutOfRange) (70, 9, 1) "counts"
            Expect.equal r.Confusion (array2D [ [ 6; 2; 3; 3 ]; [ 6; 4; 3; 3 ]; [ 1; 3; 3; 3 ]; [ 5; 3; 3; 3 ]; [ 4; 6; 3; 3 ] ]) "confusion"
            Expect.floatClose Accuracy.veryHigh r.Accuracy 0.2571428571428571 "accuracy"
            Expect.equal (r.BucketOfCluster |> Array.filter (fun b -> b >= 0)) [| 0; 2; 3; 1 |] "matching"
        }
        test "sex buckets keep exactly 0 and 1; boundaries are half-open" {
            let r = MetadataBuckets.matchClusters BucketScheme.Sex [| 0; 0; 1; 1; 1 |] [| 0.0; 1.0; 1.0; 0.5; nan |]
            Expect.equal r.Buckets [| 0; 1; 1; -1; -1 |] "buckets"
            Expect.equal (BucketScheme.Height.BucketOf 100.0, BucketScheme.Weight.BucketOf 4.99, BucketScheme.Age.BucketOf 1e6) (1, -1, 3) "edges"
        }
        test "mismatched lengths name the field" {
            let ex = Expect.throwsC (fun () -> MetadataBuckets.matchClusters BucketScheme.Weight [| 0 |] [| 1.0; 2.0 |] |> ignore) id
            Expect.stringContains ex.Message "weight" "message"
        }
    ]
