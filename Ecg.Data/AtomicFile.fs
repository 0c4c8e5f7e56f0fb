namespace Ecg.Data

open System
open System.IO
open System.Runtime.InteropServices
open System.Text

/// libc's open/fsync/close, for flushing a folder: .NET cannot open a directory as a file handle.
module private Libc =
    [<DllImport("libc", EntryPoint = "open", SetLastError = true)>]
    extern int openPath([<MarshalAs(UnmanagedType.LPUTF8Str)>] string path, int flags)

    [<DllImport("libc", EntryPoint = "fsync", SetLastError = true)>]
    extern int fsync(int fd)

    [<DllImport("libc", EntryPoint = "close", SetLastError = true)>]
    extern int close(int fd)

    /// O_RDONLY: 0 on every Linux architecture (O_DIRECTORY is not: 0x10000 on x86, 0x4000 on ARM).
    let readOnly = 0
    /// EINVAL: the file system does not support fsync on this kind of file (some FUSE and network mounts).
    let einval = 22
    /// EROFS: a read-only file system has nothing to flush.
    let erofs = 30

/// Durable, atomic file writes: the content goes to a temporary file beside the target, is flushed to disk,
/// renamed over the target (atomic on one file system), and the folder is flushed so the rename itself
/// survives a power loss. A reader sees the old file or the new one, never a part; after a crash at any
/// point the old file is intact or the new one is complete (a renamed but empty file cannot happen, as it
/// could when only the rename was done: the data may still sit in the page cache when the rename reaches
/// the disk). The one home of this in the solution; every writer of artifacts goes through it.
[<AbstractClass; Sealed>]
type AtomicFile private () =

    /// Where a write of `path` puts its content first: a dot file in the same folder (so the rename stays on
    /// one file system and listings skip it), `.<name>.<random>.tmp`.
    static member TemporaryPathFor(path: string) : string =
        let full = Path.GetFullPath path
        Path.Combine(Path.GetDirectoryName full, sprintf ".%s.%s.tmp" (Path.GetFileName full) (Guid.NewGuid().ToString("N")))

    /// Flushes a file's content and metadata to the disk (fsync; FlushFileBuffers on Windows).
    static member FlushFile(path: string) : unit =
        use stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite)
        stream.Flush(true)

    /// Flushes a folder's entries (new names, renames) to the disk. Linux only: elsewhere it does nothing
    /// (Windows journals renames with the metadata; macOS would need F_FULLFSYNC).
    static member FlushFolder(folder: string) : unit =
        if OperatingSystem.IsLinux() then
            let full = Path.GetFullPath folder
            let fd = Libc.openPath(full, Libc.readOnly)
            if fd < 0 then
                let errno = Marshal.GetLastPInvokeError()
                raise (IOException(sprintf "Cannot open folder '%s' to flush it: %s (errno %d)." full (Marshal.GetPInvokeErrorMessage errno) errno))
            try
                if Libc.fsync fd <> 0 then
                    let errno = Marshal.GetLastPInvokeError()
                    if errno <> Libc.einval && errno <> Libc.erofs then
                        raise (IOException(sprintf "Cannot flush folder '%s': %s (errno %d)." full (Marshal.GetPInvokeErrorMessage errno) errno))
            finally
                Libc.close fd |> ignore

    /// Makes a finished temporary file the content of `path`: flushes it, renames it over `path` and flushes
    /// the folder. Both must be in the same folder (see TemporaryPathFor).
    static member Commit(temporary: string, path: string) : unit =
        let full = Path.GetFullPath path
        AtomicFile.FlushFile temporary
        File.Move(temporary, full, true)
        AtomicFile.FlushFolder(Path.GetDirectoryName full)

    /// Write with a hook run between the finished write and the commit (tests inject failures there).
    static member internal Write(path: string, write: Action<string>, beforeCommit: Action<string>) : unit =
        let full = Path.GetFullPath path
        Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
        let temporary = AtomicFile.TemporaryPathFor full
        try
            write.Invoke temporary
            if not (File.Exists temporary) then raise (IOException(sprintf "Writing '%s' produced no file." full))
            if not (isNull beforeCommit) then beforeCommit.Invoke temporary
            AtomicFile.Commit(temporary, full)
        finally
            if File.Exists temporary then File.Delete temporary

    /// Calls `write` with a temporary path beside `path` (the folder is created), then commits the file it
    /// wrote there (Commit). On any failure the temporary file is deleted and `path` is left as it was.
    static member Write(path: string, write: Action<string>) : unit = AtomicFile.Write(path, write, null)

    static member WriteAllBytes(path: string, bytes: byte[]) : unit =
        AtomicFile.Write(path, fun temporary -> File.WriteAllBytes(temporary, bytes))

    /// UTF-8 without a byte-order mark.
    static member WriteAllText(path: string, text: string) : unit =
        AtomicFile.Write(path, fun temporary -> File.WriteAllText(temporary, text, UTF8Encoding(false)))
