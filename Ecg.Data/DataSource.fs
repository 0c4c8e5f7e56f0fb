namespace Ecg.Data

open System
open System.IO

/// Where a PTB-XL copy lives: an explicit folder, else the PTBXL_DIR environment variable.
[<AbstractClass; Sealed>]
type DataSource private () =

    /// The environment variable users set to point every stage at their PTB-XL copy.
    static member EnvironmentVariable = "PTBXL_DIR"

    /// The folder to read PTB-XL from, or None when neither an explicit folder nor PTBXL_DIR is given.
    static member TryResolve(explicitFolder: string) : string option =
        let chosen =
            if not (String.IsNullOrWhiteSpace explicitFolder) then explicitFolder
            else Environment.GetEnvironmentVariable DataSource.EnvironmentVariable
        if String.IsNullOrWhiteSpace chosen then None else Some(Path.GetFullPath chosen)

    /// True when the folder has the two files every PTB-XL release has at its root.
    static member LooksLikePtbXl(folder: string) =
        File.Exists(Path.Combine(folder, "ptbxl_database.csv"))
        && File.Exists(Path.Combine(folder, "scp_statements.csv"))
