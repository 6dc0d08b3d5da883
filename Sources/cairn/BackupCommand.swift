import ArgumentParser
import CairnCrypto
import CairnData
import Foundation

/// `cairn backup PATH... --to DIR1,...,DIRn [--k K]`
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up files and folders as a new snapshot, k-of-n erasure-coded over the targets.",
        discussion: """
            Shard i of every pack goes to the i-th target; any k targets restore everything.
            The data directory remembers the targets, so later backups need no --to. Every
            target must be usable: one that is missing, damaged, another owner's or another of
            your repositories' stops the backup with its name (`cairn check` re-creates missing
            and damaged ones).
            File names are backed up as the file system has them (bytes, UTF-8 or not);
            names that are not UTF-8 are shown with \\xNN escapes.

            Exit status: 0 the snapshot is saved with everything; 3 the snapshot is saved
            but some entries had to be left out (unreadable, vanished): they are listed;
            1 no snapshot was saved; 64 bad arguments.

            To the network: with `cairn node run --data-dir DIR ...` running on the same data
            directory and no --to, the backup goes to the node's staging targets and the node
            places it on n holders; the command waits (--wait) until every pack has n
            acknowledged shards, or says how far placement got (the node goes on).
            """)

    @OptionGroup var options: DataDirOptions

    @Argument(help: "Files and folders to back up.")
    var paths: [String]

    @Option(help: "Comma-separated target folders, one per shard (n = their count).")
    var to: String?

    @Option(help: "How many targets (or holders) must survive to restore (default: 3 for 5 targets; on the network, the node's).")
    var k: Int?

    @Option(help: "On the network: how many holders get a shard of each pack (default: the node's; fixed by the first backup).")
    var n: Int?

    @Option(help: "On the network: seconds to wait for every pack to have n acknowledged shards.")
    var wait: Int = 600

    @Option(name: .customLong("exclude"),
            help: "Leave out what matches this glob: a name anywhere ('*.tmp', 'node_modules') or, with a '/', an absolute path ('/home/*/Downloads'). Repeatable.")
    var excludes: [String] = []

    @Option(help: "Read exclude patterns from this file, one per line ('#' starts a comment).")
    var excludeFile: String?

    @Flag(help: "Print a machine-readable summary instead of the human one.")
    var json = false

    func validate() throws {
        if let to { _ = try folderList(to, option: "to") }
        for e in excludes {
            do { _ = try ExcludePattern(e) } catch { throw ValidationError(error.message) }
        }
        if let k, k < 1 { throw ValidationError("--k must be at least 1") }
        if let n, n < 2 { throw ValidationError("--n must be at least 2") }
        if n != nil, to != nil { throw ValidationError("--n is for backups to the network; with --to, n is the number of targets") }
        if wait < 0 { throw ValidationError("--wait takes seconds, at least 0") }
        try RawArguments.refuseNotUTF8(paths, what: "a path to back up")
        for p in paths where !FileManager.default.fileExists(atPath: p) {
            var st = stat()
            if lstat(p, &st) != 0 { throw ValidationError("\(p) does not exist: nothing to back up there") }
        }
    }

    func run() throws {
        let repo = try options.repository()
        var targets = try to.map { try folderList($0, option: "to") }
        var k = self.k
        let network = NetworkBackup.applies(repo: repo, to: targets)
        if network {
            let staged = try NetworkBackup.targets(repo: repo, k: k, n: n)
            targets = staged.paths
            k = staged.k
        } else if n != nil {
            throw ValidationError("--n is for backups to the network: start `cairn node run --data-dir \(repo.dataDirectory.path) ...` first")
        }
        if let k, let n = targets?.count ?? (repo.config.targets.isEmpty ? nil : repo.config.targets.count), k > n {
            throw ValidationError("--k \(k) is more than the \(n) targets: k must be at most n")
        }
        let bar = ProgressBar(label: "backup", enabled: Terminal.stderrIsTTY && !json)
        let summary = try cairnRun { () throws(DataError) in
            var patterns = try excludes.map { (e) throws(DataError) in try ExcludePattern(e) }
            if let excludeFile { patterns += try ExcludePattern.load(file: excludeFile) }
            return try repo.backup(BackupOptions(paths: paths, targets: targets, k: k, excludes: patterns)) { bar.update($0) }
        }
        bar.finish()
        let placement = network
            ? try NetworkBackup.place(dataDirectory: repo.dataDirectory.path, waitSeconds: wait, showProgress: Terminal.stderrIsTTY && !json)
            : nil
        // Some entries had to be left out: the snapshot is saved, and the exit status says so.
        let status: Int32 = summary.leftOut.isEmpty ? 0 : 3
        if json {
            if let placement {
                try Terminal.printJSON(NetworkBackupSummary(summary: WithResourceUsage(summary), network: placement))
            } else {
                try Terminal.printJSON(WithResourceUsage(summary))
            }
            if status != 0 { throw ExitCode(status) }
            return
        }
        for w in summary.warnings { Terminal.warn(w) }
        for l in summary.leftOut { Terminal.warn("left out \(l.path): \(l.reason)") }
        let s = summary
        print("snapshot \(s.snapshot) saved\(s.parent.isEmpty ? "" : " (parent \(s.parent))")")
        print("  files        \(s.files) (\(s.filesNew) new, \(s.filesChanged) changed, \(s.filesUnchanged) unchanged), \(s.directories) folders, \(s.symlinks) symlinks")
        if s.excluded > 0 { print("  excluded     \(s.excluded) entries (exclude patterns, Cairn's own folders)") }
        if s.unsupported > 0 { print("  unsupported  \(s.unsupported) sockets, FIFOs or devices (not backed up)") }
        if !s.leftOut.isEmpty {
            print("  left out     \(s.leftOut.count) entries could not be read and are not in the snapshot:")
            for l in s.leftOut.prefix(20) { print("                 \(l.path): \(l.reason)") }
            if s.leftOut.count > 20 { print("                 … and \(s.leftOut.count - 20) more (--json lists all)") }
        }
        print("  seen         \(s.seen) entries")
        print("  read         \(Format.bytes(s.bytesRead)) of \(Format.bytes(s.bytesTotal))")
        print("  new          \(Format.bytes(s.bytesNew)) in \(s.chunksNew) chunks (\(s.chunksDeduplicated) deduplicated), stored as \(Format.bytes(s.bytesStored)) encrypted with the snapshot tree")
        print("  shards       \(Format.bytes(s.shardBytesWritten)) in \(s.packs) packs, \(s.k)-of-\(s.n)")
        if let ratio = s.dedupeRatio {
            print(String(format: "  dedupe ratio %.2f", ratio))
        } else {
            print("  dedupe ratio - (nothing new to store)")
        }
        if let placement { print(NetworkBackup.describe(placement)) }
        print("  duration     \(Format.duration(s.durationSeconds)) (\(Format.rate(s.bytesRead, seconds: s.durationSeconds)))")
        if status != 0 {
            Terminal.warn("snapshot \(s.snapshot) was saved without \(s.leftOut.count) entries that could not be read (exit status 3)")
            throw ExitCode(status)
        }
    }
}

/// `cairn snapshots`
struct Snapshots: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the snapshots.",
        discussion: """
            The first line names the repository (its id; `repository` in each --json item). Targets of
            another of your repositories are skipped with a warning; a data directory that does not know its
            repository yet (just recovered) takes the newest one the targets hold, or the one --repository names.
            """)

    @OptionGroup var options: DataDirOptions

    @Option(help: "Comma-separated target folders to read the list from, any of them in any order (default: the remembered targets).")
    var from: String?

    @Flag(help: "Print JSON.")
    var json = false

    struct Item: Encodable {
        let repository: String
        let id: String
        let time: String
        let hostname: String
        let paths: [String]
        let files: UInt64
        let bytes: UInt64
        let parent: String
    }

    func run() throws {
        let repo = try options.repository()
        let from = try self.from.map { try folderList($0, option: "from") }
        let (root, repository) = try cairnRun { () throws(DataError) -> (RootRecord?, RepositoryID?) in
            // A new data directory: no targets yet, but already its repository.
            if from == nil, repo.config.targets.isEmpty { return (nil, repo.knownRepository) }
            let paths = try repo.targetPaths(from)
            let targets = try repo.openTargets(paths, access: .read, count: from == nil ? paths.count : nil)
            let (root, problems) = try repo.currentRoot(targets: targets)
            if root == nil, targets.available == 0 {
                throw DataError(.targetUnavailable, "none of the targets could be read:\n  " + (targets.problemLines + problems).joined(separator: "\n  "))
            }
            for line in targets.problemLines + targets.notes + problems { Terminal.warn(line) }
            return (root, targets.repository)
        }
        let repositoryText = repository?.hex ?? "unknown (made before repositories had ids; the next backup gives it one)"
        let formatter = ISO8601DateFormatter()
        let items = (root?.snapshots ?? []).map {
            Item(repository: repositoryText, id: $0.id, time: formatter.string(from: Date(timeIntervalSince1970: TimeInterval($0.time))),
                 hostname: $0.hostname, paths: $0.paths, files: $0.files, bytes: $0.bytes, parent: $0.parent)
        }
        if json {
            try Terminal.printJSON(items)
            return
        }
        print("repository \(repositoryText)")
        if items.isEmpty {
            print("no snapshots yet: `cairn backup PATH --to DIR1,...,DIRn` makes the first")
            return
        }
        print("ID                TIME                  HOST              FILES       SIZE  PATHS")
        for i in items {
            let host = i.hostname.padding(toLength: 16, withPad: " ", startingAt: 0)
            print("\(i.id)  \(i.time)  \(host)  \(String(i.files).leftPad(6))  \(Format.bytes(i.bytes).leftPad(10))  \(i.paths.map { "/" + $0 }.joined(separator: " "))")
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
