namespace Ecg.Data

open System

/// SplitMix64 (Steele, Lea and Flood 2014; Vigna's splitmix64.c): a seeded random stream that is the same on
/// every .NET version and machine, unlike System.Random's seeding. The one seeded generator of the solution
/// (synthetic data, per-epoch training seeds).
[<Sealed; AllowNullLiteral>]
type SplitMix64(seed: uint64) =
    static let gamma = 0x9E3779B97F4A7C15UL
    let mutable state = seed
    let mutable spare = 0.0
    let mutable hasSpare = false

    /// The output function: a bijective mix of one 64-bit state.
    static member Finalize(z: uint64) : uint64 =
        let z = (z ^^^ (z >>> 30)) * 0xBF58476D1CE4E5B9UL
        let z = (z ^^^ (z >>> 27)) * 0x94D049BB133111EBUL
        z ^^^ (z >>> 31)

    /// The n-th output (n = 1, 2, ...) of a generator seeded with `seed`, without stepping through the first.
    static member Output(seed: uint64, n: uint64) : uint64 = SplitMix64.Finalize(seed + gamma * n)

    /// A seed derived from two numbers (e.g. a run's seed and a record's id): Output(a, b + 1), so nearby
    /// inputs give unrelated streams.
    static member Mix(a: uint64, b: uint64) : uint64 = SplitMix64.Output(a, b + 1UL)

    member _.NextUInt64() : uint64 =
        state <- state + gamma
        SplitMix64.Finalize state

    /// Uniform in [0, 1), 53 random bits.
    member r.NextDouble() = float (r.NextUInt64() >>> 11) * (1.0 / 9007199254740992.0)
    member r.Uniform(a: float, b: float) = a + (b - a) * r.NextDouble()
    /// Uniform integer in [0, n).
    member r.Below(n: int) = int (r.NextDouble() * float n)
    member r.Chance(p: float) = r.NextDouble() < p

    /// Standard normal (Box-Muller; the pair's second value is kept for the next call).
    member r.Normal() =
        if hasSpare then
            hasSpare <- false
            spare
        else
            let u1 = 1.0 - r.NextDouble()
            let u2 = r.NextDouble()
            let radius = sqrt (-2.0 * log u1)
            spare <- radius * sin (2.0 * Math.PI * u2)
            hasSpare <- true
            radius * cos (2.0 * Math.PI * u2)

    member r.Normal(mean: float, sd: float) = mean + sd * r.Normal()
    member r.Pick(items: 'T[]) = items.[r.Below items.Length]
