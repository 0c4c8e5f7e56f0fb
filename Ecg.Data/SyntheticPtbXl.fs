namespace Ecg.Data

open System
open System.Collections.Generic
open System.Globalization
open System.IO
open System.Runtime.CompilerServices
open System.Security.Cryptography
open System.Text
open System.Threading
open System.Threading.Tasks

[<assembly: InternalsVisibleTo("Ecg.Data.Tests")>]
do ()

/// What to generate.
[<CLIMutable>]
type SyntheticPtbXlOptions =
    { /// The folder to write (created; must be empty unless Overwrite).
      OutputFolder: string
      /// Records (ecg_id 1..RecordCount); PTB-XL has 21,799.
      RecordCount: int
      /// Same seed, same options -> byte-identical folder.
      Seed: int64
      /// 100 (records100/*_lr) and/or 500 (records500/*_hr). 500 Hz takes 5x the disk and time.
      SamplingRates: int[]
      /// Records written at once; 0 or less means one per processor. Does not change the output.
      MaxDegreeOfParallelism: int
      /// Allow a non-empty OutputFolder: its records100/ and records500/ are deleted and the files rewritten.
      Overwrite: bool }
    /// PTB-XL's size at 100 Hz only (the default: 500 Hz would take ~5x the disk), seed 1.
    static member Create(outputFolder: string) =
        { OutputFolder = outputFolder; RecordCount = 21799; Seed = 1L; SamplingRates = [| 100 |]; MaxDegreeOfParallelism = 0; Overwrite = false }

/// Progress while records are written.
[<CLIMutable>]
type SyntheticPtbXlProgress = { RecordsDone: int; Total: int; Elapsed: TimeSpan }

/// What Generate wrote.
[<CLIMutable>]
type SyntheticPtbXlResult =
    { Folder: string
      RecordCount: int
      SamplingRates: int[]
      /// Files written, SHA256SUMS.txt included.
      Files: int
      Bytes: int64
      ElapsedSeconds: float
      RecordsPerSecond: float
      /// Diagnostic superclasses in SuperclassMapper order (CD, HYP, MI, NORM, STTC) and how many records have each.
      ClassNames: string[]
      ClassCounts: int[]
      /// Records without any diagnostic superclass (the benchmark drops them).
      RecordsWithoutSuperclass: int
      /// Records with two or more superclasses.
      MultiLabelRecords: int }

/// One record's metadata and the labels and physiology that its signal is generated from.
[<CLIMutable>]
type internal SyntheticRecordPlan =
    { EcgId: int
      PatientId: int
      /// True age in years (the CSV writes 300 for 90+, as PTB-XL anonymises).
      Age: int
      /// 0 male, 1 female.
      Sex: int
      Height: float
      Weight: float
      Nurse: float
      Site: int
      Device: string
      RecordingDate: DateTime
      StratFold: int
      /// Diagnostic codes (null when absent), one per superclass at most.
      Norm: bool
      MiCode: string
      SttcCode: string
      CdCode: string
      HypCode: string
      /// Non-diagnostic form code or null (LVOLT, ABQRS, LOWT, NT_).
      FormCode: string
      /// Likelihood of each diagnostic code, same order as DiagnosticCodes.
      Likelihoods: float[]
      HeartRate: float
      SinusArrhythmia: bool
      /// Frontal QRS axis in degrees.
      QrsAxis: float
      StrongBaselineWander: bool
      HighNoise: bool
      ShowHeartAxis: bool
      InfarctionStadium: string
      ValidatedBy: float
      SecondOpinion: bool }
    member p.DiagnosticCodes =
        [| if p.Norm then "NORM"
           if not (isNull p.MiCode) then p.MiCode
           if not (isNull p.CdCode) then p.CdCode
           if not (isNull p.HypCode) then p.HypCode
           if not (isNull p.SttcCode) then p.SttcCode |]
    member p.RhythmCode = if p.SinusArrhythmia then "SARRH" elif p.HeartRate < 60.0 then "SBRAD" else "SR"

/// One wave of a beat: a Gaussian in time, centred Offset seconds after the R peak, times a heart
/// vector (X left, Y inferior, Z anterior; mV) that each lead sees through its projection.
[<Struct>]
type internal HeartWave = { Offset: float; Sigma: float; X: float; Y: float; Z: float }

/// Plausible 12-lead signals from a heart-vector model: P, QRS (septal q, R, S) and T waves per beat,
/// projected on the leads; labels change the waves (see docs/synthetic.md).
module internal SyntheticEcgModel =

    /// Independent channels: I, II, V1..V6 (III, aVR, aVL, aVF follow from I and II).
    let channels = 8

    /// Lead directions (X, Y, Z) times a gain: limb leads in the frontal plane, precordial leads around
    /// the horizontal plane (V1 right-anterior .. V6 left), closer to the heart so larger.
    let private leadVectors =
        let precordial (deg: float) (gain: float) = let a = deg * Math.PI / 180.0 in (gain * cos a, 0.0, gain * sin a)
        [| (1.0, 0.0, 0.0); (0.5, sqrt 3.0 / 2.0, 0.0)
           precordial 115.0 1.1; precordial 95.0 1.6; precordial 78.0 1.6; precordial 60.0 1.5; precordial 35.0 1.2; precordial 10.0 1.0 |]

    let private unit (x: float, y: float, z: float) = let n = sqrt (x * x + y * y + z * z) in if n = 0.0 then (0.0, 0.0, 0.0) else (x / n, y / n, z / n)
    let private wave off sigma (x, y, z) = { Offset = off; Sigma = sigma; X = x; Y = y; Z = z }
    let private scale k (w: HeartWave) = { w with X = k * w.X; Y = k * w.Y; Z = k * w.Z }

    let waves (plan: SyntheticRecordPlan) (rng: SplitMix64) (rr: float) : HeartWave[] =
        let female = plan.Sex = 1
        // Age and sex move amplitudes and intervals slightly, so metadata probes find something.
        let ampFactor = Math.Clamp(1.0 - 0.006 * float (plan.Age - 60), 0.6, 1.3) * (if female then 0.85 else 1.0) * exp (rng.Normal(0.0, 0.15))
        let a = 1.25 * ampFactor * (if plan.FormCode = "LVOLT" then 0.45 else 1.0)
        let phi = plan.QrsAxis * Math.PI / 180.0
        let pr = Math.Clamp(0.15 + 0.0006 * float (plan.Age - 60) + rng.Normal(0.0, 0.01), 0.12, 0.2)
        let p = wave (-(0.04 + pr - 0.05)) 0.022 (0.07 * ampFactor, 0.11 * ampFactor, 0.03 * ampFactor)
        let mutable qSeptal = Some(wave -0.028 0.008 (a * -0.1, a * 0.02, a * 0.12))
        let mutable r = wave 0.0 0.011 (a * cos phi, a * sin phi, a * -0.15)
        let mutable s = wave 0.027 0.010 (a * -0.15, a * -0.12, a * -0.45)
        let extra = ResizeArray<HeartWave>()
        let tAmp = 0.32 * (if female then 0.85 else 1.0) * exp (rng.Normal(0.0, 0.15)) * (match plan.FormCode with "LOWT" -> 0.3 | "NT_" -> 0.5 | _ -> 1.0)
        let tPhi = phi - 0.2
        let mutable t = (tAmp * cos tPhi, tAmp * sin tPhi, tAmp * 0.35)
        let mutable st = (0.0, 0.0, 0.0)
        let addT (x, y, z) = let (tx, ty, tz) = t in t <- (tx + x, ty + y, tz + z)
        let addSt (x, y, z) = let (sx, sy, sz) = st in st <- (sx + x, sy + y, sz + z)
        let scaleT k = let (tx, ty, tz) = t in t <- (k * tx, k * ty, k * tz)
        let mutable width = if plan.FormCode = "ABQRS" then 1.2 else 1.0
        // Conduction disturbances: wider QRS, changed direction, terminal R' for right bundle branch block.
        match plan.CdCode with
        | "CLBBB" ->
            width <- rng.Uniform(2.1, 2.5)
            qSeptal <- None
            r <- wave 0.0 r.Sigma (a * 1.0, a * 0.25, a * -0.75)
            s <- scale 0.4 s
            let (ux, uy, uz) = unit (1.0, 0.25, -0.75)
            scaleT 0.2
            addT (-0.3 * ux, -0.3 * uy, -0.3 * uz)
            addSt (-0.1 * ux, -0.1 * uy, -0.1 * uz)
        | "CRBBB" ->
            width <- rng.Uniform(1.4, 1.6)
            extra.Add(wave 0.065 0.02 (a * -0.35, 0.0, a * 0.55))
            addT (0.05, 0.0, -0.15)
        | "IRBBB" ->
            width <- 1.15
            extra.Add(wave 0.05 0.015 (a * -0.15, 0.0, a * 0.25))
        | "LAFB" -> width <- 1.1
        | _ -> ()
        // Left ventricular hypertrophy: larger leftward-posterior forces (tall R in V5-V6, deep S in V1-V2).
        if plan.HypCode = "LVH" then
            let k = rng.Uniform(0.8, 1.2)
            r <- { r with X = r.X + k * a * 0.45; Y = r.Y + k * a * 0.05; Z = r.Z - k * a * 0.55 }
            s <- { s with Z = s.Z * 1.6 }
            if rng.Chance 0.35 then
                scaleT -0.6
                let (ux, uy, uz) = unit (r.X, r.Y, r.Z)
                addSt (-0.08 * ux, -0.08 * uy, -0.08 * uz)
        // Infarction: an early vector away from the scar (pathological Q), inverted T over it, sometimes ST elevation.
        let stElevation = if rng.Chance 0.35 then rng.Uniform(0.1, 0.25) else 0.0
        let infarct (dx, dy, dz) =
            extra.Add(wave -0.018 0.014 (-a * 0.42 * dx, -a * 0.42 * dy, -a * 0.42 * dz))
            addT (-0.3 * dx, -0.3 * dy, -0.3 * dz)
            addSt (stElevation * dx, stElevation * dy, stElevation * dz)
        match plan.MiCode with
        | "IMI" -> infarct (0.0, 1.0, 0.0)
        | "ILMI" -> infarct (unit (0.6, 0.8, 0.0))
        | "ASMI" ->
            qSeptal <- None
            infarct (unit (-0.3, 0.0, 1.0))
        | "AMI" ->
            qSeptal <- None
            infarct (unit (0.3, 0.0, 1.0))
        | _ -> ()
        // ST-T changes: ST depression against the QRS direction and flat or inverted T.
        let (ux, uy, uz) = unit (r.X, r.Y, r.Z)
        match plan.SttcCode with
        | "NDT" -> scaleT (rng.Uniform(-0.4, 0.15))
        | "NST_" ->
            let d = rng.Uniform(0.05, 0.12)
            addSt (-d * ux, -d * uy, -d * uz)
            scaleT (rng.Uniform(0.3, 0.7))
        | "ISC_" ->
            let d = rng.Uniform(0.08, 0.2)
            addSt (-d * ux, -d * uy, -d * uz)
            scaleT (rng.Uniform(-0.8, -0.2))
        | "ISCAL" ->
            let d = rng.Uniform(0.08, 0.2)
            let (lx, ly, lz) = unit (0.9, 0.0, 0.45)
            addSt (-d * lx, -d * ly, -d * lz)
            scaleT 0.3
            let k = rng.Uniform(0.3, 0.6)
            addT (-k * lx, -k * ly, -k * lz)
        | _ -> ()
        // QT follows the heart rate (Bazett-like): T peak at 0.40 * sqrt(RR) - 0.12 s after R.
        let tPeak = 0.40 * sqrt rr - 0.12 + rng.Normal(0.0, 0.01)
        let qrs = [| match qSeptal with
                     | Some q -> yield q
                     | None -> ()
                     yield r
                     yield s
                     yield! extra |]
        [| yield p
           for w in qrs do yield { w with Offset = w.Offset * width; Sigma = w.Sigma * width }
           yield wave (0.06 * width + 0.09) 0.05 st
           yield wave (tPeak - 0.05) 0.055 (let (x, y, z) = t in (0.35 * x, 0.35 * y, 0.35 * z))
           yield wave tPeak 0.045 t |]

    /// Generates the record's beats, waves and baseline wander (rate-independent), then renders and quantizes
    /// each sampling rate with its own white-noise stream. Returns (Samples, 12) row-major ADC units per rate.
    let render (plan: SyntheticRecordPlan) (seed: uint64) (rates: int[]) : int16[][] =
        let rng = SplitMix64(SplitMix64.Mix(seed, uint64 plan.EcgId))
        let duration = 10.0
        let rr0 = 60.0 / plan.HeartRate
        let ws = waves plan rng rr0
        // Beat times: respiratory sinus arrhythmia plus jitter; start a beat early so the first seconds hold T waves.
        let respPeriod = rng.Uniform(3.0, 5.0)
        let respPhase = rng.Uniform(0.0, 2.0 * Math.PI)
        let rsa = if plan.SinusArrhythmia then rng.Uniform(0.07, 0.12) else rng.Uniform(0.005, 0.03)
        let peaks = ResizeArray<float>()
        let gains = ResizeArray<float>()
        let mutable tR = -rng.Uniform(0.0, rr0) - rr0
        while tR < duration + 0.7 do
            peaks.Add tR
            gains.Add(1.0 + rng.Normal(0.0, 0.03) + 0.04 * sin (2.0 * Math.PI * tR / respPeriod + respPhase))
            tR <- tR + rr0 * (1.0 + rsa * sin (2.0 * Math.PI * tR / respPeriod + respPhase) + rng.Normal(0.0, 0.015))
        // Baseline wander: two slow sinusoids per channel.
        let wanderScale = if plan.StrongBaselineWander then 3.0 else 1.0
        let wander = Array.init channels (fun _ -> Array.init 2 (fun _ -> struct (rng.Uniform(0.05, 0.5), rng.Uniform(0.0, 2.0 * Math.PI), wanderScale * rng.Uniform(0.0, 0.08))))
        let noiseSd = (if plan.HighNoise then 3.0 else 1.0) * rng.Uniform(0.005, 0.02)
        let projections =
            ws |> Array.map (fun w -> leadVectors |> Array.map (fun (lx, ly, lz) -> w.X * lx + w.Y * ly + w.Z * lz))
        rates
        |> Array.map (fun rate ->
            let fs = float rate
            let n = int (duration * fs)
            let ch = Array.zeroCreate<float> (n * channels)
            for b in 0 .. peaks.Count - 1 do
                let tb = peaks.[b]
                let gb = gains.[b]
                for wi in 0 .. ws.Length - 1 do
                    let w = ws.[wi]
                    let proj = projections.[wi]
                    let c = tb + w.Offset
                    let lo = max 0 (int (Math.Ceiling((c - 4.0 * w.Sigma) * fs)))
                    let hi = min (n - 1) (int (Math.Floor((c + 4.0 * w.Sigma) * fs)))
                    for i in lo .. hi do
                        let z = (float i / fs - c) / w.Sigma
                        let g = gb * exp (-0.5 * z * z)
                        let row = i * channels
                        for l in 0 .. channels - 1 do ch.[row + l] <- ch.[row + l] + g * proj.[l]
            let noise = SplitMix64(SplitMix64.Mix(SplitMix64.Mix(seed, uint64 plan.EcgId), uint64 rate))
            for i in 0 .. n - 1 do
                let row = i * channels
                for l in 0 .. channels - 1 do ch.[row + l] <- ch.[row + l] + noiseSd * noise.Normal()
            // Wander by the angle-addition recurrence: one sin/cos per sinusoid instead of one per sample.
            for l in 0 .. channels - 1 do
                for struct (f, ph, amp) in wander.[l] do
                    let step = 2.0 * Math.PI * f / fs
                    let cosStep, sinStep = cos step, sin step
                    let mutable sn = sin ph
                    let mutable cs = cos ph
                    for i in 0 .. n - 1 do
                        ch.[i * channels + l] <- ch.[i * channels + l] + amp * sn
                        let next = sn * cosStep + cs * sinStep
                        cs <- cs * cosStep - sn * sinStep
                        sn <- next
            // I and II in even ADC units, so III, aVR, aVL and aVF are exact integers of them (Einthoven/Goldberger).
            let out = Array.zeroCreate<int16> (n * 12)
            for i in 0 .. n - 1 do
                let row = i * channels
                let even (mv: float) = 2 * int (Math.Clamp(Math.Round(mv * 500.0, MidpointRounding.ToEven), -8000.0, 8000.0))
                let lI = even ch.[row]
                let lII = even ch.[row + 1]
                let o = i * 12
                out.[o] <- int16 lI
                out.[o + 1] <- int16 lII
                out.[o + 2] <- int16 (lII - lI)
                out.[o + 3] <- int16 (-(lI + lII) / 2)
                out.[o + 4] <- int16 (lI - lII / 2)
                out.[o + 5] <- int16 (lII - lI / 2)
                for v in 0 .. 5 do out.[o + 6 + v] <- WfdbWriter.ToAdc ch.[row + 2 + v]
            out)

/// Writes a synthetic PTB-XL folder: same layout, CSV columns and formats, WFDB headers and signal files
/// as the real database, with plausible labelled 12-lead signals (docs/synthetic.md). For scale and speed
/// tests and for trying the pipeline without downloading PTB-XL; not for clinical conclusions.
[<AbstractClass; Sealed>]
type SyntheticPtbXl private () =

    /// ptbxl_database.csv's header, as in PTB-XL.
    static member DatabaseHeader =
        "ecg_id,patient_id,age,sex,height,weight,nurse,site,device,recording_date,report,scp_codes,heart_axis,infarction_stadium1,infarction_stadium2,validated_by,second_opinion,initial_autogenerated_report,validated_by_human,baseline_drift,static_noise,burst_noise,electrodes_problems,extra_beats,pacemaker,strat_fold,filename_lr,filename_hr"

    /// The rows of PTB-XL's scp_statements.csv (CC BY 4.0, Wagner et al.) for the codes the generator
    /// uses, verbatim and in the official order, under the official 13-column header.
    static member ScpStatementsCsv =
        String.Join("\n",
            [| ",description,diagnostic,form,rhythm,diagnostic_class,diagnostic_subclass,Statement Category,SCP-ECG Statement Description,AHA code,aECG REFID,CDISC Code,DICOM Code"
               "NDT,non-diagnostic T abnormalities,1.0,1.0,,STTC,STTC,other ST-T descriptive statements,non-diagnostic T abnormalities,,,,"
               "NST_,non-specific ST changes,1.0,1.0,,STTC,NST_,Basic roots for coding ST-T changes and abnormalities,non-specific ST changes,145,MDC_ECG_RHY_STHILOST,,"
               "NORM,normal ECG,1.0,,,NORM,NORM,Normal/abnormal,normal ECG,1,,,F-000B7"
               "IMI,inferior myocardial infarction,1.0,,,MI,IMI,Myocardial Infarction,inferior myocardial infarction,161,,,"
               "ASMI,anteroseptal myocardial infarction,1.0,,,MI,AMI,Myocardial Infarction,anteroseptal myocardial infarction,165,,,"
               "LVH,left ventricular hypertrophy,1.0,,,HYP,LVH,Ventricular Hypertrophy,left ventricular hypertrophy,142,,C71076,"
               "LAFB,left anterior fascicular block,1.0,,,CD,LAFB/LPFB,Intraventricular and intra-atrial Conduction disturbances,left anterior fascicular block,101,MDC_ECG_BEAT_BLK_ANT_L_HEMI,C62267,D3-33140"
               "ISC_,non-specific ischemic,1.0,,,STTC,ISC_,Basic roots for coding ST-T changes and abnormalities,ischemic ST-T changes,226,,,"
               "IRBBB,incomplete right bundle branch block,1.0,,,CD,IRBBB,Intraventricular and intra-atrial Conduction disturbances,incomplete right bundle branch block,105,MDC_ECG_BEAT_RBB_BLK_INCOMP,C71048,D3-33112"
               "ISCAL,ischemic in anterolateral leads,1.0,,,STTC,ISCA,ischemic ST-T changes,in anterolateral leads,,,,"
               "CRBBB,complete right bundle branch block,1.0,,,CD,CRBBB,Intraventricular and intra-atrial Conduction disturbances,(complete) right bundle branch block,106,MDC_ECG_BEAT_RBB_BLK_COMP,C62270,D3-33110"
               "CLBBB,complete left bundle branch block,1.0,,,CD,CLBBB,Intraventricular and intra-atrial Conduction disturbances,(complete) left bundle branch block,104,MDC_ECG_BEAT_LBB_BLK_COMP,C62269,D3-33120 or 122752"
               "ILMI,inferolateral myocardial infarction,1.0,,,MI,IMI,Myocardial Infarction,inferolateral myocardial infarction,,,,"
               "AMI,anterior myocardial infarction,1.0,,,MI,AMI,Myocardial Infarction,anterior myocardial infarction,160,,,"
               "ABQRS,abnormal QRS,,1.0,,,,Normal/abnormal,abnormal QRS,,,,"
               "LOWT,low amplitude T-waves,,1.0,,,,other ST-T descriptive statements,low amplitude T-waves,366,,,"
               "NT_,non-specific T-wave changes,,1.0,,,,Basic roots for coding ST-T changes and abnormalities,non-specific T-wave changes,,,,"
               "LVOLT,low QRS voltages in the frontal and horizontal leads,,1.0,,,,Other QRS morphology descriptive statements,low QRS voltages in the frontal and horizontal leads,,,,"
               "SR,sinus rhythm,,,1.0,,,Statements related to impulse formation (abnormalities),sinus rhythm,20,MDC_ECG_RHY_SINUS_RHY,,"
               "SARRH,sinus arrhythmia,,,1.0,,,Statements related to impulse formation (abnormalities),sinus arrhythmia,23,MDC_ECG_RHY_SINUS_ARRHY,,"
               "SBRAD,sinus bradycardia,,,1.0,,,Statements related to impulse formation (abnormalities),sinus bradycardia,22,MDC_ECG_RHY_SINUS_BRADY,," |]) + "\n"

    static member private Descriptions =
        dict [ "NDT", "non-diagnostic t abnormalities"; "NST_", "non-specific st changes"; "NORM", "normal ecg"
               "IMI", "inferior myocardial infarction"; "ASMI", "anteroseptal myocardial infarction"; "LVH", "left ventricular hypertrophy"
               "LAFB", "left anterior fascicular block"; "ISC_", "ischemic st-t changes"; "IRBBB", "incomplete right bundle branch block"
               "ISCAL", "ischemic in anterolateral leads"; "CRBBB", "right bundle branch block"; "CLBBB", "left bundle branch block"
               "ILMI", "inferolateral myocardial infarction"; "AMI", "anterior myocardial infarction"; "ABQRS", "abnormal qrs"
               "LOWT", "low amplitude t-waves"; "NT_", "non-specific t-wave changes"; "LVOLT", "low qrs voltages"
               "SR", "sinus rhythm"; "SARRH", "sinus arrhythmia"; "SBRAD", "sinus bradycardia" ]

    /// Probabilities that set PTB-XL-like frequencies. Among labelled records PTB-XL has NORM 44%,
    /// MI 25%, STTC 24%, CD 22%, HYP 12%. NORM records get CD 6% / STTC 3% besides; the other 56% draw
    /// MI, STTC, CD, HYP independently conditioned on at least one, with p_i = m_i * P(at least one),
    /// solved by fixed-point iteration for marginals m = (0.25, 0.2175, 0.1729, 0.12) / 0.56.
    static member private PMi = 0.2919
    static member private PSttc = 0.2655
    static member private PCd = 0.2261
    static member private PHyp = 0.1401

    static member private Likelihood(rng: SplitMix64) =
        let u = rng.NextDouble()
        if u < 0.62 then 100.0 elif u < 0.8 then 80.0 elif u < 0.92 then 50.0 else 15.0

    /// All records' metadata and labels, drawn in order from one stream (cheap; signals come later in parallel).
    static member internal Plan(recordCount: int, seed: int64) : SyntheticRecordPlan[] =
        let rng = SplitMix64(SplitMix64.Mix(uint64 seed, 0xC0FFEEUL))
        // Patients: most have one record, some several (PTB-XL: 21,799 records of 18,869 patients).
        let slots = ResizeArray<int>(recordCount + 8)
        let mutable patients = 0
        while slots.Count < recordCount do
            let u = rng.NextDouble()
            let k = if u < 0.88 then 1 elif u < 0.97 then 2 elif u < 0.99 then 3 else 4 + rng.Below 5
            for _ in 1 .. k do slots.Add patients
            patients <- patients + 1
        let slots = slots.GetRange(0, recordCount).ToArray()
        for i in slots.Length - 1 .. -1 .. 1 do
            let j = rng.Below(i + 1)
            let t = slots.[i]
            slots.[i] <- slots.[j]
            slots.[j] <- t
        // Patient ids: distinct, shuffled, in PTB-XL's range.
        let ids = Array.init patients (fun i -> i + 1 + i / 7)
        for i in ids.Length - 1 .. -1 .. 1 do
            let j = rng.Below(i + 1)
            let t = ids.[i]
            ids.[i] <- ids.[j]
            ids.[j] <- t
        let patientSex = Array.init patients (fun _ -> if rng.Chance 0.48 then 1 else 0)
        let patientAge = Array.init patients (fun _ -> Math.Clamp(int (Math.Round(rng.Normal(62.0, 17.0))), 2, 95))
        let patientFold = Array.init patients (fun _ -> 1 + rng.Below 10)
        let patientHeight =
            Array.init patients (fun p -> Math.Round(if patientSex.[p] = 1 then rng.Normal(161.0, 7.0) else rng.Normal(171.0, 8.0)))
        let patientWeight =
            Array.init patients (fun p -> Math.Clamp(Math.Round(if patientSex.[p] = 1 then rng.Normal(65.0, 14.0) else rng.Normal(75.0, 14.0)), 30.0, 180.0))
        // Recordings run chronologically over PTB-XL's period (1984-11 to 2001-06); a patient ages between them.
        let start = DateTime(1984, 11, 9, 8, 0, 0)
        let span = (DateTime(2001, 6, 1) - start).TotalSeconds
        let dates =
            Array.init recordCount (fun i ->
                let day = start.AddSeconds(span * float i / float (max 1 recordCount)).Date
                day.AddSeconds(float (7 * 3600 + rng.Below(11 * 3600))))
        let firstDate = Array.create patients DateTime.MaxValue
        for i in 0 .. recordCount - 1 do
            if dates.[i] < firstDate.[slots.[i]] then firstDate.[slots.[i]] <- dates.[i]
        let devices = [| "CS-12   E"; "CS-12   E"; "CS-12   E"; "AT-6 C 5.5"; "AT-6 C 5.5"; "AT-6 C"; "CS-12"; "AT-6     6"; "AT-60    3" |]
        Array.init recordCount (fun i ->
            let p = slots.[i]
            let sex = patientSex.[p]
            let age = min 95 (patientAge.[p] + int ((dates.[i] - firstDate.[p]).TotalDays / 365.25))
            // Labels.
            let unlabeled = rng.Chance 0.02
            let mutable norm = false
            let mutable mi: string = null
            let mutable sttc: string = null
            let mutable cd: string = null
            let mutable hyp: string = null
            let mutable form: string = null
            if unlabeled then
                form <- rng.Pick [| "LVOLT"; "ABQRS"; "LOWT"; "NT_" |]
            elif rng.Chance 0.44 then
                norm <- true
                if rng.Chance 0.06 then cd <- rng.Pick [| "IRBBB"; "IRBBB"; "LAFB" |]
                elif rng.Chance 0.03 then sttc <- "NDT"
                if rng.Chance 0.03 then form <- "LVOLT"
            else
                let mutable any = false
                while not any do
                    let hasMi = rng.Chance SyntheticPtbXl.PMi
                    let hasSttc = rng.Chance SyntheticPtbXl.PSttc
                    let hasCd = rng.Chance SyntheticPtbXl.PCd
                    let hasHyp = rng.Chance SyntheticPtbXl.PHyp
                    any <- hasMi || hasSttc || hasCd || hasHyp
                    if any then
                        mi <- if hasMi then rng.Pick [| "IMI"; "IMI"; "IMI"; "ASMI"; "ASMI"; "ASMI"; "ILMI"; "AMI" |] else null
                        sttc <- if hasSttc then rng.Pick [| "NDT"; "NDT"; "NST_"; "ISC_"; "ISC_"; "ISCAL" |] else null
                        cd <- if hasCd then rng.Pick [| "CLBBB"; "CRBBB"; "IRBBB"; "IRBBB"; "LAFB"; "LAFB" |] else null
                        hyp <- if hasHyp then "LVH" else null
            let diagCount = (if norm then 1 else 0) + Seq.length (Seq.filter (isNull >> not) [ mi; sttc; cd; hyp ])
            let likelihoods = Array.init diagCount (fun _ -> SyntheticPtbXl.Likelihood rng)
            // Physiology: women a little faster, older people a little slower (then clipped to 50-100 bpm).
            let hr = Math.Clamp(rng.Normal(70.0, 10.0) + (if sex = 1 then 4.0 else 0.0) - 0.08 * float (age - 60), 50.0, 100.0)
            let axis =
                if cd = "LAFB" then rng.Uniform(-75.0, -45.0)
                else Math.Clamp(rng.Normal(45.0, 25.0) - 0.25 * float (age - 60), -40.0, 110.0)
            { EcgId = i + 1; PatientId = ids.[p]; Age = age; Sex = sex
              Height = (if rng.Chance 0.68 then nan else patientHeight.[p])
              Weight = (if rng.Chance 0.57 then nan else patientWeight.[p])
              Nurse = (if rng.Chance 0.12 then nan else float (rng.Below 12))
              Site = rng.Pick [| 0; 0; 0; 0; 0; 1; 1; 2; 3; 3 |]
              Device = rng.Pick devices
              RecordingDate = dates.[i]; StratFold = patientFold.[p]
              Norm = norm; MiCode = mi; SttcCode = sttc; CdCode = cd; HypCode = hyp; FormCode = form
              Likelihoods = likelihoods; HeartRate = hr; SinusArrhythmia = rng.Chance 0.05; QrsAxis = axis
              StrongBaselineWander = rng.Chance 0.08; HighNoise = rng.Chance 0.1
              ShowHeartAxis = rng.Chance 0.3
              InfarctionStadium = (if isNull mi then "" else rng.Pick [| "unknown"; "Stadium III"; "Stadium III"; "Stadium II-III"; "Stadium I"; "Stadium II" |])
              ValidatedBy = (if rng.Chance 0.66 then nan else float (rng.Below 8))
              SecondOpinion = rng.Chance 0.025 })

    static member private Csv(field: string) =
        if field.IndexOfAny([| ','; '"'; '\n'; '\r' |]) >= 0 then "\"" + field.Replace("\"", "\"\"") + "\"" else field

    /// A float column as pandas writes whole numbers (`56.0`), blank for missing.
    static member private Number(v: float) =
        if Double.IsNaN v then "" else v.ToString("0.0###", CultureInfo.InvariantCulture)

    /// The record's path without extension, e.g. records100/00000/00001_lr.
    static member RecordPath(ecgId: int, samplingRate: int) =
        let folder = (ecgId / 1000) * 1000
        match samplingRate with
        | 100 -> sprintf "records100/%05d/%05d_lr" folder ecgId
        | 500 -> sprintf "records500/%05d/%05d_hr" folder ecgId
        | other -> invalidArg "samplingRate" (sprintf "PTB-XL has 100 Hz and 500 Hz records, not %d Hz" other)

    static member internal CsvLine(p: SyntheticRecordPlan) =
        let inv = CultureInfo.InvariantCulture
        let diag = p.DiagnosticCodes
        let codes =
            [| for i in 0 .. diag.Length - 1 do yield sprintf "'%s': %s" diag.[i] (p.Likelihoods.[i].ToString("0.0", inv))
               if not (isNull p.FormCode) then yield sprintf "'%s': 0.0" p.FormCode
               yield sprintf "'%s': 0.0" p.RhythmCode |]
        let scpCodes = "{" + String.Join(", ", codes) + "}"
        let d = SyntheticPtbXl.Descriptions
        let report =
            let parts =
                [| yield d.[p.RhythmCode]
                   for c in diag do yield d.[c]
                   if not (isNull p.FormCode) then yield d.[p.FormCode] |]
            String.Join(". ", parts) + "."
        let axis =
            if not p.ShowHeartAxis then ""
            elif p.QrsAxis < -30.0 then "ALAD" elif p.QrsAxis < 0.0 then "LAD" elif p.QrsAxis <= 90.0 then "MID" else "RAD"
        let fields =
            [| p.EcgId.ToString inv; SyntheticPtbXl.Number(float p.PatientId)
               SyntheticPtbXl.Number(if p.Age >= 90 then 300.0 else float p.Age); p.Sex.ToString inv
               SyntheticPtbXl.Number p.Height; SyntheticPtbXl.Number p.Weight; SyntheticPtbXl.Number p.Nurse
               SyntheticPtbXl.Number(float p.Site); p.Device; p.RecordingDate.ToString("yyyy-MM-dd HH:mm:ss", inv)
               report; scpCodes; axis; p.InfarctionStadium; ""; SyntheticPtbXl.Number p.ValidatedBy
               (if p.SecondOpinion then "True" else "False"); "False"; "True"
               (if p.StrongBaselineWander then " , alles" else ""); (if p.HighNoise then " , alles,  " else "")
               ""; ""; ""; ""; p.StratFold.ToString inv
               SyntheticPtbXl.RecordPath(p.EcgId, 100); SyntheticPtbXl.RecordPath(p.EcgId, 500) |]
        String.Join(",", fields |> Array.map SyntheticPtbXl.Csv)

    static member private ReadmeText(options: SyntheticPtbXlOptions) =
        let rates = String.Join(" and ", options.SamplingRates |> Array.map (sprintf "%d Hz"))
        String.Join("\n",
            [| "# Synthetic PTB-XL (NOT real patient data)"
               ""
               sprintf "Generated by Ecg.Data.SyntheticPtbXl: %d records, seed %d, %s." options.RecordCount options.Seed rates
               ""
               "Every signal, label and metadata value here is synthetic: drawn from a simple heart-vector"
               "model and PTB-XL-like label frequencies. It has PTB-XL's layout and file formats, so the"
               "pipeline can be tested at full scale without the real database. Do not draw clinical or"
               "scientific conclusions from it; results on it say nothing about real ECGs."
               ""
               "scp_statements.csv holds rows of PTB-XL's scp_statements.csv (Wagner P, Strodthoff N,"
               "Bousseljot R, Samek W, Schaeffter T: PTB-XL, a large publicly available electrocardiography"
               "dataset, PhysioNet), licensed under Creative Commons Attribution 4.0; see LICENSE.txt."
               "filename_hr names records500 files even when only 100 Hz records were generated, as the CSV"
               "of PTB-XL always does."
               "" |])

    static member private LicenseText =
        String.Join("\n",
            [| "The synthetic signals and metadata in this folder were generated by a program and describe no"
               "person; they may be used without restriction."
               ""
               "scp_statements.csv reproduces rows of the PTB-XL database's scp_statements.csv,"
               "Copyright the PTB-XL authors (Wagner P, Strodthoff N, Bousseljot R, Samek W, Schaeffter T),"
               "licensed under the Creative Commons Attribution 4.0 International License:"
               "https://creativecommons.org/licenses/by/4.0/"
               "" |])

    /// Writes the folder. Records are generated in parallel from per-record seeds, so the output depends
    /// only on the options (not on MaxDegreeOfParallelism); SHA256SUMS.txt is written last.
    static member Generate(options: SyntheticPtbXlOptions, progress: Action<SyntheticPtbXlProgress>) : SyntheticPtbXlResult =
        let clock = Diagnostics.Stopwatch.StartNew()
        if isNull (box options) || String.IsNullOrWhiteSpace options.OutputFolder then invalidArg "options" "OutputFolder is required"
        if options.RecordCount < 1 || options.RecordCount > 99999 then
            invalidArg "options" (sprintf "RecordCount must be 1..99999 (five-digit ecg_id), not %d" options.RecordCount)
        let rates = if isNull options.SamplingRates || options.SamplingRates.Length = 0 then [| 100 |] else options.SamplingRates |> Array.distinct |> Array.sort
        for r in rates do
            if r <> 100 && r <> 500 then invalidArg "options" (sprintf "SamplingRates may hold 100 and 500, not %d" r)
        let options = { options with SamplingRates = rates }
        let folder = Path.GetFullPath options.OutputFolder
        if Directory.Exists folder && Directory.EnumerateFileSystemEntries(folder) |> Seq.isEmpty |> not then
            if not options.Overwrite then
                raise (IOException(sprintf "%s is not empty: choose an empty folder or set Overwrite" folder))
            for sub in [ "records100"; "records500" ] do
                let p = Path.Combine(folder, sub)
                if Directory.Exists p then Directory.Delete(p, true)
        Directory.CreateDirectory folder |> ignore
        let plans = SyntheticPtbXl.Plan(options.RecordCount, options.Seed)
        let seed = SplitMix64.Mix(uint64 options.Seed, 0x5167UL)
        let n = plans.Length
        let sums = Array.zeroCreate<(string * string)[]> n
        let bytes = Array.zeroCreate<int64> n
        let mutable finished = 0
        let mutable reported = 0
        let gate = obj ()
        let report doneCount =
            if not (isNull progress) then
                lock gate (fun () ->
                    if doneCount > reported || doneCount = 0 then
                        reported <- doneCount
                        progress.Invoke { RecordsDone = doneCount; Total = n; Elapsed = clock.Elapsed })
        report 0
        let parallelism = if options.MaxDegreeOfParallelism > 0 then options.MaxDegreeOfParallelism else Environment.ProcessorCount
        // Records go to a staging folder that is moved into place whole: the output never holds a partial
        // records100/, and files need no rename each.
        let staging = Path.Combine(folder, ".synthetic-staging-" + Guid.NewGuid().ToString("N"))
        try
            for rate in rates do
                for ecgId in 0 .. 1000 .. n do
                    Directory.CreateDirectory(Path.Combine(staging, Path.GetDirectoryName(SyntheticPtbXl.RecordPath(max 1 ecgId, rate)))) |> ignore
            Parallel.For(0, n, ParallelOptions(MaxDegreeOfParallelism = parallelism), fun i ->
                let plan = plans.[i]
                let signals = SyntheticEcgModel.render plan seed rates
                let written =
                    rates |> Array.mapi (fun k rate ->
                        let rel = SyntheticPtbXl.RecordPath(plan.EcgId, rate)
                        let dir = Path.Combine(staging, Path.GetDirectoryName rel)
                        WfdbWriter.Write(dir, Path.GetFileName rel, rate, WfdbWriter.PtbXlLeadNames, signals.[k], false), rel)
                sums.[i] <- [| for w, rel in written do
                                  yield (w.SignalSha256, rel + ".dat")
                                  yield (w.HeaderSha256, rel + ".hea") |]
                bytes.[i] <- written |> Array.sumBy (fun (w, _) -> w.Bytes)
                let d = Interlocked.Increment(&finished)
                if d % 250 = 0 || d = n then report d) |> ignore
            for rate in rates do
                let name = sprintf "records%d" rate
                Directory.Move(Path.Combine(staging, name), Path.Combine(folder, name))
        finally
            if Directory.Exists staging then Directory.Delete(staging, true)
        let rootFiles =
            [| "ptbxl_database.csv", String.Join("\n", Array.append [| SyntheticPtbXl.DatabaseHeader |] (plans |> Array.map SyntheticPtbXl.CsvLine)) + "\n"
               "scp_statements.csv", SyntheticPtbXl.ScpStatementsCsv
               "README.md", SyntheticPtbXl.ReadmeText options
               "LICENSE.txt", SyntheticPtbXl.LicenseText |]
        let rootSums =
            rootFiles |> Array.map (fun (name, text) ->
                let b = Encoding.UTF8.GetBytes text
                AtomicFile.WriteAllBytes(Path.Combine(folder, name), b)
                (Convert.ToHexStringLower(SHA256.HashData b), name), int64 b.Length)
        let allSums =
            Array.append (rootSums |> Array.map fst) (Array.concat sums)
            |> Array.sortWith (fun (_, a) (_, b) -> String.CompareOrdinal(a, b))
        let sumsText = String.Join("", allSums |> Array.map (fun (h, p) -> h + " " + p + "\n"))
        let sumsBytes = Encoding.ASCII.GetBytes sumsText
        AtomicFile.WriteAllBytes(Path.Combine(folder, "SHA256SUMS.txt"), sumsBytes)
        // Label statistics, through the same mapping preprocessing uses.
        let classNames = [| "CD"; "HYP"; "MI"; "NORM"; "STTC" |]
        let counts = Array.zeroCreate<int> classNames.Length
        let mutable unlabeled = 0
        let mutable multi = 0
        for p in plans do
            let has = [| not (isNull p.CdCode); not (isNull p.HypCode); not (isNull p.MiCode); p.Norm; not (isNull p.SttcCode) |]
            has |> Array.iteri (fun k h -> if h then counts.[k] <- counts.[k] + 1)
            let c = has |> Array.filter id |> Array.length
            if c = 0 then unlabeled <- unlabeled + 1
            if c >= 2 then multi <- multi + 1
        let elapsed = clock.Elapsed.TotalSeconds
        { Folder = folder; RecordCount = n; SamplingRates = rates
          Files = allSums.Length + 1
          Bytes = Array.sum bytes + (rootSums |> Array.sumBy snd) + int64 sumsBytes.Length
          ElapsedSeconds = elapsed; RecordsPerSecond = (if elapsed > 0.0 then float n / elapsed else 0.0)
          ClassNames = classNames; ClassCounts = counts; RecordsWithoutSuperclass = unlabeled; MultiLabelRecords = multi }

    static member Generate(options: SyntheticPtbXlOptions) : SyntheticPtbXlResult = SyntheticPtbXl.Generate(options, null)
