/// Deterministic inputs generated identically here and in reference_values.py (same 64-bit LCG,
/// same Box-Muller transform, same order of draws), so reference values from Python apply.
module Ecg.Analysis.Tests.TestData

open System

type Lcg(seed: uint64) =
    let mutable state = seed
    member _.Uniform() =
        state <- state * 6364136223846793005UL + 1442695040888963407UL
        float (state >>> 11) / 9007199254740992.0
    member this.Gaussian() =
        let u1 = this.Uniform()
        let u2 = this.Uniform()
        sqrt (-2.0 * log (1.0 - u1)) * cos (2.0 * Math.PI * u2)

/// Row i belongs to blob i % centres; centres ~ centreScale * N(0, 1), points ~ centre + spread * N(0, 1).
let blobs (n: int) (d: int) (centres: int) (centreScale: float) (spread: float) (seed: uint64) =
    let rng = Lcg(seed)
    let means = Array.init centres (fun _ -> Array.init d (fun _ -> centreScale * rng.Gaussian()))
    Array.init n (fun i -> Array.init d (fun j -> means.[i % centres].[j] + spread * rng.Gaussian()))

/// True when two labelings define the same partition (equal up to renaming clusters).
let samePartition (a: int[]) (b: int[]) =
    let pairs = Array.zip a b |> Array.distinct
    pairs.Length = (Array.distinct a).Length && pairs.Length = (Array.distinct b).Length
