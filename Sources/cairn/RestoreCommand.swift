import ArgumentParser
import CairnCrypto
import CairnData
import CairnNet
import CairnNode
import Foundation

/// `cairn restore [SNAPSHOT|latest] --to OUT [--path SUBPATH] [--from DIRS] [--overwrite POLICY]`
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a snapshot (or part of it) into a folder.",
        discussion: """
            Files are restored under OUT by their original absolute path (OUT/home/me/docs/...).
            Up to n-k targets may be missing or damaged (each one skipped is named, with why).
            Targets are opened read-only and found by the shards they hold, so --from takes any
            k or more of them in any order. After losing the data directory:
            `cairn init --recover`, then `cairn restore latest --from DIR1,...,DIRk --to OUT`
            (when the folders hold several of your repositories, the newest is used and the
            others are named; --repository ID chooses one).

            OUT must be empty or missing, unless --overwrite says what to do with what is
            already there: `never` keeps every existing entry and restores only what is
            missing; `if-newer` replaces an existing file or symlink whose snapshot copy is
            newer; `always` replaces every existing file and symlink and resets the modes and
            times of existing folders (a folder where the snapshot has a file is not deleted:
            that entry fails). Whatever the policy, nothing outside OUT is touched: a symlink
            inside OUT is replaced or kept, never followed. Files are written under temporary
            names (.cairn-restore-PID-N) and renamed into place; a restore over existing files
            removes those an interrupted restore left in the folders it restores into (regular
            files of that name only; a symlink of that name is not followed or removed) and
            says how many.

            From the network, on any machine: `cairn restore latest --to OUT --coordinator
            HOST:PORT --data-dir NEWDIR [--phrase-file FILE]` rebuilds the identity from the
            phrase (prompted for when no file is given) into the empty NEWDIR, asks the
            coordinator where this identity's volumes are, fetches k shards of each from their
            holders (checked against their roots) into NEWDIR/node/outgoing, and restores from
            there. No node may run on NEWDIR meanwhile, and the identity's old node should be
            stopped: the coordinator knows one machine per identity at a time.

            Exit status: 0 restored; 1 refused or failed (entries that could not be restored
            are listed).
            """)

    @OptionGroup var options: DataDirOptions

    @Argument(help: "Snapshot id (or a unique prefix), or 'latest'.")
    var snapshot: String = "latest"

    @Option(help: "Folder to restore into (created if missing).")
    var to: String

    @Option(help: "Restore only this path of the snapshot (as listed, e.g. home/me/docs/report.txt).")
    var path: String?

    @Option(help: "Comma-separated target folders, any k or more in any order (default: the remembered targets).")
    var from: String?

    @Option(help: ArgumentHelp("What to do with entries already in OUT: never, if-newer or always (default: OUT must be empty).",
                               valueName: "policy"))
    var overwrite: String?

    @Flag(help: "Print a machine-readable summary.")
    var json = false

    @Option(help: "Restore from the network through this coordinator, HOST:PORT.")
    var coordinator: String?

    @Option(name: .customLong("phrase-file"), help: "With --coordinator and a new data directory: read the phrase from this file.")
    var phraseFile: String?

    @Option(help: "With --coordinator: seconds to keep trying holders before giving up.")
    var patience: Int = 1800

    func validate() throws {
        if let overwrite, OverwritePolicy(rawValue: overwrite) == nil {
            throw ValidationError("--overwrite takes never, if-newer or always (not \(overwrite))")
        }
        if coordinator != nil, from != nil { throw ValidationError("--from restores from local targets, --coordinator from the network: give one") }
        if phraseFile != nil, coordinator == nil { throw ValidationError("--phrase-file is for a restore from the network (--coordinator)") }
        if patience < 1 { throw ValidationError("--patience takes seconds, at least 1") }
    }

    func run() async throws {
        var from = try self.from.map { try folderList($0, option: "from") }
        var fetched: RestoreClient.Summary?
        if let coordinator {
            fetched = try await NetworkRestore.fetch(directory: options.directory, coordinator: coordinator, phraseFile: phraseFile,
                                                     patience: patience, verbose: options.verbose, quiet: json)
            from = fetched!.targets
        }
        let repo = try options.repository()
        let policy = overwrite.flatMap(OverwritePolicy.init(rawValue:))
        let bar = ProgressBar(label: "restore", enabled: Terminal.stderrIsTTY && !json)
        let summary = try cairnRun { () throws(DataError) in
            try repo.restore(RestoreOptions(snapshot: snapshot, destination: to, subpath: path, from: from,
                                            overwrite: policy)) { bar.update($0) }
        }
        bar.finish()
        let completing = Date()
        let completed = try fetched.flatMap { f in try NetworkRestore.completeStaging(f, repository: repo, dataDirectory: options.directory.path) }
        let completedSeconds = Date().timeIntervalSince(completing)
        if json {
            try Terminal.printJSON(WithResourceUsage(summary))
            return
        }
        let s = summary
        for w in s.warnings { Terminal.warn(w) }
        if let f = fetched {
            print("fetched \(f.volumes) volumes (\(Format.bytes(f.bytes)), \(f.shardsWritten) shards) from the network, root record \(f.rootSequence)")
            for why in f.notAdoptable { Terminal.warn("not adopted by a node here: \(why)") }
            if let rebuilt = completed {
                print("a node started on \(options.directory.path) takes over \(f.adoptable) volumes (\(rebuilt) shards rebuilt for it in \(Format.duration(completedSeconds))), and the machine whose node had them is refused from then on")
            }
        }
        print("restored snapshot \(s.snapshot) into \(to)")
        print("  files        \(s.files), \(s.directories) folders, \(s.symlinks) symlinks")
        print("  bytes        \(Format.bytes(s.bytes))")
        if s.kept > 0 { print("  kept         \(s.kept) existing entries (--overwrite \(overwrite ?? ""))") }
        if s.staleTemporariesRemoved > 0 {
            print("  removed      \(s.staleTemporariesRemoved) temporary files an interrupted restore had left")
        }
        if s.packsRebuilt > 0 { print("  rebuilt      \(s.packsRebuilt) packs from parity shards") }
        print("  duration     \(Format.duration(s.durationSeconds)) (\(Format.rate(s.bytes, seconds: s.durationSeconds)))")
    }
}

/// `cairn check`
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify every shard against its Merkle root and rebuild what can be rebuilt.",
        discussion: """
            Targets are found by the shards they hold, so --from may list any of them in any order.
            A missing target, or one whose store is damaged (moved aside to data.mdb.damaged-TIME, never
            deleted), is re-created and refilled from the others; a file in its place, another owner's
            target, a target of another of your repositories (its root record is never written over
            this one's) or a folder that looks like an unmounted drive's mount point is reported and left alone.
            Exit status: 0 everything is sound (after repair); 1 damage was found and not repaired
            (--no-repair, a target that could not be re-created, packs with fewer than k good shards)
            or the check could not run; 64 bad arguments.
            """)
    @OptionGroup var options: DataDirOptions
    @Option(help: "Comma-separated target folders, any subset in any order (default: the remembered targets).")
    var from: String?
    @Flag(name: .customLong("no-repair"), help: "Only report; change nothing (targets are opened read-only).")
    var noRepair = false
    @Flag(help: "Print JSON.")
    var json = false
    func run() throws {
        let repo = try options.repository()
        let from = try self.from.map { try folderList($0, option: "from") }
        let s = try cairnRun { () throws(DataError) in try repo.check(from: from, repair: !noRepair) }
        if json {
            try Terminal.printJSON(s)
        } else {
            for note in s.notes { Terminal.warn(note) }
            for p in s.problems.prefix(100) { print("  \(p)") }
            if s.problems.count > 100 { print("  … and \(s.problems.count - 100) more") }
            for t in s.targetsRecreated { print("re-created target \(t)") }
            print("checked \(s.packs) packs, \(s.shardsChecked) shards: \(s.shardsGood) good, \(s.shardsRepaired) rebuilt")
        }
        if !s.healthy {
            Terminal.error("\(s.packsUnrecoverable.count) packs have fewer than k good shards and cannot be rebuilt: \(s.packsUnrecoverable.prefix(10).map { String($0.prefix(12)) }.joined(separator: ", ")). Bring back missing targets and run `cairn check` again.")
            throw ExitCode(1)
        }
        if noRepair && s.damageFound {
            Terminal.error("damage found (listed above) and not repaired: run `cairn check` without --no-repair to rebuild it")
            throw ExitCode(1)
        }
        if !noRepair && !s.targetsUnusable.isEmpty {
            Terminal.error("\(s.targetsUnusable.count) targets are still not in use (listed above): \(s.targetsUnusable.joined(separator: ", ")); fix them and run `cairn check` again")
            throw ExitCode(1)
        }
    }
}
