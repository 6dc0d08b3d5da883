import CairnCrypto
import Foundation
import Logging

/// How far a backup or restore has come, for progress bars.
public struct TransferProgress: Sendable {
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
    public var filesDone: Int
    public var filesTotal: Int
}

public struct BackupOptions: Sendable {
    public var paths: [String]
    public var targets: [String]?
    public var k: Int?
    public var hostname: String
    /// What to leave out (`--exclude`, `--exclude-file`).
    public var excludes: [ExcludePattern]
    /// Called once the walk is done, before any file is read: tests change the tree
    /// there to see what a file that vanishes between the two does.
    public var afterWalk: (@Sendable () -> Void)?

    public init(paths: [String], targets: [String]? = nil, k: Int? = nil, hostname: String = ProcessInfo.processInfo.hostName,
                excludes: [ExcludePattern] = [], afterWalk: (@Sendable () -> Void)? = nil) {
        self.paths = paths
        self.targets = targets
        self.k = k
        self.hostname = hostname
        self.excludes = excludes
        self.afterWalk = afterWalk
    }
}

public struct BackupSummary: Codable, Sendable {
    public var snapshot: String
    public var parent: String
    public var files: Int
    public var directories: Int
    public var symlinks: Int
    public var filesNew: Int
    public var filesChanged: Int
    public var filesUnchanged: Int
    public var bytesTotal: UInt64
    public var bytesRead: UInt64
    public var chunksNew: Int
    public var chunksDeduplicated: Int
    public var bytesNew: UInt64
    public var bytesStored: UInt64
    public var shardBytesWritten: UInt64
    public var packs: Int
    /// Bytes read per new byte stored; nil (absent from the JSON) when nothing new was
    /// stored, where the ratio has no finite value.
    public var dedupeRatio: Double?
    public var durationSeconds: Double
    public var k: Int
    public var n: Int
    public var warnings: [String]
    /// Entries left out by exclude patterns or because they are Cairn's own data
    /// directory or a target (an excluded folder counts once).
    public var excluded = 0
    /// Entries that had to be left out (could not be read, vanished): the snapshot is
    /// saved without them and the command exits with status 3.
    public var leftOut: [LeftOut] = []
    /// Sockets, FIFOs and devices met: not backed up.
    public var unsupported = 0
    /// Everything the walk met: files + directories + symlinks + excluded + left out +
    /// unsupported.
    public var seen = 0
    /// The repository the snapshot went to (its id, hex).
    public var repository = ""

    enum CodingKeys: String, CodingKey {
        case snapshot, parent, files, directories, symlinks, excluded, unsupported
        case leftOut = "left_out"
        case filesNew = "files_new", filesChanged = "files_changed", filesUnchanged = "files_unchanged"
        case bytesTotal = "bytes_total", bytesRead = "bytes_read", chunksNew = "chunks_new"
        case chunksDeduplicated = "chunks_deduplicated", bytesNew = "bytes_new", bytesStored = "bytes_stored"
        case shardBytesWritten = "shard_bytes_written", packs, dedupeRatio = "dedupe_ratio"
        case durationSeconds = "duration_seconds", k, n, warnings, seen, repository
    }
}

extension Repository {
    /// Backs up `options.paths` into a new snapshot. Packs are committed to the local
    /// index as soon as all n shards are written, and the snapshot only at the very end:
    /// an interrupted run leaves no half snapshot, and the next run skips what was stored.
    public func backup(_ options: BackupOptions, progress: @escaping (TransferProgress) -> Void = { _ in }) throws(DataError) -> BackupSummary {
        let started = Date()
        let dataLock = try DirectoryLock(folder: dataDirectory.path)
        let paths = try targetPaths(options.targets)
        if !config.targets.isEmpty, options.targets != nil, paths != config.targets {
            throw DataError(.invalidArgument, "this data directory backs up to \(config.targets.joined(separator: ",")); give the same --to list, or use another --data-dir for a new set of targets")
        }
        let n = paths.count
        let k = options.k ?? (config.targets.isEmpty ? Self.defaultK(n: n) : config.k)
        guard n >= 1, n <= Limits.shardCountMax, k >= 1, k <= n else {
            throw DataError(.invalidArgument, "need 1 ≤ k ≤ n ≤ \(Limits.shardCountMax) (got k=\(k), n=\(n))")
        }
        // Targets are created by the first backup only. Later, a missing target is an
        // error rather than a new empty store: it may be a drive that is not mounted.
        let firstBackup = try state.root() == nil
        logger.info("backup.start", metadata: ["paths": "\(options.paths)", "targets": "\(paths.count)", "k": "\(k)"])
        let targets = try openTargets(paths, access: firstBackup ? .create : .write, count: n)
        try Self.requireEveryTarget(targets)
        // Another data directory (a recovered copy, another machine) may use the same targets.
        let targetLocks = try paths.map { (p) throws(DataError) in try DirectoryLock(folder: p) }
        defer { withExtendedLifetime((dataLock, targetLocks)) {} }
        let (existing, _) = try currentRoot(targets: targets)
        try Self.requireEveryTarget(targets)
        let repositoryID = try claimTargets(targets)
        let dropped = try forgetPacksNotOnTargets(existing, targets: targets)
        let chunkerSettings = existing?.chunker ?? config.chunker ?? ChunkerSettings(ChunkerParameters.default)
        let parameters: ChunkerParameters
        do { parameters = try chunkerSettings.parameters() } catch {
            throw DataError(.corrupt, "the repository's chunker settings are invalid", cause: error)
        }
        if config.targets.isEmpty || config.k != k || config.chunker != chunkerSettings {
            var c = config
            c.targets = paths
            c.k = k
            c.chunker = chunkerSettings
            try saveConfig(c)
        }
        let coder: ErasureCoder
        do { coder = try ErasureCoder(k: k, n: n) } catch {
            throw DataError(.invalidArgument, "cannot erasure-code \(k)-of-\(n)", cause: error)
        }

        // After a recovery the local index is empty: learn chunk locations from the
        // newest snapshot so unchanged data is not sent again.
        let reader = PackReader(targets: targets, packs: existing?.packs ?? [])
        if let existing, !existing.snapshots.isEmpty, try state.chunkCount() == 0 {
            let latest = try Self.select("latest", in: existing)
            let tree = try loadTree(latest, reader: reader)
            try state.indexChunks(tree.flatMap(\.chunks))
        }

        var walker = FileWalker()
        walker.excluded = Set(paths + [URL(fileURLWithPath: dataDirectory.path).standardizedFileURL.path])
        walker.patterns = options.excludes
        let walked = try walker.walk(roots: options.paths)
        options.afterWalk?()
        let rootNames = options.paths.map { FileWalker.storedName(forRoot: $0) }.sorted()
        let parentSnapshot = existing?.snapshots
            .last { $0.paths.sorted() == rootNames }
        var parentFiles: [[UInt8]: TreeEntry] = [:]
        if let parentSnapshot {
            let knownPacks = Set(try state.allPacks().map(\.id))
            for e in try loadTree(parentSnapshot, reader: reader) where e.kind == .file {
                if e.chunks.allSatisfy({ knownPacks.contains($0.pack) }) { parentFiles[e.pathBytes] = e }
            }
        }

        var run = BackupRun(repository: self, repositoryID: repositoryID, parameters: parameters, coder: coder,
                            targets: targets, chunkKey: keys.chunkIDKey, progress: progress)
        var entries = walked.map(\.entry)
        var summary = BackupSummary(
            snapshot: "", parent: parentSnapshot?.id ?? "", files: 0, directories: 0, symlinks: 0, filesNew: 0,
            filesChanged: 0, filesUnchanged: 0, bytesTotal: 0, bytesRead: 0, chunksNew: 0, chunksDeduplicated: 0,
            bytesNew: 0, bytesStored: 0, shardBytesWritten: 0, packs: 0, dedupeRatio: nil, durationSeconds: 0,
            k: k, n: n, warnings: [])

        var toRead: [Int] = []
        for (i, e) in entries.enumerated() {
            switch e.kind {
            case .directory: summary.directories += 1
            case .symlink: summary.symlinks += 1
            case .file:
                summary.files += 1
                summary.bytesTotal += e.size
                if let p = parentFiles[e.pathBytes], p.size == e.size, p.mtimeSeconds == e.mtimeSeconds,
                   p.mtimeNanoseconds == e.mtimeNanoseconds, p.inode == e.inode, p.device == e.device {
                    entries[i].chunks = p.chunks
                    summary.filesUnchanged += 1
                } else {
                    if parentFiles[e.pathBytes] == nil { summary.filesNew += 1 } else { summary.filesChanged += 1 }
                    toRead.append(i)
                }
            }
        }
        run.bytesTotal = toRead.reduce(0) { $0 + entries[$1].size }
        run.filesTotal = toRead.count

        let producer = ChunkProducer(
            files: toRead.map { ChunkProducer.Source(entry: $0, root: walked[$0].rootPath, relative: walked[$0].relative) },
            parameters: parameters)
        producer.start()
        defer { producer.cancel() }
        var skipped = Set<Int>()
        while let batch = producer.next() {
            try run.process(batch, into: &entries)
            for event in batch.events {
                switch event {
                case .chunk:
                    break
                case .fileDone(let i, let read):
                    if read != entries[i].size {
                        walker.note("\(walked[i].sourcePath) changed size while being read (\(entries[i].size) → \(read) bytes)")
                        entries[i].size = read
                    }
                case .fileFailed(let i, let reason):
                    walker.leaveOut(walked[i].sourcePath, reason)
                    skipped.insert(i)
                }
            }
            producer.recycle(batch)
        }
        run.filesDone = run.filesTotal
        run.report()
        if !skipped.isEmpty {
            // Left out, so neither new nor changed: the file counts still add up.
            summary.files -= skipped.count
            for i in skipped {
                if parentFiles[entries[i].pathBytes] == nil { summary.filesNew -= 1 } else { summary.filesChanged -= 1 }
            }
            entries = entries.enumerated().filter { !skipped.contains($0.offset) }.map(\.element)
        }

        // The tree itself goes through the same pipeline, under the snapshot key.
        let treeRefs = try run.storeTree(TreeCodec.encode(entries))
        try run.finish()

        let snapshotID = Hex.encode(SecureRandom.bytes(8))
        let record = SnapshotRecord(
            id: snapshotID, time: Int64(Date().timeIntervalSince1970), hostname: options.hostname,
            paths: rootNames, tree: treeRefs, parent: parentSnapshot?.id ?? "", files: UInt64(summary.files),
            directories: UInt64(summary.directories), symlinks: UInt64(summary.symlinks),
            bytes: summary.bytesTotal, newBytes: run.newSealedBytes)
        let root = RootRecord(
            repository: repositoryID, sequence: (existing?.sequence ?? 0) + 1, chunker: chunkerSettings,
            snapshots: (existing?.snapshots ?? []) + [record], packs: try state.allPacks())
        CrashPoint.pass("backup.packs-written")
        try publish(root, replacing: existing, to: targets)
        try? state.cacheTree(record, TreeCodec.encode(entries))

        summary.snapshot = snapshotID
        summary.repository = repositoryID.hex
        summary.bytesRead = run.bytesRead
        summary.chunksNew = run.chunksNew
        summary.chunksDeduplicated = run.chunksDeduplicated
        summary.bytesNew = run.newPlainBytes
        summary.bytesStored = run.newSealedBytes
        let stats = run.writerStats
        summary.shardBytesWritten = UInt64(stats.shardBytes)
        summary.packs = stats.packs
        summary.dedupeRatio = run.newPlainBytes == 0 ? nil : Double(run.bytesRead) / Double(run.newPlainBytes)
        summary.durationSeconds = Date().timeIntervalSince(started)
        summary.warnings = targets.notes + dropped + walker.warnings
        summary.excluded = walker.excludedByPattern
        summary.leftOut = walker.leftOut
        summary.unsupported = walker.unsupported
        summary.seen = summary.files + summary.directories + summary.symlinks + summary.excluded + summary.leftOut.count
            + summary.unsupported
        logger.info("backup.done", metadata: [
            "snapshot.id": "\(snapshotID)", "files": "\(summary.files)", "bytes.read": "\(summary.bytesRead)",
            "bytes.new": "\(summary.bytesNew)", "packs": "\(summary.packs)",
        ])
        return summary
    }

    /// A backup writes shard i of every pack to target i: every one of the n must be there.
    static func requireEveryTarget(_ targets: TargetSet) throws(DataError) {
        if let (position, problem) = targets.problems.min(by: { $0.key < $1.key }) {
            let path = targets.paths[position]
            if problem.code == .foreignRepository {
                throw DataError(.targetUnavailable, "target \(position + 1) (\(path)) holds another repository: put this repository's drive back there, or, if that folder is really to be replaced, move it away and run `cairn check` to re-create the target from the others; nothing was backed up", cause: problem)
            }
            let what = problem.code == .corrupt ? "is damaged" : problem.code == .wrongOwner ? "belongs to another owner" : "is not available"
            throw DataError(.targetUnavailable, "target \(position + 1) (\(path)) \(what): mount it, or run `cairn check` to re-create it from the other targets; nothing was backed up", cause: problem)
        }
    }

    /// Writes the sealed, signed root record to every target, then to the local index,
    /// once every pack it names is on the targets; it carries the repository's id (a
    /// repository from before ids gets one now) and claims each target for it.
    func publish(_ root: RootRecord, replacing previous: RootRecord?, to targets: TargetSet) throws(DataError) {
        let id = try claimTargets(targets)
        precondition(root.repository == nil || root.repository == id, "root record of repository \(root.repository!) published to \(id)")
        var root = root
        root.repository = id
        try requirePacksOnTargets(root, previous: previous, counts: targets.shardCounts())
        let envelope = RootEnvelope.seal(root, keys: keys)
        for t in targets.targets {
            try t?.writeRoot(envelope)
            CrashPoint.pass("root.published-to-target")
        }
        try state.saveRoot(root)
    }

    /// Before a backup dedupes against the local index: a pack the index knows but the
    /// targets no longer hold k shards of (a prune on another device reclaimed what a
    /// killed backup left, a target was replaced by an older copy) is forgotten, so its
    /// chunks are stored again rather than named by a snapshot that could not be
    /// restored. A pack of the current root record in that state stops the backup.
    /// Returns the warnings to show.
    func forgetPacksNotOnTargets(_ existing: RootRecord?, targets: TargetSet) throws(DataError) -> [String] {
        let counts = try targets.shardCounts()
        let known = try state.allPacks()
        let gone = Set(known.filter { counts[$0.id, default: 0] < $0.k }.map(\.id))
        guard !gone.isEmpty else { return [] }
        // Nothing new may refer to them; the records of packs earlier snapshots name stay
        // (those snapshots keep naming them, and `check` reports them).
        let named = Set(existing?.packs.map(\.id) ?? [])
        try state.removePacks(keeping: Set(known.map(\.id)).subtracting(gone), recordsToo: false)
        try state.removePacks(keeping: Set(known.map(\.id)).subtracting(gone.subtracting(named)))
        logger.warning("backup.packs-gone", metadata: ["packs": "\(gone.count)"])
        var warnings: [String] = []
        let lost = gone.intersection(named).count
        if gone.count > lost {
            warnings.append("\(gone.count - lost) packs the local index knew are not on the targets (a killed backup's, removed since by a prune elsewhere, or a target was replaced): their data is stored again")
        }
        if lost > 0 {
            warnings.append("\(lost) packs of earlier snapshots have fewer than k shards on the targets: their data is stored again for this snapshot; run `cairn check` to see what the earlier snapshots lost")
        }
        return warnings
    }

    /// k for n targets when none is given: 3-of-5 and 4-of-8 as docs/research/shard-count.md
    /// recommends (the network's defaults: `cairn backup` to the network with n = 8 and no
    /// --k is 4-of-8), otherwise about 60% of n (at least 1), so up to 40% of targets may be lost.
    public static func defaultK(n: Int) -> Int {
        switch n {
        case 5: 3
        case 8: 4
        default: max(1, (n * 3 + 4) / 5)
        }
    }
}

/// The moving parts of one backup: the batch of chunks being hashed and sealed, the pack
/// being filled, and the writer behind it.
struct BackupRun {
    let repository: Repository
    let repositoryID: RepositoryID
    let parameters: ChunkerParameters
    let targets: TargetSet
    let chunkKey: SymmetricKey
    let writer: PackWriter
    let progress: (TransferProgress) -> Void

    var pack: PackBuffer?
    /// Chunks stored during this run, before and after their pack is committed.
    var stored: [ChunkID: ChunkRef] = [:]

    var bytesTotal: UInt64 = 0
    var filesTotal = 0
    var bytesRead: UInt64 = 0
    var filesDone = 0
    var chunksNew = 0
    var chunksDeduplicated = 0
    var newPlainBytes: UInt64 = 0
    var newSealedBytes: UInt64 = 0
    var lastReport = Date.distantPast

    init(repository: Repository, repositoryID: RepositoryID, parameters: ChunkerParameters, coder: ErasureCoder,
         targets: TargetSet, chunkKey: SymmetricKey, progress: @escaping (TransferProgress) -> Void) {
        self.repository = repository
        self.repositoryID = repositoryID
        self.parameters = parameters
        self.targets = targets
        self.chunkKey = chunkKey
        self.progress = progress
        writer = PackWriter(coder: coder, repository: repositoryID, targets: targets, state: repository.state, logger: repository.logger,
                            sealedChunkMax: parameters.maxSize + parameters.maxSize / 128 + 1024)
    }

    var writerStats: (packs: Int, shardBytes: Int) { writer.stats }

    /// Hashes a batch, dedupes, seals the new chunks on all cores, and appends them to
    /// packs in order.
    mutating func process(_ batch: ChunkProducer.Batch, into entries: inout [TreeEntry]) throws(DataError) {
        var items: [(entry: Int, range: Range<Int>)] = []
        items.reserveCapacity(batch.events.count)
        for event in batch.events {
            switch event {
            case .chunk(let entry, let range): items.append((entry, range))
            case .fileDone: filesDone += 1
            case .fileFailed: filesDone += 1
            }
        }
        bytesRead += UInt64(batch.bytes)
        guard !items.isEmpty else { return }
        let outcome = batch.withData { data -> Result<Void, DataError> in
            do throws(DataError) {
                return .success(try process(items, of: data, into: &entries))
            } catch {
                return .failure(error)
            }
        }
        try outcome.get()
    }

    private mutating func process(_ items: [(entry: Int, range: Range<Int>)], of data: UnsafeRawBufferPointer,
                                  into entries: inout [TreeEntry]) throws(DataError) {
        let chunks = items.map { UnsafeRawBufferPointer(rebasing: data[$0.range]) }
        let ids = Self.chunkIDs(chunks, key: chunkKey)
        var refs = [ChunkRef?](repeating: nil, count: items.count)
        var toSeal: [Int] = []
        var firstInBatch: [ChunkID: Int] = [:]
        for i in items.indices {
            if let r = stored[ids[i]] {
                refs[i] = r
            } else if let r = try repository.state.lookupChunk(ids[i]) {
                refs[i] = r
                stored[ids[i]] = r
            } else if firstInBatch[ids[i]] == nil {
                firstInBatch[ids[i]] = i
                toSeal.append(i)
            }
        }
        let dataKey = repository.keys.dataKey
        let sealed = parallelMap(toSeal.count) { j in
            ChunkSealer.seal(chunks[toSeal[j]], id: ids[toSeal[j]], key: dataKey)
        }
        for (j, i) in toSeal.enumerated() {
            let ref = try append(id: ids[i], sealed: sealed[j], plainLength: chunks[i].count)
            refs[i] = ref
            chunksNew += 1
            newPlainBytes += UInt64(chunks[i].count)
        }
        for i in items.indices {
            if refs[i] == nil { refs[i] = stored[ids[i]] }
            entries[items[i].entry].chunks.append(refs[i]!)
        }
        chunksDeduplicated += items.count - toSeal.count
        report()
    }

    /// Keyed BLAKE2b of every chunk of a batch in one multi-lane call. One core hashes
    /// while the other reads and cuts the next batch and codes packs: that costs less CPU
    /// than splitting the batch's few chunks over two calls, whose lanes would run emptier.
    static func chunkIDs(_ chunks: [UnsafeRawBufferPointer], key: SymmetricKey) -> [ChunkID] {
        let digests = Blake2bLanes.hash(chunks.map { Blake2bLanes.Message(body: $0) }, outputLength: ObjectID.size, key: key)
        return chunks.indices.map { ChunkID(Array(digests[($0 * ObjectID.size)..<(($0 + 1) * ObjectID.size)])) }
    }

    mutating func append(id: ChunkID, sealed: [UInt8], plainLength: Int) throws(DataError) -> ChunkRef {
        if let full = pack, !full.isEmpty, full.length + sealed.count > writer.packTarget {
            pack = nil
            try writer.submit(full)
        }
        let buffer = pack ?? writer.acquire()
        pack = buffer
        let ref = buffer.append(id: id, sealed: sealed, plainLength: plainLength)
        stored[id] = ref
        newSealedBytes += UInt64(sealed.count)
        return ref
    }

    /// Chunks, seals (snapshot key) and packs an encoded tree; returns its chunk refs.
    mutating func storeTree(_ blob: [UInt8]) throws(DataError) -> [ChunkRef] {
        let lengths = blob.withUnsafeBytes { FastCDC(parameters).chunkLengths($0) }
        let idKey = repository.keys.treeIDKey
        var refs: [ChunkRef] = []
        var offset = 0
        for len in lengths {
            let piece = Array(blob[offset..<offset + len])
            offset += len
            let id = ChunkID(Blake2b.hash(piece, key: idKey))
            var known = stored[id]
            if known == nil { known = try repository.state.lookupChunk(id) }
            if let r = known {
                refs.append(r)
                continue
            }
            let sealed = piece.withUnsafeBytes { ChunkSealer.seal($0, id: id, key: repository.keys.snapshotKey) }
            refs.append(try append(id: id, sealed: sealed, plainLength: len))
        }
        return refs
    }

    /// Writes the last, partly filled pack and waits for the writer.
    mutating func finish() throws(DataError) {
        if let last = pack, !last.isEmpty {
            pack = nil
            try writer.submit(last)
        }
        try writer.finish()
    }

    mutating func report() {
        let now = Date()
        guard now.timeIntervalSince(lastReport) > 0.1 || filesDone == filesTotal else { return }
        lastReport = now
        progress(TransferProgress(bytesDone: bytesRead, bytesTotal: bytesTotal, filesDone: filesDone, filesTotal: filesTotal))
    }
}
