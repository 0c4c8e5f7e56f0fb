namespace Ecg.Analysis

open System
open System.Collections.Generic

/// A 2-D Barnes-Hut quadtree over points: each cell keeps its point count and centre of mass,
/// so far-away groups of points act as one (used by t-SNE's repulsive forces).
/// Points at identical positions share a leaf instead of splitting forever.
type internal QuadTree(xs: float[], ys: float[]) =
    let minX = Array.min xs
    let minY = Array.min ys
    // A margin keeps points on the upper edge inside the root cell.
    let width = max (Array.max xs - minX) (Array.max ys - minY) * (1.0 + 1e-6) + 1e-12
    // Cells in flat arrays (the hot loop reads them for every point and iteration); about 2 N cells.
    let mutable capacity = max 16 (3 * xs.Length)
    let mutable loX = Array.zeroCreate<float> capacity
    let mutable loY = Array.zeroCreate<float> capacity
    let mutable size = Array.zeroCreate<float> capacity
    let mutable comX = Array.zeroCreate<float> capacity
    let mutable comY = Array.zeroCreate<float> capacity
    let mutable count = Array.zeroCreate<int> capacity
    let mutable firstChild = Array.zeroCreate<int> capacity
    let mutable cells = 0
    let grow () =
        capacity <- capacity * 2
        Array.Resize(&loX, capacity); Array.Resize(&loY, capacity); Array.Resize(&size, capacity)
        Array.Resize(&comX, capacity); Array.Resize(&comY, capacity); Array.Resize(&count, capacity)
        Array.Resize(&firstChild, capacity)
    let newCell (x0: float) (y0: float) (w: float) =
        if cells = capacity then grow ()
        loX.[cells] <- x0; loY.[cells] <- y0; size.[cells] <- w; comX.[cells] <- 0.0; comY.[cells] <- 0.0
        count.[cells] <- 0; firstChild.[cells] <- -1
        cells <- cells + 1
        cells - 1
    let childFor (cell: int) (x: float) (y: float) =
        let half = size.[cell] / 2.0
        let right = if x >= loX.[cell] + half then 1 else 0
        let top = if y >= loY.[cell] + half then 2 else 0
        firstChild.[cell] + right + top
    let addMass (cell: int) (x: float) (y: float) (c: int) =
        let total = count.[cell] + c
        comX.[cell] <- (comX.[cell] * float count.[cell] + x * float c) / float total
        comY.[cell] <- (comY.[cell] * float count.[cell] + y * float c) / float total
        count.[cell] <- total
    let rec insert (cell: int) (x: float) (y: float) (c: int) =
        if firstChild.[cell] = -1 then
            if count.[cell] = 0 then addMass cell x y c
            elif (comX.[cell] = x && comY.[cell] = y) || size.[cell] < 1e-12 then addMass cell x y c
            else
                // Split: move the resident points into a child, then place the new one.
                let half = size.[cell] / 2.0
                let x0, y0 = loX.[cell], loY.[cell]
                let first = newCell x0 y0 half
                newCell (x0 + half) y0 half |> ignore
                newCell x0 (y0 + half) half |> ignore
                newCell (x0 + half) (y0 + half) half |> ignore
                firstChild.[cell] <- first
                let rx, ry, rc = comX.[cell], comY.[cell], count.[cell]
                insert (childFor cell rx ry) rx ry rc
                addMass cell x y c
                insert (childFor cell x y) x y c
        else
            addMass cell x y c
            insert (childFor cell x y) x y c
    do
        newCell minX minY width |> ignore
        for i in 0 .. xs.Length - 1 do insert 0 xs.[i] ys.[i] 1

    /// Repulsive t-SNE terms for the point (x, y): sum over other points of q = 1/(1+d^2) (the
    /// normaliser's share) and of q^2 (y_i - y_j) per axis, summarising cells whose
    /// width^2 / distance^2 < theta^2. The point itself (distance 0) is excluded.
    member _.Repulsion(x: float, y: float, theta: float, stack: int[]) : struct (float * float * float) =
        let theta2 = theta * theta
        let count = count
        let comX = comX
        let comY = comY
        let size = size
        let firstChild = firstChild
        let mutable sumQ = 0.0
        let mutable fx = 0.0
        let mutable fy = 0.0
        let mutable top = 0
        stack.[0] <- 0
        top <- 1
        while top > 0 do
            top <- top - 1
            let cell = stack.[top]
            let c = count.[cell]
            if c > 0 then
                let dx = x - comX.[cell]
                let dy = y - comY.[cell]
                let d2 = dx * dx + dy * dy
                let leaf = firstChild.[cell] = -1
                if leaf || size.[cell] * size.[cell] < theta2 * d2 then
                    // A leaf at distance 0 holds the point itself (and any exact duplicates).
                    let members = if leaf && d2 = 0.0 then c - 1 else c
                    if members > 0 then
                        let q = 1.0 / (1.0 + d2)
                        sumQ <- sumQ + float members * q
                        let m = float members * q * q
                        fx <- fx + m * dx
                        fy <- fy + m * dy
                else
                    let f = firstChild.[cell]
                    for k in 0 .. 3 do
                        stack.[top] <- f + k
                        top <- top + 1
        struct (sumQ, fx, fy)

    member _.CellCount = cells
