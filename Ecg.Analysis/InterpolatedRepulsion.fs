namespace Ecg.Analysis

open System
open System.Threading.Tasks
open TorchSharp

/// t-SNE's repulsive forces in 2-D by interpolation on an equispaced grid, with the kernel sums over the
/// grid done by FFT: FIt-SNE (Linderman et al. 2019), as openTSNE's `negative_gradient_method="fft"`
/// runs it with its defaults (3 interpolation nodes per box and axis, boxes 1 unit wide, at least 50 per axis,
/// degrees of freedom 1). One difference: openTSNE cuts the bounding square into B boxes of span / B, so the node
/// spacing and the kernel's transform change every iteration; here, once B > 50, the boxes are exactly 1 wide on a
/// grid centred on the square (see `grid`), and the transform is recomputed only when B changes. A square of B x B
/// boxes covers the embedding, each holding
/// 3 x 3 equispaced nodes; every point spreads its charges (1, y1, y2, |y|^2) onto its box's nodes by
/// Lagrange weights; the squared Cauchy kernel 1 / (1 + d^2)^2 between all pairs of nodes is applied as a
/// convolution (circulant embedding of the (3B)^2 node grid into a (6B)^2 torus, TorchSharp's FFT on CPU);
/// the nodes' potentials are interpolated back to the points by the same weights. From the four potentials
/// phi: sum_j q_ij^2 (y_i - y_j) = y_i phi_1 - (phi_y1, phi_y2), and since (1 + d^2) q^2 = q,
/// Z = sum_i [(1 + |y_i|^2) phi_1 - 2 y_i . (phi_y1, phi_y2) + phi_|y|^2] - N. O(N + B^2 log B) per call.
/// Deterministic: the charges are gathered box row by box row (each row's nodes belong to one task) in
/// point order, the FFT runs on one thread, and the sums run in a fixed order.
module internal InterpolatedRepulsion =
    /// Interpolation nodes per box and axis (openTSNE `n_interpolation_points`).
    [<Literal>]
    let NodesPerBox = 3
    /// At least this many boxes per axis (openTSNE `min_num_intervals`).
    [<Literal>]
    let MinBoxes = 50
    /// At most this many boxes per axis (openTSNE's cap).
    [<Literal>]
    let MaxBoxes = 1000
    /// Box width in embedding units that sets the box count, span / width (openTSNE `ints_in_interval`).
    [<Literal>]
    let BoxWidth = 1.0

    /// Whether n = 2^a 3^b 5^c 7^d 11^e 13^f with e + f <= 1: sizes FFT libraries handle fastest (the rule
    /// behind openTSNE's list of recommended box counts).
    let private fftFriendly (n: int) =
        let mutable m = n
        for p in [| 2; 3; 5; 7 |] do
            while m % p = 0 do m <- m / p
        m = 1 || m = 11 || m = 13

    /// Boxes per axis for an embedding spanning `span`: span / BoxWidth rounded up, at least MinBoxes, rounded up to
    /// an FFT-friendly count, at most MaxBoxes.
    let boxCount (span: float) =
        let wanted = if span / BoxWidth >= float MaxBoxes then MaxBoxes else max MinBoxes (int (ceil (span / BoxWidth)))
        let mutable b = wanted
        while b < MaxBoxes && not (fftFriendly b) do b <- b + 1
        b

    /// Boxes per axis and their width for an embedding spanning `span`. Once the span needs more than MinBoxes boxes
    /// of BoxWidth, the boxes are exactly BoxWidth wide and the grid, a little wider than the span, is centred on it:
    /// then the node spacing, so the kernel and its transform, only change when the box count does (a few times a
    /// run) instead of every iteration, as with openTSNE's boxes of span / count. Narrower spans get MinBoxes boxes
    /// across the span, wider than MaxBoxes boxes get MaxBoxes.
    let grid (span: float) : struct (int * float) =
        if not (span > 0.0) then struct (MinBoxes, BoxWidth)
        else
            let boxes = boxCount span
            let fixedWidth = span >= float MinBoxes * BoxWidth && float boxes * BoxWidth >= span
            struct (boxes, (if fixedWidth then BoxWidth else span / float boxes))

    /// Node positions within a box of width 1: (k + 1/2) / NodesPerBox.
    let private nodeOffsets = Array.init NodesPerBox (fun k -> (float k + 0.5) / float NodesPerBox)
    let private lagrangeDenominators =
        Array.init NodesPerBox (fun k ->
            let mutable d = 1.0
            for l in 0 .. NodesPerBox - 1 do
                if l <> k then d <- d * (nodeOffsets.[k] - nodeOffsets.[l])
            d)

    /// The Lagrange basis polynomials of the box's nodes at u (0 <= u <= 1), written to weights.[at ..].
    let inline private lagrange (u: float) (weights: float[]) (at: int) =
        for k in 0 .. NodesPerBox - 1 do
            let mutable v = 1.0
            for l in 0 .. NodesPerBox - 1 do
                if l <> k then v <- v * (u - nodeOffsets.[l])
            weights.[at + k] <- v / lagrangeDenominators.[k]

    /// Charges per point: 1, y1, y2, |y|^2.
    [<Literal>]
    let private Channels = 4

    /// glibc's malloc_trim: gives the native heap's free pages back to the OS.
    [<Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")>]
    extern int private mallocTrim(unativeint pad)

    /// After the grid has grown: torch's FFT buffers of the old size were freed into glibc's heaps, which the larger
    /// ones cannot reuse; without a trim they stay resident (GBs over a 20,000-point run, as the grid grows step by step).
    let private releaseFreedNativeMemory () =
        if OperatingSystem.IsLinux() then
            try mallocTrim 0un |> ignore
            with :? EntryPointNotFoundException | :? DllNotFoundException -> ()   // not glibc (musl): nothing to trim

    /// Buffers kept from one call to the next: fresh large arrays every iteration cost page faults and GC.
    /// The grid grows with the embedding over the first iterations; a buffer that must grow gets half as much again
    /// as asked, so a run allocates a few grid buffers, not one per grid size (each a large-object-heap array that
    /// stays resident until a full collection: GBs at 20,000 points).
    type Workspace() =
        let arrays = Collections.Generic.Dictionary<string, obj>()
        let tensors = Collections.Generic.Dictionary<string, torch.Tensor>()
        /// The last kernel transform with the grid size and spacing it was computed for.
        let mutable kernel: struct (int * float * torch.Tensor) voption = ValueNone
        /// A float32 torch tensor named `name` of `shape`, kept (outside any dispose scope) while the shape fits:
        /// torch.tensor(managed memory) would copy through a fresh managed array on every call.
        member _.Tensor(name: string, shape: int64[]) : torch.Tensor =
            match tensors.TryGetValue name with
            | true, t when t.shape = shape -> t
            | found, old ->
                if found then
                    old.Dispose()
                    releaseFreedNativeMemory ()
                let t = torch.empty(ReadOnlySpan<int64>(shape), dtype = torch.ScalarType.Float32).DetachFromDisposeScope()
                tensors.[name] <- t
                t
        /// The kernel's transform for an M x M node grid of this spacing, computed by `compute` only when the grid
        /// or the spacing differ from the last call's (the spacing is compared exactly: it is BoxWidth / NodesPerBox
        /// once the boxes have their fixed width).
        member _.KernelSpectrum(m: int, spacing: float, compute: unit -> torch.Tensor) : torch.Tensor =
            match kernel with
            | ValueSome struct (km, ks, spectrum) when km = m && ks = spacing -> spectrum
            | old ->
                // Forgotten before computing, so a failed computation never leaves a disposed transform behind.
                kernel <- ValueNone
                match old with
                | ValueSome struct (_, _, spectrum) -> spectrum.Dispose()
                | ValueNone -> ()
                let spectrum = compute().DetachFromDisposeScope()
                kernel <- ValueSome struct (m, spacing, spectrum)
                spectrum
        interface IDisposable with
            member _.Dispose() =
                for t in tensors.Values do t.Dispose()
                tensors.Clear()
                match kernel with
                | ValueSome struct (_, _, spectrum) -> spectrum.Dispose()
                | ValueNone -> ()
                kernel <- ValueNone
        /// A buffer named `name` with at least `length` elements (the first `length` zeroed when `clear`).
        member _.Get<'T>(name: string, length: int, clear: bool) : 'T[] =
            match arrays.TryGetValue name with
            | true, (:? ('T[]) as a) when a.Length >= length ->
                if clear then Array.Clear(a, 0, length)
                a
            | found, _ ->
                // The first buffer is exact; one that must grow takes half as much again.
                let size = if found then int (min (int64 Int32.MaxValue) (int64 length * 3L / 2L)) else length
                let a = Array.zeroCreate<'T> size
                arrays.[name] <- box a
                a

    /// Sum over the grid: potentials[c, r, s] = sum_(r', s') kernel(|r - r'| h, |s - s'| h) charges[c, r', s']
    /// for an M x M node grid with spacing h, by FFT over the zero-padded 2M x 2M torus. Only the charges'
    /// M rows are transformed along the rows, and only the M wanted rows transformed back.
    /// The transforms run in float32, twice as fast as float64 here (the FFTs are most of a t-SNE iteration):
    /// their rounding (about 1e-7 of the largest potential) is far below the interpolation's own error (about
    /// 1e-3 with 3 nodes per box); charges are summed and potentials used in float64.
    let private convolve (workspace: Workspace) (charges: float[]) (m: int) (spacing: float) : float[] =
        use scope = torch.NewDisposeScope()
        let size = 2 * m
        let kernelHat =
            workspace.KernelSpectrum(m, spacing, fun () ->
                // The kernel's circulant embedding: entry (i, j) is the kernel at offsets min(i, 2M - i), min(j, 2M - j).
                let kernel = workspace.Get<float32>("kernel", size * size, false)
                Parallel.For(0, size, fun i ->
                    let di = float (min i (size - i)) * spacing
                    for j in 0 .. size - 1 do
                        let dj = float (min j (size - j)) * spacing
                        let q = 1.0 / (1.0 + di * di + dj * dj)
                        kernel.[i * size + j] <- float32 (q * q)) |> ignore
                // The kernel is real and even, so its transform is real.
                let kernelTensor = workspace.Tensor("kernel", [| int64 size; int64 size |])
                kernelTensor.data<float32>().CopyFrom(ReadOnlySpan<float32>(kernel, 0, size * size), 0, 0L)
                torch.fft.rfft2(kernelTensor).real.contiguous())
        // Two channels per task: each task's torch calls run on its own thread (torch itself on one thread),
        // so both cores work, and each channel's arithmetic is the same whatever the scheduling.
        let plane = m * m
        let staging = workspace.Get<float32>("staging", Channels * plane, false)
        Parallel.For(0, Channels, fun c -> for k in c * plane .. (c + 1) * plane - 1 do staging.[k] <- float32 charges.[k]) |> ignore
        let half = Channels / 2
        let inputs = Array.init 2 (fun part -> workspace.Tensor(sprintf "charges%d" part, [| int64 half; int64 m; int64 m |]))
        Parallel.For(0, 2, fun part ->
            use taskScope = torch.NewDisposeScope()
            let offset = part * half * plane
            let w = inputs.[part]
            w.data<float32>().CopyFrom(ReadOnlySpan<float32>(staging, offset, half * plane), 0, 0L)
            let rows = torch.fft.rfft(w, int64 size, -1L)
            let spectrum = torch.fft.fft_(rows, int64 size, -2L)
            let back = torch.fft.ifft(spectrum * kernelHat, -1L, -2L).narrow(1L, 0L, int64 m)
            let result = torch.fft.irfft(back, int64 size, -1L).narrow(2L, 0L, int64 m).contiguous()
            // Straight into the workspace: a fresh array per call would put a large-object-heap array on every
            // iteration (GBs of resident memory before the GC reclaims them).
            result.data<float32>().CopyTo(Span<float32>(staging, offset, half * plane), 0, 0L)) |> ignore
        let potentials = workspace.Get<float>("potentials", Channels * plane, false)
        Parallel.For(0, Channels, fun c -> for k in c * plane .. (c + 1) * plane - 1 do potentials.[k] <- float staging.[k]) |> ignore
        potentials

    /// Repulsive terms of the t-SNE gradient for every point: negX.[i] = sum_j q_ij^2 (x_i - x_j) (likewise
    /// negY), q_ij = 1 / (1 + |y_i - y_j|^2); returns Z = sum_(i <> j) q_ij. The FFT runs with torch's thread
    /// count as it is (the caller sets it).
    let compute (workspace: Workspace) (xs: float[]) (ys: float[]) (negX: float[]) (negY: float[]) : float =
        let n = xs.Length
        let mutable lo = Double.PositiveInfinity
        let mutable hi = Double.NegativeInfinity
        for i in 0 .. n - 1 do
            lo <- min lo (min xs.[i] ys.[i])
            hi <- max hi (max xs.[i] ys.[i])
        let struct (boxes, width) = grid (hi - lo)
        // Charges in coordinates about the grid's centre: the same forces, smaller cancelling terms.
        let centre = (lo + hi) / 2.0
        let lo = centre - width * float boxes / 2.0
        let m = boxes * NodesPerBox
        let boxOf = workspace.Get<int>("boxOf", n, false)
        let weightsX = workspace.Get<float>("weightsX", n * NodesPerBox, false)
        let weightsY = workspace.Get<float>("weightsY", n * NodesPerBox, false)
        Parallel.For(0, n, fun i ->
            let u = (xs.[i] - lo) / width
            let v = (ys.[i] - lo) / width
            // The top edge belongs to the last box.
            let bx = min (boxes - 1) (int u)
            let by = min (boxes - 1) (int v)
            boxOf.[i] <- by * boxes + bx
            lagrange (u - float bx) weightsX (i * NodesPerBox)
            lagrange (v - float by) weightsY (i * NodesPerBox)) |> ignore
        // Points ordered by box (counting sort, stable in point order), so each box row gathers its own charges.
        let starts = workspace.Get<int>("starts", boxes * boxes + 1, true)
        for i in 0 .. n - 1 do starts.[boxOf.[i] + 1] <- starts.[boxOf.[i] + 1] + 1
        for b in 1 .. boxes * boxes do starts.[b] <- starts.[b] + starts.[b - 1]
        let order = workspace.Get<int>("order", n, false)
        let fill = workspace.Get<int>("fill", boxes * boxes + 1, false)
        Array.blit starts 0 fill 0 (boxes * boxes + 1)
        for i in 0 .. n - 1 do
            order.[fill.[boxOf.[i]]] <- i
            fill.[boxOf.[i]] <- fill.[boxOf.[i]] + 1
        // Node (r, s) of channel c at c * M^2 + r * M + s; r follows y, s follows x.
        let plane = m * m
        let charges = workspace.Get<float>("charges", Channels * plane, true)
        Parallel.For(0, boxes, fun by ->
            for bx in 0 .. boxes - 1 do
                let b = by * boxes + bx
                for t in starts.[b] .. starts.[b + 1] - 1 do
                    let i = order.[t]
                    let x = xs.[i] - centre
                    let y = ys.[i] - centre
                    let r2 = x * x + y * y
                    for a in 0 .. NodesPerBox - 1 do
                        let wy = weightsY.[i * NodesPerBox + a]
                        let row = (by * NodesPerBox + a) * m + bx * NodesPerBox
                        for c in 0 .. NodesPerBox - 1 do
                            let w = wy * weightsX.[i * NodesPerBox + c]
                            let node = row + c
                            charges.[node] <- charges.[node] + w
                            charges.[plane + node] <- charges.[plane + node] + w * x
                            charges.[2 * plane + node] <- charges.[2 * plane + node] + w * y
                            charges.[3 * plane + node] <- charges.[3 * plane + node] + w * r2) |> ignore
        let potentials = convolve workspace charges m (width / float NodesPerBox)
        let normaliserParts = workspace.Get<float>("normaliserParts", n, false)
        Parallel.For(0, n, fun i ->
            let by = boxOf.[i] / boxes
            let bx = boxOf.[i] % boxes
            let mutable p1 = 0.0
            let mutable px = 0.0
            let mutable py = 0.0
            let mutable pr = 0.0
            for a in 0 .. NodesPerBox - 1 do
                let wy = weightsY.[i * NodesPerBox + a]
                let row = (by * NodesPerBox + a) * m + bx * NodesPerBox
                for c in 0 .. NodesPerBox - 1 do
                    let w = wy * weightsX.[i * NodesPerBox + c]
                    let node = row + c
                    p1 <- p1 + w * potentials.[node]
                    px <- px + w * potentials.[plane + node]
                    py <- py + w * potentials.[2 * plane + node]
                    pr <- pr + w * potentials.[3 * plane + node]
            let x = xs.[i] - centre
            let y = ys.[i] - centre
            negX.[i] <- x * p1 - px
            negY.[i] <- y * p1 - py
            normaliserParts.[i] <- (1.0 + x * x + y * y) * p1 - 2.0 * (x * px + y * py) + pr) |> ignore
        // Minus each point's own term (q_ii = 1).
        let mutable z = 0.0
        for i in 0 .. n - 1 do z <- z + normaliserParts.[i]
        z - float n
