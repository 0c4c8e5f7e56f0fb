using System.Text;

namespace Ecg.Model;

/// <summary>
/// Writes that never leave a half-written file under the final name: write a temporary file beside it,
/// then rename over the target (atomic on one file system).
/// </summary>
public static class AtomicFile
{
    /// <summary>Calls <paramref name="write"/> with a temporary path, then renames the result to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            write(temporary);
            if (!File.Exists(temporary)) throw new IOException($"Writing '{full}' produced no file.");
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, temporary => File.WriteAllText(temporary, text, new UTF8Encoding(false)));
}
