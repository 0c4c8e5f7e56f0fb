module Ecg.Analysis.Tests.HungarianTests

open Expecto
open FsCheck
open Ecg.Analysis
open Ecg.Analysis.Tests.TestData

/// Matrices drawn in reference_values.py's order from Lcg(17): uniform * 10, or int(uniform * levels).
let referenceMatrices () =
    let rng = Lcg(17UL)
    let mat r c (levels: int option) =
        Array2D.init r c (fun _ _ -> 0.0)
        |> fun m ->
            for i in 0 .. r - 1 do
                for j in 0 .. c - 1 do
                    m.[i, j] <- match levels with Some l -> float (int (rng.Uniform() * float l)) | None -> rng.Uniform() * 10.0
            m
    [ "square", mat 5 5 None; "wide", mat 4 6 None; "tall", mat 6 4 None; "ties", mat 6 6 (Some 3); "tallties", mat 7 4 (Some 2) ]

/// scipy 1.10.1 linear_sum_assignment(m, maximize) on those matrices: (rows, columns, total).
let expected =
    dict [
        ("square", false), ([| 0; 1; 2; 3; 4 |], [| 3; 4; 0; 1; 2 |], 12.911123460719132)
        ("square", true), ([| 0; 1; 2; 3; 4 |], [| 0; 2; 3; 4; 1 |], 37.47815715032887)
        ("wide", false), ([| 0; 1; 2; 3 |], [| 5; 0; 4; 2 |], 5.92093539458636)
        ("wide", true), ([| 0; 1; 2; 3 |], [| 2; 1; 3; 4 |], 29.3064511552073)
        ("tall", false), ([| 0; 3; 4; 5 |], [| 3; 2; 0; 1 |], 7.795313945979975)
        ("tall", true), ([| 2; 3; 4; 5 |], [| 2; 0; 1; 3 |], 33.674846321266706)
        ("ties", false), ([| 0; 1; 2; 3; 4; 5 |], [| 1; 2; 5; 3; 0; 4 |], 1.0)
        ("ties", true), ([| 0; 1; 2; 3; 4; 5 |], [| 3; 5; 2; 0; 4; 1 |], 11.0)
        ("tallties", false), ([| 0; 1; 3; 6 |], [| 3; 1; 2; 0 |], 0.0)
        ("tallties", true), ([| 0; 1; 2; 4 |], [| 0; 3; 1; 2 |], 4.0) ]

let rec permutations (items: int list) : int list list =
    match items with
    | [] -> [ [] ]
    | _ -> items |> List.collect (fun x -> permutations (List.filter ((<>) x) items) |> List.map (fun p -> x :: p))

[<Tests>]
let tests =
    testList "Hungarian" [
        test "assignments and totals equal scipy's, ties and rectangular included" {
            for name, m in referenceMatrices () do
                for maximize in [ false; true ] do
                    let rows, cols, total = expected.[(name, maximize)]
                    let a = Hungarian.solve maximize m
                    Expect.equal a.Rows rows (sprintf "%s %b rows" name maximize)
                    Expect.equal a.Columns cols (sprintf "%s %b columns" name maximize)
                    Expect.floatClose Accuracy.veryHigh a.Total total (sprintf "%s %b total" name maximize)
        }
        test "a constant matrix gives the identity, as scipy does" {
            let a = Hungarian.solve false (Array2D.create 4 4 1.0)
            Expect.equal a.Columns [| 0; 1; 2; 3 |] "identity"
        }
        testProperty "total equals the brute-force optimum on small square matrices" (fun (seed: int) (size: PositiveInt) ->
            let n = 1 + size.Get % 5
            let rng = System.Random(seed)
            let m = Array2D.init n n (fun _ _ -> float (rng.Next(10)))
            let best = permutations [ 0 .. n - 1 ] |> List.map (fun p -> p |> List.mapi (fun i j -> m.[i, j]) |> List.sum) |> List.min
            let a = Hungarian.solve false m
            abs (a.Total - best) < 1e-9 && (Array.distinct a.Columns).Length = n)
        test "rejects NaN" {
            Expect.throwsT<System.ArgumentException> (fun () -> Hungarian.solve false (Array2D.create 2 2 nan) |> ignore) "NaN"
        }
    ]
