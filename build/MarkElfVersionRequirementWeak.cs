// MSBuild inline task (RoslynCodeTaskFactory): marks one symbol-version requirement of an
// ELF64 little-endian shared library as weak (VER_FLG_WEAK), so glibc's loader only warns when
// the system library lacks that version. Files that do not exist are skipped; the file is
// rewritten atomically (temporary file, then rename), so a hard link into the NuGet cache is
// never written through.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class MarkElfVersionRequirementWeak : Task
{
    [Required] public ITaskItem[] Files { get; set; }
    [Required] public string Version { get; set; }

    const uint ShtGnuVerneed = 0x6FFFFFFE;
    const ushort VerFlgWeak = 0x2;

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/lib64/libstdc++.so.6",
    };

    public override bool Execute()
    {
        if (SystemLibStdCxxHas(Version))
        {
            Log.LogMessage(MessageImportance.Low, $"System libstdc++ provides {Version}; TorchSharp native library left as is.");
            return true;
        }
        foreach (var item in Files)
        {
            var path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                var bytes = File.ReadAllBytes(path);
                var changed = MarkWeak(bytes, Version);
                if (changed == 0) continue; // already weak, or not required: nothing to do
                var tmp = path + ".patching";
                File.WriteAllBytes(tmp, bytes);
                // Unlink, then rename: a new inode, so a hard link into the NuGet cache is never written through.
                File.Delete(path);
                File.Move(tmp, path);
                Log.LogMessage(MessageImportance.Normal, $"Marked {Version} weak in {path} ({changed} requirement(s)).");
            }
            catch (Exception e)
            {
                Log.LogError($"Could not patch {path}: {e.Message}");
                return false;
            }
        }
        return !Log.HasLoggedErrors;
    }

    static bool SystemLibStdCxxHas(string version)
    {
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        foreach (var candidate in LibStdCxxCandidates)
        {
            if (!File.Exists(candidate)) continue;
            var data = File.ReadAllBytes(candidate);
            return IndexOf(data, needle, 0) >= 0;
        }
        return false; // no libstdc++ found where we look: patching is harmless
    }

    static int IndexOf(byte[] haystack, byte[] needle, int start)
    {
        for (int i = Array.IndexOf(haystack, needle[0], start); i >= 0 && i <= haystack.Length - needle.Length;
             i = Array.IndexOf(haystack, needle[0], i + 1))
        {
            int k = 1;
            while (k < needle.Length && haystack[i + k] == needle[k]) k++;
            if (k == needle.Length) return i;
        }
        return -1;
    }

    /// <summary>Sets VER_FLG_WEAK on every Vernaux entry named <paramref name="version"/>; returns how many changed.</summary>
    public static int MarkWeak(byte[] b, string version)
    {
        if (b.Length < 64 || b[0] != 0x7F || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1)
            throw new InvalidDataException("not an ELF64 little-endian file");
        ulong shoff = BitConverter.ToUInt64(b, 0x28);
        ushort shentsize = BitConverter.ToUInt16(b, 0x3A);
        ushort shnum = BitConverter.ToUInt16(b, 0x3C);
        long SectionHeader(int i) => (long)shoff + (long)i * shentsize;
        int changed = 0;
        for (int i = 0; i < shnum; i++)
        {
            long sh = SectionHeader(i);
            uint type = BitConverter.ToUInt32(b, (int)sh + 4);
            if (type != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(b, (int)sh + 24);
            uint link = BitConverter.ToUInt32(b, (int)sh + 40);
            uint count = BitConverter.ToUInt32(b, (int)sh + 44);
            long strtab = (long)BitConverter.ToUInt64(b, (int)SectionHeader((int)link) + 24);
            long p = offset;
            for (uint n = 0; n < count; n++)
            {
                ushort cnt = BitConverter.ToUInt16(b, (int)p + 2);
                uint aux = BitConverter.ToUInt32(b, (int)p + 8);
                uint next = BitConverter.ToUInt32(b, (int)p + 12);
                long a = p + aux;
                for (int k = 0; k < cnt; k++)
                {
                    ushort flags = BitConverter.ToUInt16(b, (int)a + 4);
                    uint nameOffset = BitConverter.ToUInt32(b, (int)a + 8);
                    uint anext = BitConverter.ToUInt32(b, (int)a + 12);
                    int nameStart = (int)(strtab + nameOffset);
                    int nameLength = Array.IndexOf(b, (byte)0, nameStart) - nameStart;
                    var name = Encoding.ASCII.GetString(b, nameStart, nameLength);
                    if (name == version && (flags & VerFlgWeak) == 0)
                    {
                        ushort weak = (ushort)(flags | VerFlgWeak);
                        b[a + 4] = (byte)(weak & 0xFF);
                        b[a + 5] = (byte)(weak >> 8);
                        changed++;
                    }
                    a += anext;
                }
                if (next == 0) break;
                p += next;
            }
        }
        return changed;
    }
}
