namespace Ecg.Analysis

open System

/// An optimal assignment: `Rows.[t]` is matched with `Columns.[t]`; rows ascending.
[<CLIMutable>]
type Assignment = { Rows: int[]; Columns: int[]; Total: float }

/// The linear sum assignment problem (Hungarian matching) on a rectangular cost matrix, solved by
/// the shortest augmenting path method (Jonker-Volgenant, as in Crouse 2016). This follows
/// scipy.optimize.linear_sum_assignment step for step, including its tie-breaking, so the same
/// assignment comes out; min(rows, columns) pairs are matched.
module Hungarian =
    /// Finds a shortest augmenting path from row `start`; returns the sink column and path length.
    let private augmentingPath (nc: int) (cost: float[]) (u: float[]) (v: float[]) (path: int[]) (row4col: int[])
                               (shortest: float[]) (start: int) (sr: bool[]) (sc: bool[]) (remaining: int[]) =
        let mutable minVal = 0.0
        let mutable numRemaining = nc
        // Filled in reverse so that a constant matrix gives the identity (as scipy does).
        for it in 0 .. nc - 1 do remaining.[it] <- nc - it - 1
        Array.fill sr 0 sr.Length false
        Array.fill sc 0 sc.Length false
        Array.fill shortest 0 nc Double.PositiveInfinity
        let mutable sink = -1
        let mutable i = start
        let mutable infeasible = false
        while sink = -1 && not infeasible do
            let mutable index = -1
            let mutable lowest = Double.PositiveInfinity
            sr.[i] <- true
            for it in 0 .. numRemaining - 1 do
                let j = remaining.[it]
                let r = minVal + cost.[i * nc + j] - u.[i] - v.[j]
                if r < shortest.[j] then
                    path.[j] <- i
                    shortest.[j] <- r
                // Among equal costs prefer a free column: it ends the path.
                if shortest.[j] < lowest || (shortest.[j] = lowest && row4col.[j] = -1) then
                    lowest <- shortest.[j]
                    index <- it
            minVal <- lowest
            if Double.IsPositiveInfinity minVal then infeasible <- true
            else
                let j = remaining.[index]
                if row4col.[j] = -1 then sink <- j else i <- row4col.[j]
                sc.[j] <- true
                numRemaining <- numRemaining - 1
                remaining.[index] <- remaining.[numRemaining]
        sink, minVal

    /// Solves the assignment on `cost` (rows x columns, any shape); `maximize` maximises the total.
    let solve (maximize: bool) (cost: float[,]) : Assignment =
        if isNull cost then nullArg "cost"
        let rows0 = Array2D.length1 cost
        let cols0 = Array2D.length2 cost
        if rows0 = 0 || cols0 = 0 then { Rows = [||]; Columns = [||]; Total = 0.0 }
        else
        for i in 0 .. rows0 - 1 do
            for j in 0 .. cols0 - 1 do
                let c = cost.[i, j]
                if Double.IsNaN c || (if maximize then Double.IsPositiveInfinity c else Double.IsNegativeInfinity c) then
                    invalidArg "cost" (sprintf "cost matrix entry [%d, %d] is %g: invalid" i j c)
        // Tall matrices are transposed so every row gets a column.
        let transpose = cols0 < rows0
        let nr, nc = if transpose then cols0, rows0 else rows0, cols0
        let sign = if maximize then -1.0 else 1.0
        let flat = Array.init (nr * nc) (fun t ->
            let i, j = t / nc, t % nc
            sign * (if transpose then cost.[j, i] else cost.[i, j]))
        let u = Array.zeroCreate<float> nr
        let v = Array.zeroCreate<float> nc
        let shortest = Array.zeroCreate<float> nc
        let path = Array.create nc -1
        let col4row = Array.create nr -1
        let row4col = Array.create nc -1
        let sr = Array.zeroCreate<bool> nr
        let sc = Array.zeroCreate<bool> nc
        let remaining = Array.zeroCreate<int> nc
        for curRow in 0 .. nr - 1 do
            let sink, minVal = augmentingPath nc flat u v path row4col shortest curRow sr sc remaining
            if sink < 0 then invalidArg "cost" "cost matrix is infeasible (a row has only infinite costs)"
            u.[curRow] <- u.[curRow] + minVal
            for i in 0 .. nr - 1 do
                if sr.[i] && i <> curRow then u.[i] <- u.[i] + minVal - shortest.[col4row.[i]]
            for j in 0 .. nc - 1 do
                if sc.[j] then v.[j] <- v.[j] - (minVal - shortest.[j])
            let mutable j = sink
            let mutable fin = false
            while not fin do
                let i = path.[j]
                row4col.[j] <- i
                let t = col4row.[i]
                col4row.[i] <- j
                j <- t
                if i = curRow then fin <- true
        let pairs =
            if transpose then
                // Original rows are the columns of the transposed problem: sort by them.
                Array.init nr (fun r -> col4row.[r], r) |> Array.sortBy fst
            else Array.init nr (fun r -> r, col4row.[r])
        { Rows = Array.map fst pairs
          Columns = Array.map snd pairs
          Total = pairs |> Array.sumBy (fun (i, j) -> cost.[i, j]) }
