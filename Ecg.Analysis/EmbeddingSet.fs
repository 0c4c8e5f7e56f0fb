namespace Ecg.Analysis

open System
open System.IO
open System.IO.Compression
open System.Runtime.InteropServices
open System.Text
open Deedle
open Ecg.Data

/// Embeddings of some records of a dataset under one training session's weights.
/// Embeddings is (Count, Dimension) row-major float32; Labels (Count, ClassNames.Length) multi-hot.
[<CLIMutable>]
type EmbeddingSet =
    { SessionNumber: int
      /// "best" or an epoch number.
      Weights: string
      /// "train", "validation", "test" or "all".
      Split: string
      EcgIds: int[]
      Embeddings: float32[]
      Dimension: int
      Labels: byte[]
      ClassNames: string[]
      /// What the embeddings were computed from (EmbeddingStage.Fingerprint: the weights file's and the records'
      /// SHA-256); null or "" in files written before it was recorded, which are never reused.
      Fingerprint: string
      /// How a record was embedded: "windows" (the mean over the session's evaluation windows) or "whole" (one pass
      /// over the whole record); null in files written before it was recorded.
      Pass: string }
    member s.Count = s.EcgIds.Length
    /// Rows as double[][] for the analyses (FeatureMatrix convention).
    member s.Rows() = FeatureMatrix.OfRowMajor(s.Embeddings, s.Count, s.Dimension)
    /// Multi-hot label rows.
    member s.LabelRows() = ClusterEvaluation.labelRows s.Labels s.ClassNames.Length
    /// The embedding of one record (by position), copied.
    member s.Row(index: int) = Array.sub s.Embeddings (index * s.Dimension) s.Dimension

/// `embeddings_{split}.npz`: a NumPy archive without pickled objects (numpy.load(path) opens it):
/// ecg_ids <i4 (N,); embeddings <f4 (N, D); labels |u1 (N, C); class_names <U (C,);
/// split <U (1,); weights <U (1,); session <i4 (1,); fingerprint <U (1,) and pass <U (1,) (absent in older files).
[<AbstractClass; Sealed>]
type EmbeddingFile private () =

    /// Writes atomically (temporary file, then rename).
    static member Write(path: string, set: EmbeddingSet) =
        let n = set.Count
        if set.Embeddings.Length <> n * set.Dimension then
            invalidArg "set" (sprintf "embeddings hold %d values, expected %d records x %d" set.Embeddings.Length n set.Dimension)
        if set.Labels.Length <> n * set.ClassNames.Length then
            invalidArg "set" (sprintf "labels hold %d values, expected %d records x %d classes" set.Labels.Length n set.ClassNames.Length)
        AtomicFile.Write(path, fun temporary ->
            use fs = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write)
            use npz = new NpzWriter(fs, CompressionLevel.Fastest)
            npz.Write("ecg_ids", [| int64 n |], set.EcgIds)
            npz.Write("embeddings", [| int64 n; int64 set.Dimension |], set.Embeddings)
            npz.Write("labels", [| int64 n; int64 set.ClassNames.Length |], set.Labels)
            npz.Write("class_names", [| int64 set.ClassNames.Length |], set.ClassNames)
            npz.Write("split", [| 1L |], [| set.Split |])
            npz.Write("weights", [| 1L |], [| set.Weights |])
            npz.Write("session", [| 1L |], [| set.SessionNumber |])
            if not (String.IsNullOrEmpty set.Fingerprint) then npz.Write("fingerprint", [| 1L |], [| set.Fingerprint |])
            if not (String.IsNullOrEmpty set.Pass) then npz.Write("pass", [| 1L |], [| set.Pass |]))

    /// Reads a file written by Write; errors name the file and array.
    static member Read(path: string) : EmbeddingSet =
        if not (File.Exists path) then raise (FileNotFoundException(sprintf "embeddings file %s not found" path, path))
        let file = Path.GetFileName path
        use zip =
            try new ZipArchive(File.OpenRead path, ZipArchiveMode.Read, false)
            with :? InvalidDataException as e -> raise (InvalidDataException(sprintf "%s is not a readable .npz (zip) file: %s" file e.Message, e))
        let fail name msg : 'a = raise (InvalidDataException(sprintf "%s, array %s: %s" file name msg))
        let read (name: string) (check: string -> bool) (expected: string) =
            let entry = zip.GetEntry(name + ".npy")
            if isNull entry then fail name "missing from the file"
            use s = entry.Open()
            let h = NpyFormat.ReadHeader(s, sprintf "%s, array %s" file name)
            if not (check h.Descr) then fail name (sprintf "dtype %s, expected %s" h.Descr expected)
            if h.FortranOrder then fail name "is in Fortran order, expected C order"
            let bytes = Array.zeroCreate<byte> (int h.ElementCount * (match h.Descr with | "<f4" | "<i4" -> 4 | "|u1" | "<u1" -> 1 | d -> 4 * int (d.Substring 2)))
            (try s.ReadExactly(Span<byte>(bytes)) with :? EndOfStreamException -> fail name "truncated: fewer bytes than its shape needs")
            h, bytes
        let strings name =
            let h, bytes = read name (fun d -> d.StartsWith "<U") "<U{n}"
            let width = int (h.Descr.Substring 2)
            Array.init (int h.ElementCount) (fun i -> Encoding.UTF32.GetString(bytes, i * width * 4, width * 4).TrimEnd('\000'))
        let ints name = let _, b = read name ((=) "<i4") "<i4" in MemoryMarshal.Cast<byte, int>(ReadOnlySpan<byte>(b)).ToArray()
        let ecgIds = ints "ecg_ids"
        let eh, eb = read "embeddings" ((=) "<f4") "<f4"
        if eh.Shape.Length <> 2 || int eh.Shape.[0] <> ecgIds.Length then
            fail "embeddings" (sprintf "shape %A, expected (%d, D)" eh.Shape ecgIds.Length)
        let lh, labels = read "labels" (fun d -> d = "|u1" || d = "<u1") "|u1"
        let classNames = strings "class_names"
        if lh.Shape.Length <> 2 || int lh.Shape.[0] <> ecgIds.Length || int lh.Shape.[1] <> classNames.Length then
            fail "labels" (sprintf "shape %A, expected (%d, %d)" lh.Shape ecgIds.Length classNames.Length)
        { SessionNumber = (ints "session").[0]; Weights = (strings "weights").[0]; Split = (strings "split").[0]
          EcgIds = ecgIds; Embeddings = MemoryMarshal.Cast<byte, float32>(ReadOnlySpan<byte>(eb)).ToArray()
          Dimension = int eh.Shape.[1]; Labels = labels; ClassNames = classNames
          Fingerprint = if isNull (zip.GetEntry "fingerprint.npy") then null else (strings "fingerprint").[0]
          Pass = if isNull (zip.GetEntry "pass.npy") then null else (strings "pass").[0] }

    /// Frame indexed by ecg_id: e000 .. e127 (float) embedding columns joined with the dataset's metadata
    /// (ProcessedDatasetFrame.Metadata: strat_fold, age, sex, ..., one 0/1 column per class). Records of the set
    /// missing from the dataset get missing metadata.
    static member Frame(set: EmbeddingSet, dataset: ProcessedDataset) : Frame<int, string> =
        let digits = max 3 (string (set.Dimension - 1)).Length
        let columns =
            [ for j in 0 .. set.Dimension - 1 ->
                let name = "e" + j.ToString().PadLeft(digits, '0')
                name, Series(set.EcgIds, Array.init set.Count (fun i -> float set.Embeddings.[i * set.Dimension + j])) ]
        let embeddings = Frame.ofColumns columns
        let metadata = ProcessedDatasetFrame.Metadata dataset
        embeddings.Join(metadata, JoinKind.Left)
