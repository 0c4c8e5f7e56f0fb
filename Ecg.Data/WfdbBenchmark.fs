namespace Ecg.Data

open System
open System.Diagnostics
open System.IO

/// How fast WfdbRecordReader reads a folder of records.
[<CLIMutable>]
type WfdbBenchmarkResult =
    { Folder: string
      Records: int
      /// Seconds for the timed pass (the best of the timed passes), warm file cache.
      Seconds: float
      RecordsPerSecond: float
      MegabytesPerSecond: float
      /// Records per second of process CPU time: steadier than wall time on a shared machine.
      RecordsPerCpuSecond: float }

/// Times header parsing, reading, checking and converting every record under a folder.
[<AbstractClass; Sealed>]
type WfdbBenchmark private () =

    /// Reads every `.hea` record under `folder` (recursively) for about a second to warm the file cache and the JIT, then
    /// `passes` timed times into one reused destination buffer; reports the fastest pass.
    static member Run(folder: string, passes: int) : WfdbBenchmarkResult =
        let headers = Directory.GetFiles(folder, "*.hea", SearchOption.AllDirectories) |> Array.sort
        if headers.Length = 0 then invalidArg "folder" (sprintf "no WFDB headers (*.hea) under %s" folder)
        let reader = WfdbRecordReader()
        let mutable destination = Array.zeroCreate<float32> 0
        let mutable signalBytes = 0L
        let readAll () =
            signalBytes <- 0L
            for h in headers do
                let header = reader.ReadHeader h
                let n = header.SampleCount * header.SignalCount
                if destination.Length < n then destination <- Array.zeroCreate n
                reader.ReadSignal(header, h, Span<float32>(destination)) |> ignore
                signalBytes <- signalBytes + WfdbRecordReader.BytesFor(header.Signals.[0].Format, int64 n)
        // Warm the file cache and let the JIT reach its optimised tier: at least one pass, up to 1 s.
        let warm = Stopwatch.StartNew()
        readAll ()
        while warm.Elapsed.TotalSeconds < 1.0 do readAll ()
        let mutable best = Double.MaxValue
        let mutable bestCpu = Double.MaxValue
        let proc = Process.GetCurrentProcess()
        for _ in 1 .. max 1 passes do
            proc.Refresh()
            let cpu0 = proc.TotalProcessorTime
            let sw = Stopwatch.StartNew()
            readAll ()
            best <- min best sw.Elapsed.TotalSeconds
            proc.Refresh()
            bestCpu <- min bestCpu (proc.TotalProcessorTime - cpu0).TotalSeconds
        { Folder = folder; Records = headers.Length; Seconds = best
          RecordsPerSecond = float headers.Length / best
          MegabytesPerSecond = float signalBytes / 1e6 / best
          RecordsPerCpuSecond = float headers.Length / max bestCpu 1e-6 }

    /// Run(folder, 3).
    static member Run(folder: string) : WfdbBenchmarkResult = WfdbBenchmark.Run(folder, 3)
