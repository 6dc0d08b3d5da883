import ArgumentParser
import CairnSimulator
import Foundation
import Synchronization

/// `cairn simulate SWEEP.json`: every run (cell × seed) of a sweep, or one slice of them
/// (`--cell I --of N`), on a bounded pool of worker threads — one per core by default. Each
/// run is an ordinary, single-threaded deterministic simulation; the pool only decides
/// which finishes first, and the outputs are sorted by run, so they do not depend on it.
enum SweepCommand {
    struct Options {
        var file: String
        var seed: UInt64?
        var out: String?
        var slice: SweepOutput.Slice?
        var jobs: Int?
        var progress: Bool
        /// Also write each run's timeseries.csv under `out/runs/` (`--timeseries`).
        var timeseries = false
    }

    /// What the workers share: the next run to take and the rows so far.
    final class Pool: Sendable {
        struct State {
            var next = 0
            var done = 0
            var rows: [[String]] = []
            var stopped: [String] = []
            var violations = 0
            var expectationFailures = 0
        }
        let state = Mutex(State())
        let runs: [Int]
        init(runs: [Int]) { self.runs = runs }
    }

    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(2)
    }

    static func expand(_ plan: SweepPlan, cell: Int, file: String) throws {
        guard (0..<plan.cells.count).contains(cell) else {
            throw fail("\(file): --expand \(cell): the sweep has cells 0...\(plan.cells.count - 1)")
        }
        print(plan.cells[cell].json.pretty, terminator: "")
    }

    static func run(_ plan: SweepPlan, _ o: Options) throws {
        let runs = o.slice.map { plan.runs(slice: $0.index, of: $0.count) } ?? Array(0..<plan.runCount)
        let needed = plan.cells.map { MemoryEstimate.bytes($0.scenario) }.max() ?? 0
        let physical = Double(ProcessInfo.processInfo.physicalMemory)
        guard needed <= physical * 0.9 else {
            throw fail("\(o.file): a cell needs about \(String(format: "%.1f GiB", needed / 1_073_741_824)) of memory and the machine has \(String(format: "%.1f GiB", physical / 1_073_741_824))")
        }
        // As many runs at once as there are cores, and as fit in memory.
        let fit = max(1, Int(physical * 0.9 / max(needed, 1)))
        let jobs = max(1, min(o.jobs ?? ProcessInfo.processInfo.activeProcessorCount, fit, max(runs.count, 1)))
        var system = SystemRandomNumberGenerator()
        let baseSeed = o.seed ?? system.next()
        print("SEED=\(baseSeed)")
        let sliceText = o.slice.map { " slice=\($0.index)/\($0.count)" } ?? ""
        print("sweep=\(plan.name) cells=\(plan.cells.count) seeds=\(plan.seeds) runs=\(plan.runCount)\(sliceText) runs_here=\(runs.count) jobs=\(jobs) fingerprint=\(plan.fingerprintHex(baseSeed: baseSeed))")
        print("run j is cell j/\(plan.seeds), replicate j%\(plan.seeds), seed \(baseSeed)+replicate; replay one: cairn simulate \(o.file) --expand CELL > cell.json && cairn simulate cell.json --seed SEED")
        fflush(nil)

        let pool = Pool(runs: runs)
        let finished = DispatchSemaphore(value: 0)
        let clock = ContinuousClock()
        let started = clock.now
        let progress = o.progress && isatty(STDERR_FILENO) == 1
        for _ in 0..<jobs {
            let worker = Thread {
                work(plan, pool, baseSeed: baseSeed, progress: progress, timeseriesDir: o.timeseries ? o.out.map { $0 + "/runs" } : nil)
                finished.signal()
            }
            // The simulator's main-thread runs have 8 MiB; give workers room beyond that.
            worker.stackSize = 64 << 20
            worker.start()
        }
        for _ in 0..<jobs { finished.wait() }
        let elapsed = clock.now - started
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }

        let state = pool.state.withLock { $0 }
        if let out = o.out {
            do { try SweepOutput.write(plan, baseSeed: baseSeed, slice: o.slice, rows: state.rows, to: out) } catch {
                throw fail("\(out): \(error)")
            }
        }
        print(SweepSummary.table(plan, rows: state.rows))
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "%d runs in %.1f wall seconds on %d worker thread%@", state.rows.count, wall, jobs, jobs == 1 ? "" : "s") + (o.out.map { ", written to \($0)/sweep.csv and summary.csv" } ?? ""))
        for s in state.stopped { FileHandle.standardError.write(Data("error: \(s)\n".utf8)) }
        if !state.stopped.isEmpty { throw ExitCode(2) }
        if state.violations > 0 || state.expectationFailures > 0 { throw ExitCode(1) }
    }

    /// Where run (cell, seed) writes its timeseries.csv with `--timeseries`: named by cell and
    /// seed (not by run index), so the name says which cell and replay it is.
    static func runDirectory(_ runs: String, cell: Int, seed: UInt64) -> String { "\(runs)/\(cell)-\(seed)" }

    /// One worker: takes the next run until none is left. With `timeseriesDir`, each run's
    /// samples go to its own file as it finishes (their bytes depend only on the run).
    static func work(_ plan: SweepPlan, _ pool: Pool, baseSeed: UInt64, progress: Bool, timeseriesDir: String?) {
        while true {
            let next: Int? = pool.state.withLock { s in
                guard s.next < pool.runs.count else { return nil }
                s.next += 1
                return pool.runs[s.next - 1]
            }
            guard let j = next else { return }
            let (cell, replicate) = plan.run(j)
            let seed = SweepPlan.seed(base: baseSeed, replicate: replicate)
            let outcome: Result<SimulationResult, any Error>
            do {
                let r = try Simulation(scenario: plan.cells[cell].scenario, seed: seed).run()
                if let timeseriesDir {
                    let dir = runDirectory(timeseriesDir, cell: cell, seed: seed)
                    do {
                        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                        try Report.timeseriesCSV(r).write(toFile: dir + "/timeseries.csv", atomically: true, encoding: .utf8)
                    } catch {
                        throw SweepError(path: dir + "/timeseries.csv", message: "cannot write it: \(error)")
                    }
                }
                outcome = .success(r)
            } catch {
                outcome = .failure(error)
            }
            pool.state.withLock { s in
                s.done += 1
                var lines = [String]()
                switch outcome {
                case .success(var r):
                    r.timeseries = []
                    s.rows.append(SweepRows.row(plan, run: j, result: r))
                    s.violations += r.violations.count
                    s.expectationFailures += r.expectationFailures.count
                    lines.append("run \(j) cell \(cell) replicate \(replicate) seed \(seed): packs_lost \(r.packsLost) of \(r.packsTotal) trace-hash \(r.traceHash)")
                    for v in r.violations { lines.append("INVARIANT VIOLATED: cell \(cell) seed \(seed): \(v)") }
                    for f in r.expectationFailures { lines.append("EXPECTATION FAILED: cell \(cell) seed \(seed): \(f)") }
                case .failure(let e):
                    s.stopped.append("run \(j) cell \(cell) seed \(seed): \(e)")
                    lines.append("run \(j) cell \(cell) replicate \(replicate) seed \(seed): STOPPED: \(e)")
                }
                if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                for l in lines { print(l) }
                fflush(nil)
                if progress { drawProgress(s.done, of: pool.runs.count) }
            }
        }
    }

    static func drawProgress(_ done: Int, of total: Int) {
        let width = 40
        let filled = total > 0 ? done * width / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] run \(done)/\(total)".utf8))
    }
}

/// `cairn simulate merge DIR... --out DIR`: joins the outputs of a sweep's slices into the
/// sweep.csv, summary.csv and sweep.json the whole sweep writes.
struct SimulateMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the output directories of a sweep's slices (--cell I --of N) into one.",
        discussion: "Refuses directories of different sweeps or seeds (their fingerprints differ), a run that appears twice with different results, and missing runs (naming them and the slices to rerun). Exit status: 0 ok, 2 refused.")

    @Argument(help: "Output directories of slices of one sweep.")
    var dirs: [String]

    @Option(help: "Write the merged sweep.csv, summary.csv and sweep.json here.")
    var out: String

    /// The slices' per-run timeseries (`--timeseries`: runs/CELL-SEED/) joined under
    /// `out/runs/`. A run directory already there (a slice given twice, or `out` one of the
    /// inputs) is left as it is: its bytes depend only on the run.
    static func copyRuns(from dirs: [String], to out: String) throws {
        let fm = FileManager.default
        for dir in dirs {
            let runs = dir + "/runs"
            guard let names = try? fm.contentsOfDirectory(atPath: runs) else { continue }
            try fm.createDirectory(atPath: out + "/runs", withIntermediateDirectories: true)
            for name in names.sorted() where !fm.fileExists(atPath: out + "/runs/" + name) {
                try fm.copyItem(atPath: runs + "/" + name, toPath: out + "/runs/" + name)
            }
        }
    }

    func run() throws {
        var parts = [SweepOutput.Part]()
        do {
            for dir in dirs { parts.append(try SweepOutput.read(dir)) }
            let (rows, notes) = try SweepOutput.merge(parts)
            for n in notes { FileHandle.standardError.write(Data("note: \(n)\n".utf8)) }
            let plan = parts[0].plan
            try SweepOutput.write(plan, baseSeed: parts[0].baseSeed, slice: nil, rows: rows, to: out)
            try Self.copyRuns(from: dirs, to: out)
            print("SEED=\(parts[0].baseSeed)")
            print("sweep=\(plan.name) cells=\(plan.cells.count) seeds=\(plan.seeds) runs=\(plan.runCount) fingerprint=\(parts[0].fingerprint)")
            print(SweepSummary.table(plan, rows: rows))
            print("merged \(rows.count) runs from \(dirs.count) directories into \(out)/sweep.csv and summary.csv")
        } catch let e as SweepError {
            throw SweepCommand.fail("\(e)")
        } catch {
            throw SweepCommand.fail("\(out): \(error)")
        }
    }
}
