#!/usr/bin/env bash
# Regenerates Ecg.Model/Export/OnnxProto/Onnx.cs (the ONNX protobuf types the exporter builds models with)
# from Ecg.Model/Export/OnnxProto/onnx.proto, with protoc from the Google.Protobuf.Tools package that
# paket restores (paket.dependencies pins it). onnx.proto is ONNX 1.12's (IR version 8), as Debian's
# python3-onnx ships it (/usr/lib/python3/dist-packages/onnx/onnx.proto); replace it to move to a newer IR.
# Types are generated `internal`: they are the exporter's implementation, not Ecg.Model's API.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(awk '$1 == "Google.Protobuf.Tools" { gsub(/[()]/, "", $2); print $2 }' "$root/paket.lock")"
[ -n "$version" ] || { echo "paket.lock has no Google.Protobuf.Tools: run dotnet paket restore" >&2; exit 1; }
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
tools="$packages/google.protobuf.tools/$version.0/tools"
[ -d "$tools" ] || tools="$packages/google.protobuf.tools/$version/tools"
case "$(uname -m)" in aarch64) arch=linux_aarch64 ;; *) arch=linux_x64 ;; esac
protoc="$tools/$arch/protoc"
[ -x "$protoc" ] || chmod +x "$protoc" 2>/dev/null || { echo "no protoc at $protoc: run dotnet paket restore" >&2; exit 1; }
out="$root/Ecg.Model/Export/OnnxProto"
"$protoc" --proto_path="$out" --csharp_out="$out" --csharp_opt=internal_access,file_extension=.cs "$out/onnx.proto"
echo "wrote $out/Onnx.cs (protoc $version)"
