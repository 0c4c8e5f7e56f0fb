using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Ecg.Model;

/// <summary>
/// Keeps the .NET runtime off AVX-512 on machines where that corrupts TorchSharp's results.
/// On the virtual machines this project is developed on (AMD EPYC with AVX-512 under a PVM hypervisor), a
/// TorchSharp forward pass returns NaN now and then when the machine is busy: 9 of 150 and 63 of 150 identical
/// passes under load, 0 of 150 with DOTNET_EnableAVX512F=0 (libtorch's own AVX-512 kernels are not the cause:
/// restricting oneDNN, MKL and ATen to AVX2 did not help). The variable is read when the runtime starts, so a
/// program that needs it relaunches itself once with it set. ECG_ALLOW_AVX512=1 turns the guard off.
/// </summary>
public static class Avx512Guard
{
    public const string RuntimeVariable = "DOTNET_EnableAVX512F";
    public const string OptOutVariable = "ECG_ALLOW_AVX512";

    /// <summary>What the relaunched process gets. (Also keeping libtorch's ATen, oneDNN and MKL to AVX2 made faults more frequent, not less.)</summary>
    public static readonly (string Name, string Value)[] Variables = { (RuntimeVariable, "0") };

    /// <summary>True when this process should not go on as it is: Linux x64, an AVX-512 CPU, the variable unset, no opt-out.</summary>
    public static bool RelaunchNeeded()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return false;
        if (Environment.GetEnvironmentVariable(RuntimeVariable) is { Length: > 0 }) return false;
        if (Environment.GetEnvironmentVariable(OptOutVariable) == "1") return false;
        try
        {
            return File.ReadLines("/proc/cpuinfo").Any(line => line.StartsWith("flags", StringComparison.Ordinal) && line.Contains(" avx512f"));
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Runs this program again with <see cref="RuntimeVariable"/>=0 when <see cref="RelaunchNeeded"/>, sharing the console,
    /// and returns the child's exit code; null when this process can go on itself.
    /// </summary>
    public static int? RelaunchIfNeeded(string[] args)
    {
        if (!RelaunchNeeded()) return null;
        var start = StartInfoForThisProgram(args);
        foreach (var (name, value) in Variables) start.Environment[name] = value;
        Console.CancelKeyPress += (_, e) => e.Cancel = true; // Ctrl+C reaches the child too; it decides how to stop
        using var child = Process.Start(start)!;
        child.WaitForExit();
        return child.ExitCode;
    }

    /// <summary>How to start this same program again with other arguments, sharing the console.</summary>
    public static ProcessStartInfo StartInfoForThisProgram(IEnumerable<string> args)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        // Under `dotnet app.dll` the host is dotnet and the app is the entry assembly; an apphost is the app itself.
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            start.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }
}
