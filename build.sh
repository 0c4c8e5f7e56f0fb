#!/usr/bin/env bash
# Fresh-machine set-up, then FAKE: ./build.sh -t <Target> [-- options]
# Installs what a machine with only the .NET 10 SDK lacks: the local tools (fake-cli, paket),
# the .NET 6 reference assemblies fake-cli compiles build.fsx against, and the NuGet packages.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Keep .NET off AVX-512: on some virtual machines it makes TorchSharp return sporadic NaN (see
# Ecg.Model/Avx512Guard.cs; the programs also relaunch themselves with it when started directly).
export DOTNET_EnableAVX512F="${DOTNET_EnableAVX512F:-0}"

# fake-cli 6 compiles build.fsx against .NET 6 reference assemblies, looked up under the dotnet
# root; a .NET-10-only SDK lacks them, so unpack the NuGet package Microsoft.NETCore.App.Ref there.
DOTNET_DIR="${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}"
REF_VERSION=6.0.36
REF_DIR="$DOTNET_DIR/packs/Microsoft.NETCore.App.Ref/$REF_VERSION"
if [ ! -f "$REF_DIR/ref/net6.0/System.Runtime.dll" ]; then
  if [ ! -w "$DOTNET_DIR/packs" ] && [ ! -w "$DOTNET_DIR" ]; then
    echo "build.sh: $DOTNET_DIR is not writable; run once as root, or install the .NET SDK in a user folder" >&2
    echo "          (dotnet-install.sh) and set DOTNET_ROOT, so the .NET 6 reference pack can be added." >&2
    exit 1
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cat > "$tmp/refpack.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Microsoft.NETCore.App.Ref" Version="[$REF_VERSION]" /></ItemGroup>
</Project>
XML
  dotnet restore "$tmp/refpack.csproj" -nologo -v q
  packages="$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')"
  source="${packages%/}/microsoft.netcore.app.ref/$REF_VERSION"
  mkdir -p "$REF_DIR.partial"
  cp -r "$source/ref" "$source/data" "$REF_DIR.partial/"
  mv "$REF_DIR.partial" "$REF_DIR"   # appears complete or not at all
  echo "build.sh: installed the .NET 6 reference pack into $REF_DIR"
fi

dotnet tool restore
dotnet paket restore
exec dotnet fake build "$@"
