module Ecg.Cli.Tests.CommandLineTests

open Expecto
open Ecg.Cli.Tests.EcgProcess

[<Tests>]
let tests =
    testList "CommandLine" [
        test "--help lists the commands with descriptions and exits 0" {
            let r = run [ "--help" ]
            Expect.equal r.ExitCode 0 r.Error
            Expect.stringContains r.Output "COMMANDS" "a command list"
            Expect.stringContains r.Output "doctor" "the doctor command"
            Expect.stringContains r.Output "Check this machine" "with its description"
        }

        test "--version prints the version and exits 0" {
            let r = run [ "--version" ]
            Expect.equal r.ExitCode 0 r.Error
            Expect.isMatch (r.Output.Trim()) @"^\d+\.\d+\.\d+" "a semantic version"
        }

        test "an unknown command exits 2 with a one-line reason" {
            let r = run [ "frobnicate" ]
            Expect.equal r.ExitCode 2 "bad usage"
            Expect.stringContains (r.Output + r.Error) "Unknown command 'frobnicate'" "names the command"
        }

        test "an unknown option exits 2 with a one-line reason" {
            let r = run [ "doctor"; "--bogus" ]
            Expect.equal r.ExitCode 2 "bad usage"
            Expect.stringContains (r.Output + r.Error) "Unknown option 'bogus'" "names the option"
        }

        test "train --help lists every architecture; the choice options list what they accept" {
            let r = run [ "train"; "--help" ]
            Expect.equal r.ExitCode 0 r.Error
            for name in Ecg.Model.ModelFactory.Names do Expect.stringContains r.Output name (sprintf "architecture %s listed" name)
            let evaluate = run [ "evaluate"; "--help" ]
            for accepted in [ "train, validation, test or all"; "max, mean"; "best, an epoch number, or an averaged epoch range" ] do
                Expect.stringContains evaluate.Output accepted (sprintf "evaluate --help: %s" accepted)
        }

        test "doctor passes on the sample and fails on a folder that is not PTB-XL" {
            let good = run [ "doctor"; "--data"; sampleFolder () ]
            Expect.equal good.ExitCode 0 (good.Output + good.Error)
            Expect.stringContains good.Output "tensors and gradients work" "TorchSharp loads in the ecg program"
            let bad = run [ "doctor"; "--data"; System.IO.Path.GetTempPath() ]
            Expect.equal bad.ExitCode 1 "a failed check"
            Expect.stringContains bad.Output "FAILED" "says what failed"
        }
    ]
