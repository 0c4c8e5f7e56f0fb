namespace Ecg.Data

open System
open System.IO
open System.Text

/// The header of one `.npy` array: dtype descriptor (e.g. '<f4'), C order, shape.
[<CLIMutable>]
type NpyHeader =
    { Descr: string
      FortranOrder: bool
      Shape: int64[] }
    /// Number of elements (1 for a scalar).
    member h.ElementCount = h.Shape |> Array.fold (*) 1L

/// NPY format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): version 1.0
/// written, 1.0-3.0 read; plain dtypes only, never pickled objects.
[<AbstractClass; Sealed>]
type NpyFormat private () =
    static let magic = [| 0x93uy; byte 'N'; byte 'U'; byte 'M'; byte 'P'; byte 'Y' |]

    /// A shape as NumPy prints it: (), (3,), (2, 1000, 12).
    static member ShapeText(shape: int64[]) =
        match shape.Length with
        | 0 -> "()"
        | 1 -> sprintf "(%d,)" shape.[0]
        | _ -> "(" + String.Join(", ", shape) + ")"

    /// The header bytes (magic, version 1.0, length, dict padded with spaces so the data starts at a multiple of 64).
    static member HeaderBytes(descr: string, shape: int64[]) : byte[] = NpyFormat.HeaderBytes(descr, shape, 0)

    /// The header bytes padded to exactly `length` bytes (a multiple of 64), or to the shortest multiple of 64
    /// when `length` is 0: a file's header can then be rewritten in place with another shape.
    static member HeaderBytes(descr: string, shape: int64[], length: int) : byte[] =
        let dict = sprintf "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" descr (NpyFormat.ShapeText shape)
        let unpadded = 10 + dict.Length + 1
        let shortest = (unpadded + 63) / 64 * 64
        if length <> 0 && (length < shortest || length % 64 <> 0) then
            invalidArg "length" (sprintf "an NPY header of %d bytes cannot hold shape %s" length (NpyFormat.ShapeText shape))
        let total = if length = 0 then shortest else length
        let text = dict + String(' ', total - unpadded) + "\n"
        if text.Length > 65535 then invalidArg "shape" "NPY 1.0 header too long"
        let bytes = Array.zeroCreate<byte> total
        Array.blit magic 0 bytes 0 6
        bytes.[6] <- 1uy
        bytes.[7] <- 0uy
        bytes.[8] <- byte (text.Length &&& 0xFF)
        bytes.[9] <- byte (text.Length >>> 8)
        Encoding.ASCII.GetBytes(text, 0, text.Length, bytes, 10) |> ignore
        bytes

    /// Reads and parses the header from a stream positioned at the array's start; `where` names
    /// the array and file in errors.
    static member ReadHeader(stream: Stream, where: string) : NpyHeader =
        let fail msg = raise (InvalidDataException(sprintf "%s: %s" where msg))
        let pre = Array.zeroCreate<byte> 8
        (try stream.ReadExactly(pre, 0, 8) with :? EndOfStreamException -> fail "truncated before the NPY header")
        if pre.[0..5] <> magic then fail "not an NPY array (bad magic bytes)"
        let major = int pre.[6]
        let headerLength =
            match major with
            | 1 ->
                let b = Array.zeroCreate<byte> 2
                (try stream.ReadExactly(b, 0, 2) with :? EndOfStreamException -> fail "truncated NPY header")
                int b.[0] ||| (int b.[1] <<< 8)
            | 2 | 3 ->
                let b = Array.zeroCreate<byte> 4
                (try stream.ReadExactly(b, 0, 4) with :? EndOfStreamException -> fail "truncated NPY header")
                BitConverter.ToInt32(b, 0)
            | v -> fail (sprintf "NPY version %d is not supported" v)
        if headerLength < 0 || headerLength > 1_000_000 then fail "NPY header length is invalid"
        let hb = Array.zeroCreate<byte> headerLength
        (try stream.ReadExactly(hb, 0, headerLength) with :? EndOfStreamException -> fail "truncated NPY header")
        let text = (if major = 3 then Encoding.UTF8 else Encoding.Latin1).GetString hb
        let valueOf (key: string) =
            let k = text.IndexOf("'" + key + "'")
            if k < 0 then fail (sprintf "NPY header has no '%s'" key)
            let colon = text.IndexOf(':', k)
            text.Substring(colon + 1).TrimStart()
        let descrText = valueOf "descr"
        if descrText.Length = 0 || (descrText.[0] <> '\'' && descrText.[0] <> '"') then
            fail "dtype is not a simple type (structured or object arrays are not supported)"
        let descr = descrText.Substring(1, descrText.IndexOf(descrText.[0], 1) - 1)
        let fortran = (valueOf "fortran_order").StartsWith "True"
        let shapeText = valueOf "shape"
        if not (shapeText.StartsWith "(") then fail "NPY shape is not a tuple"
        let inner = shapeText.Substring(1, shapeText.IndexOf ')' - 1)
        let shape =
            inner.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
            |> Array.map (fun t -> match Int64.TryParse t with | true, v when v >= 0L -> v | _ -> fail (sprintf "NPY shape '%s' is invalid" shapeText))
        { Descr = descr; FortranOrder = fortran; Shape = shape }
