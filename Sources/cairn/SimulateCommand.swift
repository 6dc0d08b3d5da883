import ArgumentParser
import CairnSimulator
import Foundation

/// `cairn simulate`: runs a scenario or a sweep (the default, `run`), or merges the outputs
/// of a sweep's slices (`merge`). A group with a default rather than `merge` as a
/// subcommand of the run command: a command's positional argument would take "merge" as
/// a scenario file.
struct SimulateGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a network scenario or a sweep on the deterministic simulator, or merge a sweep's slices.",
        subcommands: [Simulate.self, SimulateMerge.self],
        defaultSubcommand: Simulate.self)
}

/// `cairn simulate FILE.json [--seed N] [--out DIR]`: runs a scenario on the deterministic
/// simulator. Prints `SEED=` and the derived options first, a progress bar in simulated
/// days (on a terminal), a summary table, and last `trace-hash: <hex>`. A sweep file goes
/// to `SweepCommand`.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a network scenario on the deterministic simulator.",
        discussion: "The same scenario and seed always print the same trace hash. A sweep file (a scenario with a \"sweep\" object, see Scenarios/README.md) runs every cell × seed on all cores and writes sweep.csv and summary.csv. Exit status: 0 ok, 1 an invariant or an expected bound failed, 2 the scenario is invalid or outgrew the simulator.")

    @Argument(help: "Scenario file (JSON, see Scenarios/README.md); with --validate, the directory of validation scenarios (default Scenarios/validation).")
    var scenario: String?

    @Flag(help: "Run every validation scenario in the directory and compare it with its closed form (expected, simulated, 99.9% tolerance, PASS/FAIL); exit 1 on any FAIL.")
    var validate = false

    @Option(help: "Seed (drawn and printed when omitted).")
    var seed: UInt64?

    @Option(help: "Write metrics.json and timeseries.csv into this directory.")
    var out: String?

    @Flag(help: "Never draw a progress bar.")
    var noProgress = false

    @Flag(help: "Run the production NodeActor/CoordinatorActor on the simulator's serial executor instead of driving their state machines directly (same trace, slower).")
    var actors = false

    @Option(help: "Sweeps: run slice I (0-based, with --of N) of the run list: runs j with j % N == I.")
    var cell: Int?

    @Option(help: "Sweeps: the number of slices for --cell.")
    var of: Int?

    @Option(help: "Sweeps: print cell I as a plain scenario file (run it with --seed BASE+replicate to replay one run) and exit.")
    var expand: Int?

    @Option(help: "Sweeps: runs at once (default: one per core).")
    var jobs: Int?

    @Flag(help: "Sweeps: also write each run's samples to DIR/runs/CELL-SEED/timeseries.csv (with --out DIR), for scripts/report.py's healthy-shards chart.")
    var timeseries = false

    /// A sweep file goes to `SweepCommand`; sweep options on a plain scenario are an error.
    func runSweepIfOne(_ path: String) throws -> Bool {
        let sweepOptions = cell != nil || of != nil || expand != nil || jobs != nil || timeseries
        guard let data = FileManager.default.contents(atPath: path), let json = try? JSONValue.parse(bytes: Array(data)),
              SweepPlan.isSweep(json)
        else {
            if sweepOptions { throw SweepCommand.fail("\(path): --cell, --of, --expand, --jobs and --timeseries are for sweep files (a scenario with a \"sweep\" object)") }
            return false
        }
        guard !actors else { throw SweepCommand.fail("\(path): --actors runs single scenarios only") }
        let plan: SweepPlan
        do { plan = try SweepPlan(json: json) } catch { throw SweepCommand.fail("\(path): \(error)") }
        if let expand {
            try SweepCommand.expand(plan, cell: expand, file: path)
            return true
        }
        var slice: SweepOutput.Slice? = nil
        switch (cell, of) {
        case (nil, nil): break
        case let (i?, n?) where n >= 1 && (0..<n).contains(i): slice = SweepOutput.Slice(index: i, count: n)
        default: throw SweepCommand.fail("\(path): give --cell I --of N together, with 0 <= I < N")
        }
        if slice != nil, out == nil { throw SweepCommand.fail("\(path): a slice (--cell I --of N) is only of use with --out DIR, for merge to join") }
        if timeseries, out == nil { throw SweepCommand.fail("\(path): --timeseries writes under --out DIR: give --out") }
        if let jobs, jobs < 1 { throw SweepCommand.fail("--jobs \(jobs): at least 1") }
        try SweepCommand.run(plan, .init(file: path, seed: seed, out: out, slice: slice, jobs: jobs, progress: !noProgress, timeseries: timeseries))
        return true
    }

    func validate(_ dir: String, seed: UInt64) throws {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        guard !files.isEmpty else {
            FileHandle.standardError.write(Data("error: \(dir): no validation scenarios (*.json)\n".utf8))
            throw ExitCode(2)
        }
        print("SEED=\(seed)")
        var outcomes = [ValidationOutcome]()
        for file in files {
            let path = dir + "/" + file
            do {
                let s = try Scenario.load(path: path)
                outcomes.append(try Validation.run(s, seed: seed))
            } catch {
                FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        print(Validation.table(outcomes))
        print("")
        print(ClosedForms.storjTableText())
        let failed = outcomes.filter { !$0.passed }
        for o in failed {
            print("VALIDATION FAILED: \(o.scenario): simulated \(o.simulated), expected \(o.expected) ± \(o.tolerance) (seeds from \(o.seeds[0]); rerun with --seed \(seed))")
        }
        if !failed.isEmpty { throw ExitCode(1) }
    }

    func run() throws {
        var system = SystemRandomNumberGenerator()
        if validate {
            try validate(scenario ?? "Scenarios/validation", seed: seed ?? system.next())
            return
        }
        guard let scenario else {
            FileHandle.standardError.write(Data("error: give a scenario file, or --validate [DIR]\n".utf8))
            throw ExitCode(2)
        }
        if try runSweepIfOne(scenario) { return }
        let loaded: Scenario
        do {
            loaded = try Scenario.load(path: scenario)
        } catch {
            FileHandle.standardError.write(Data("error: \(scenario): \(error)\n".utf8))
            throw ExitCode(2)
        }
        let needed = MemoryEstimate.bytes(loaded)
        let physical = Double(ProcessInfo.processInfo.physicalMemory)
        if needed > physical * 0.9 {
            let gib = { (x: Double) in String(format: "%.1f GiB", x / 1024 / 1024 / 1024) }
            FileHandle.standardError.write(Data("error: \(scenario): this scenario needs about \(gib(needed)) of memory and the machine has \(gib(physical)): use fewer nodes, smaller backups (backup_gib) or larger packs (pack_mib)\n".utf8))
            throw ExitCode(2)
        }
        let seed = self.seed ?? system.next()
        print("SEED=\(seed)")
        print(Report.options(loaded))
        let simulation = Simulation(scenario: loaded, seed: seed, mode: actors ? .actors : .direct)
        let days = loaded.durationDays + loaded.convergenceDays
        if !noProgress, isatty(STDERR_FILENO) == 1 {
            simulation.progress = { day in Report.drawProgress(day: day, of: days) }
        }
        let clock = ContinuousClock()
        let started = clock.now
        simulation.debugLost = ProcessInfo.processInfo.environment["CAIRN_SIM_DEBUG"] != nil
        var result: SimulationResult
        do {
            result = try simulation.run()
        } catch {
            if simulation.progress != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            FileHandle.standardError.write(Data("error: \(scenario): \(error)\n".utf8))
            throw ExitCode(2)
        }
        for l in simulation.debugLines { print(l) }
        let elapsed = clock.now - started
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if simulation.progress != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        for v in result.violations { print("INVARIANT VIOLATED: \(v)") }
        for f in result.expectationFailures { print("EXPECTATION FAILED: \(f)") }
        print(Report.table(result, wallSeconds: wall))
        if let out {
            try Report.write(result, wallSeconds: wall, to: out)
        }
        print("trace-hash: \(result.traceHash)")
        result.timeseries = []
        if !result.violations.isEmpty || !result.expectationFailures.isEmpty { throw ExitCode(1) }
    }
}
