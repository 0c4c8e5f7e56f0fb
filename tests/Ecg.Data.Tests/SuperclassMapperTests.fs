module Ecg.Data.Tests.SuperclassMapperTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto
open Ecg.Data
open Ecg.Data.Tests.TestData

/// The benchmark rule read straight from the CSV text with regular expressions, independently of the
/// code under test: code -> diagnostic_class for rows whose diagnostic column is 1.
let referenceLabels (folder: string) =
    let statementRow = Regex("^([^,]+),(\"[^\"]*\"|[^,]*),([^,]*),([^,]*),([^,]*),([^,]*),", RegexOptions.Multiline)
    let classOf =
        [ for m in statementRow.Matches(File.ReadAllText(Path.Combine(folder, "scp_statements.csv"))) do
            if m.Groups.[3].Value.Trim() = "1.0" || m.Groups.[3].Value.Trim() = "1" then
                yield m.Groups.[1].Value, m.Groups.[6].Value ]
        |> Map.ofList
    let record = Regex("^(\\d+),.*?(\\{[^}]*\\})", RegexOptions.Multiline ||| RegexOptions.Singleline)
    let key = Regex("'([^']+)':")
    [ for m in record.Matches(File.ReadAllText(Path.Combine(folder, "ptbxl_database.csv"))) do
        let codes = [ for k in key.Matches(m.Groups.[2].Value) -> k.Groups.[1].Value ]
        yield int m.Groups.[1].Value, (codes |> List.choose (fun c -> Map.tryFind c classOf) |> List.distinct |> List.sort) ]
    |> Map.ofList

[<Tests>]
let tests =
    testList "SuperclassMapper" [
        test "classes are the diagnostic superclasses sorted alphabetically" {
            let db = PtbXlDatabase.Load(sampleFolder ())
            Expect.equal (SuperclassMapper.FromDatabase(db).ClassNames) [| "CD"; "HYP"; "MI"; "NORM"; "STTC" |] "classes"
        }
        test "every sample record's label set equals the rule read independently; 390 of 400 labeled" {
            let folder = sampleFolder ()
            let db = PtbXlDatabase.Load folder
            let mapper = SuperclassMapper.FromDatabase db
            let reference = referenceLabels folder
            Expect.equal reference.Count 400 "reference rows"
            for r in db.Records do
                Expect.equal (List.ofArray (mapper.Superclasses r)) reference.[r.EcgId] (sprintf "ecg_id %d" r.EcgId)
            let labeled = db.Records |> Array.filter (fun r -> mapper.Superclasses(r).Length > 0)
            Expect.equal labeled.Length 390 "labeled"
        }
        test "Encode writes the multi-hot row in class order; likelihood 0 still counts; unknown codes are ignored" {
            let db = PtbXlDatabase.Load(sampleFolder ())
            let mapper = SuperclassMapper.FromDatabase db
            let row = Array.create 5 9uy
            let any = mapper.Encode([| { Code = "IMI"; Likelihood = 0.0 }; { Code = "SR"; Likelihood = 0.0 }; { Code = "XYZ"; Likelihood = 100.0 } |], Span<byte>(row))
            Expect.isTrue any "labeled"
            Expect.equal row [| 0uy; 0uy; 1uy; 0uy; 0uy |] "MI only"
            Expect.isFalse (mapper.Encode([| { Code = "SR"; Likelihood = 0.0 } |], Span<byte>(row))) "rhythm only"
            Expect.equal row (Array.zeroCreate 5) "cleared"
        }
    ]
