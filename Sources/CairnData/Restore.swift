import CairnCrypto
import Foundation
import Logging

public struct RestoreOptions: Sendable {
    public var snapshot: String
    public var destination: String
    public var subpath: String?
    public var from: [String]?
    /// What to do with entries already in the destination; nil: the destination must be
    /// empty (or missing), and a restore into one that is not is refused.
    public var overwrite: OverwritePolicy?

    public init(snapshot: String = "latest", destination: String, subpath: String? = nil, from: [String]? = nil,
                overwrite: OverwritePolicy? = nil) {
        self.snapshot = snapshot
        self.destination = destination
        self.subpath = subpath
        self.from = from
        self.overwrite = overwrite
    }
}

public struct RestoreSummary: Codable, Sendable {
    public var snapshot: String
    public var files: Int
    public var directories: Int
    public var symlinks: Int
    public var bytes: UInt64
    /// Entries of the snapshot not restored because `--overwrite` kept what was there.
    public var kept = 0
    public var packsRebuilt: Int
    public var targetsUnavailable: [String]
    public var durationSeconds: Double
    /// What was restored with less than its recorded metadata (an owner that could not
    /// be set, say); the data itself is complete.
    public var warnings: [String] = []
    /// The repository restored from (its id, hex; empty for one from before ids).
    public var repository = ""
    /// Temporary files (`.cairn-restore-PID-N`) of earlier, killed restores found in the
    /// folders restored into, and removed.
    public var staleTemporariesRemoved = 0

    enum CodingKeys: String, CodingKey {
        case snapshot, files, directories, symlinks, bytes, kept, warnings, repository
        case staleTemporariesRemoved = "stale_temporaries_removed"
        case packsRebuilt = "packs_rebuilt", targetsUnavailable = "targets_unavailable"
        case durationSeconds = "duration_seconds"
    }
}

extension Repository {
    /// Restores a snapshot (or the part of it under `subpath`) into `destination`, with
    /// permissions and modification times. Up to n−k targets may be missing or damaged;
    /// beyond that every file that cannot be restored is listed in the error, and every
    /// file that can is still restored.
    public func restore(_ options: RestoreOptions, progress: (TransferProgress) -> Void = { _ in }) throws(DataError) -> RestoreSummary {
        let started = Date()
        let (targets, root, rootProblems) = try openForReading(from: options.from)
        let snapshot = try Self.select(options.snapshot, in: root)
        logger.info("restore.start", metadata: ["snapshot.id": "\(snapshot.id)", "targets.available": "\(targets.available)"])
        let reader = PackReader(targets: targets, packs: root.packs)
        var entries = try loadTree(snapshot, reader: reader)
        if let sub = options.subpath {
            var s = sub
            while s.hasPrefix("/") { s.removeFirst() }
            while s.hasSuffix("/") { s.removeLast() }
            let prefix = Array(s.utf8), under = prefix + [NameBytes.slash]
            entries = entries.filter { $0.pathBytes == prefix || $0.pathBytes.starts(with: under) }
            guard !entries.isEmpty else {
                throw DataError(.notFound, "snapshot \(snapshot.id) has nothing at \(sub) (paths are stored as \(snapshot.paths.joined(separator: ", ")))")
            }
        }
        let destination = try RestoreDestination(
            path: URL(fileURLWithPath: options.destination).standardizedFileURL.path, policy: options.overwrite)

        var summary = RestoreSummary(snapshot: snapshot.id, files: 0, directories: 0, symlinks: 0, bytes: 0,
                                     packsRebuilt: 0, targetsUnavailable: targets.problems.keys.sorted().map { targets.paths[$0] },
                                     durationSeconds: 0, warnings: targets.problemLines + targets.notes + rootProblems)
        var failed: [String] = []
        var keptNotes: [String] = []
        let total = entries.filter { $0.kind == .file }.reduce(UInt64(0)) { $0 + $1.size }
        let fileCount = entries.count { $0.kind == .file }
        var lastReport = Date.distantPast

        // One pass in tree order (a folder, then what is in it): the destination keeps
        // the folders of the current path open and sets each folder's mode and times
        // once it is filled. A folder that cannot be entered (kept, or failed) blocks
        // the entries at and under it, reported once.
        var blocked: (prefix: [[UInt8]], outcome: EntryOutcome, count: Int)?
        func unblock() {
            guard let b = blocked else { return }
            let place = NameBytes.display(Array(b.prefix.joined(separator: [NameBytes.slash])))
            let entries = b.count == 1 ? "1 entry" : "\(b.count) entries"
            switch b.outcome {
            case .kept(let why):
                keptNotes.append("\(place): \(why); \(entries) of the snapshot not restored there")
                summary.kept += b.count
            case .failed(let why):
                failed.append("\(place): \(why); \(entries) not restored")
            }
            blocked = nil
        }
        /// The folder `components` go in, or nil when a folder on the way cannot be
        /// entered: then it blocks this entry and what follows under it.
        func parent(of components: [[UInt8]]) -> Int32? {
            do throws(EntryOutcome) {
                return try destination.enter(components.dropLast())
            } catch {
                blocked = (Array(components.prefix(destination.depth + 1)), error, 1)
                return nil
            }
        }
        for e in entries {
            let components = NameBytes.components(e.pathBytes)
            if let b = blocked {
                if components.count >= b.prefix.count, components.starts(with: b.prefix) {
                    blocked?.count += 1
                    continue
                }
                unblock()
            }
            let name = components[components.count - 1]
            do throws(EntryOutcome) {
                switch e.kind {
                case .directory:
                    do throws(EntryOutcome) { try destination.restoreFolder(e, components) } catch {
                        blocked = (Array(components.prefix(destination.depth + 1)), error, 1)
                        continue
                    }
                    summary.directories += 1
                case .symlink:
                    guard let parent = parent(of: components) else { continue }
                    try destination.restoreSymlink(e, target: e.linkTargetBytes, name, in: parent)
                    summary.symlinks += 1
                case .file:
                    guard let parent = parent(of: components) else { continue }
                    try destination.mayWrite(e, name, in: parent)
                    let before = summary.bytes
                    try writeFile(e, as: name, in: parent, destination: destination, reader: reader) { written in
                        if Date().timeIntervalSince(lastReport) > 0.1 {
                            lastReport = Date()
                            progress(TransferProgress(bytesDone: before + written, bytesTotal: total,
                                                      filesDone: summary.files, filesTotal: fileCount))
                        }
                    }
                    summary.files += 1
                    summary.bytes += e.size
                }
            } catch {
                switch error {
                case .kept: summary.kept += 1
                case .failed(let why): failed.append("\(e.path): \(why)")
                }
            }
            if Date().timeIntervalSince(lastReport) > 0.1 {
                lastReport = Date()
                progress(TransferProgress(bytesDone: summary.bytes, bytesTotal: total, filesDone: summary.files, filesTotal: fileCount))
            }
        }
        unblock()
        destination.finish()
        summary.staleTemporariesRemoved = destination.staleTemporariesRemoved
        let ownerFailures = destination.ownerFailures + destination.metadataFailures
        if !ownerFailures.isEmpty {
            logger.warning("restore.owners", metadata: ["failed": "\(ownerFailures.count)"])
            summary.warnings += ownerFailures.prefix(50)
            if ownerFailures.count > 50 { summary.warnings.append("… and \(ownerFailures.count - 50) more entries whose owner, mode or times could not be set") }
        }
        summary.warnings += keptNotes.prefix(50)
        if keptNotes.count > 50 { summary.warnings.append("… and \(keptNotes.count - 50) more existing entries kept") }
        progress(TransferProgress(bytesDone: summary.bytes, bytesTotal: total, filesDone: summary.files, filesTotal: fileCount))
        summary.packsRebuilt = reader.rebuiltPacks
        summary.repository = targets.repository?.hex ?? ""
        for (path, count) in reader.damagedShards.sorted(by: { $0.key < $1.key }) {
            summary.warnings.append("target \(path): \(count) shards missing or damaged, rebuilt from the other targets (run `cairn check` to repair them)")
        }
        summary.durationSeconds = Date().timeIntervalSince(started)
        if !failed.isEmpty {
            let shown = failed.prefix(50).joined(separator: "\n  ")
            let more = failed.count > 50 ? "\n  … and \(failed.count - 50) more" : ""
            throw DataError(.unrecoverable, "restored \(summary.files) files, but \(failed.count) entries of snapshot \(snapshot.id) could not be restored:\n  \(shown)\(more)\n\(targets.available) of \(targets.n) targets were readable; bring back missing targets and run the restore again")
        }
        return summary
    }

    /// The targets (`from`, else the remembered ones) opened read-only, and the newest
    /// root record on them; fewer usable targets than a pack needs is an error that says
    /// how many are needed and why the others could not be used.
    func openForReading(from: [String]?) throws(DataError) -> (TargetSet, RootRecord, [String]) {
        let paths = try targetPaths(from)
        let remembered = from == nil || from?.isEmpty == true
        let targets = try openTargets(paths, access: .read, count: remembered ? paths.count : nil)
        let (found, problems) = try currentRoot(targets: targets)
        let why = (targets.problemLines + problems).map { "\n  " + $0 }.joined()
        guard let root = found else {
            throw DataError(.notFound, "no root record found on any target; nothing to restore from \(paths.joined(separator: ","))\(why)")
        }
        // Below the smallest k no pack at all can be rebuilt (packs of one repository share
        // k unless a later backup chose another).
        let k = root.packs.map(\.k).min() ?? 0
        if targets.available < k {
            let n = root.packs.map(\.n).max() ?? k
            throw DataError(.unrecoverable, "this backup needs \(k) of its \(n) targets and only \(targets.available) of the \(paths.count) given could be used: give at least \(k) targets with --from (in any order)\(why)")
        }
        return (targets, root, problems)
    }

    /// Writes file `e` under a temporary name in `parent`, sets its owner, mode and
    /// times on the descriptor, then renames it to `name`.
    private func writeFile(_ e: TreeEntry, as name: [UInt8], in parent: Int32, destination: RestoreDestination,
                           reader: PackReader, written: (UInt64) -> Void) throws(EntryOutcome) {
        let (fd, temporary) = try destination.createTemporary(in: parent)
        var ok = false
        defer {
            close(fd)
            if !ok { destination.discard(temporary, in: parent) }
        }
        var start = 0
        var done: UInt64 = 0
        while start < e.chunks.count {
            // A window of chunks is decrypted on all cores, then written in order.
            var end = start
            var windowBytes = 0
            while end < e.chunks.count, end == start || windowBytes < Limits.batchBytes * 2 {
                windowBytes += Int(e.chunks[end].plainLength)
                end += 1
            }
            let pieces: [[UInt8]]
            do { pieces = try reader.chunks(Array(e.chunks[start..<end]), key: keys.dataKey) } catch {
                throw .failed(error.oneLine)
            }
            for bytes in pieces {
                var off = 0
                while off < bytes.count {
                    let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw .failed("cannot write: \(NameBytes.errorText(errno))")
                    }
                    off += n
                }
                done += UInt64(bytes.count)
            }
            written(done)
            start = end
        }
        destination.finishFile(e, fd: fd)
        CrashPoint.pass("restore.file-written")
        try destination.commit(temporary, as: name, in: parent)
        ok = true
    }
}
