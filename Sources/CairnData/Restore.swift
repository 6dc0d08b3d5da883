import CairnCrypto
import Foundation
import Logging

public struct RestoreOptions: Sendable {
    public var snapshot: String
    public var destination: String
    public var subpath: String?
    public var from: [String]?

    public init(snapshot: String = "latest", destination: String, subpath: String? = nil, from: [String]? = nil) {
        self.snapshot = snapshot
        self.destination = destination
        self.subpath = subpath
        self.from = from
    }
}

public struct RestoreSummary: Codable, Sendable {
    public var snapshot: String
    public var files: Int
    public var directories: Int
    public var symlinks: Int
    public var bytes: UInt64
    public var packsRebuilt: Int
    public var targetsUnavailable: [String]
    public var durationSeconds: Double
    /// What was restored with less than its recorded metadata (an owner that could not
    /// be set, say); the data itself is complete.
    public var warnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case snapshot, files, directories, symlinks, bytes, warnings
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
        let paths = try targetPaths(options.from)
        let targets = try TargetSet(paths: paths, create: false)
        let (found, problems) = try currentRoot(targets: targets)
        guard let root = found else {
            let why = (targets.problems.sorted { $0.key < $1.key }.map { "target \($0.key + 1): \($0.value.oneLine)" } + problems)
                .joined(separator: "\n  ")
            throw DataError(.notFound, "no root record found on any target; nothing to restore from \(paths.joined(separator: ","))\(why.isEmpty ? "" : "\n  " + why)")
        }
        let snapshot = try Self.select(options.snapshot, in: root)
        logger.info("restore.start", metadata: ["snapshot.id": "\(snapshot.id)", "targets.available": "\(targets.available)"])
        let reader = PackReader(targets: targets, packs: root.packs)
        var entries = try loadTree(snapshot, reader: reader)
        if let sub = options.subpath {
            var s = sub
            while s.hasPrefix("/") { s.removeFirst() }
            while s.hasSuffix("/") { s.removeLast() }
            entries = entries.filter { $0.path == s || $0.path.hasPrefix(s + "/") }
            guard !entries.isEmpty else {
                throw DataError(.notFound, "snapshot \(snapshot.id) has nothing at \(sub) (paths are stored as \(snapshot.paths.joined(separator: ", ")))")
            }
        }
        let dest = URL(fileURLWithPath: options.destination).standardizedFileURL.path
        do {
            try FileManager.default.createDirectory(atPath: dest, withIntermediateDirectories: true)
        } catch {
            throw DataError(.io, "cannot create \(dest)", cause: error)
        }

        var summary = RestoreSummary(snapshot: snapshot.id, files: 0, directories: 0, symlinks: 0, bytes: 0,
                                     packsRebuilt: 0, targetsUnavailable: targets.problems.keys.sorted().map { targets.paths[$0] },
                                     durationSeconds: 0)
        var failed: [String] = []
        let total = entries.filter { $0.kind == .file }.reduce(UInt64(0)) { $0 + $1.size }
        let fileCount = entries.count { $0.kind == .file }
        var lastReport = Date.distantPast

        // Folders first (writable while we fill them), then files, then symlinks (last,
        // so no file is ever written through a link), then folder modes and times,
        // deepest first.
        // Owners are restored when running as root, as tar and restic do: anyone else
        // cannot give files away, and gets them as their own.
        let restoreOwners = geteuid() == 0
        var ownerFailures: [String] = []
        func setOwner(_ e: TreeEntry, _ apply: (uid_t, gid_t) -> Int32) {
            guard restoreOwners, let owner = e.owner else { return }
            if apply(uid_t(owner.uid), gid_t(owner.gid)) != 0 {
                ownerFailures.append("\(e.path): cannot set owner \(owner.uid):\(owner.gid) (\(String(cString: strerror(errno))))")
            }
        }
        for e in entries where e.kind == .directory {
            let p = dest + "/" + e.path
            if mkdirs(p) { summary.directories += 1 } else { failed.append("\(e.path): cannot create folder (\(String(cString: strerror(errno))))") }
        }
        for e in entries where e.kind == .file {
            let p = dest + "/" + e.path
            do {
                let before = summary.bytes
                try writeFile(e, to: p, reader: reader, setOwner: { fd in setOwner(e) { fchown(fd, $0, $1) } }) { written in
                    if Date().timeIntervalSince(lastReport) > 0.1 {
                        lastReport = Date()
                        progress(TransferProgress(bytesDone: before + written, bytesTotal: total,
                                                  filesDone: summary.files, filesTotal: fileCount))
                    }
                }
                summary.files += 1
                summary.bytes += e.size
            } catch {
                failed.append("\(e.path): \(error.message)")
            }
            if Date().timeIntervalSince(lastReport) > 0.1 {
                lastReport = Date()
                progress(TransferProgress(bytesDone: summary.bytes, bytesTotal: total, filesDone: summary.files, filesTotal: fileCount))
            }
        }
        for e in entries where e.kind == .symlink {
            let p = dest + "/" + e.path
            _ = mkdirs((p as NSString).deletingLastPathComponent)
            unlink(p)
            if symlink(e.linkTarget, p) == 0 {
                setOwner(e) { lchown(p, $0, $1) }
                setTimes(p, e, followLinks: false)
                summary.symlinks += 1
            } else {
                failed.append("\(e.path): cannot create symlink (\(String(cString: strerror(errno))))")
            }
        }
        for e in entries.reversed() where e.kind == .directory {
            let p = dest + "/" + e.path
            setOwner(e) { lchown(p, $0, $1) }  // before chmod: chown clears setuid and setgid
            chmod(p, mode_t(e.mode))
            setTimes(p, e, followLinks: true)
        }
        if !ownerFailures.isEmpty {
            logger.warning("restore.owners", metadata: ["failed": "\(ownerFailures.count)"])
            summary.warnings += ownerFailures.prefix(50)
            if ownerFailures.count > 50 { summary.warnings.append("… and \(ownerFailures.count - 50) more entries whose owner could not be set") }
        }
        progress(TransferProgress(bytesDone: summary.bytes, bytesTotal: total, filesDone: summary.files, filesTotal: fileCount))
        summary.packsRebuilt = reader.rebuiltPacks
        summary.durationSeconds = Date().timeIntervalSince(started)
        if !failed.isEmpty {
            let shown = failed.prefix(50).joined(separator: "\n  ")
            let more = failed.count > 50 ? "\n  … and \(failed.count - 50) more" : ""
            throw DataError(.unrecoverable, "restored \(summary.files) files, but \(failed.count) entries of snapshot \(snapshot.id) could not be restored:\n  \(shown)\(more)\n\(targets.available) of \(targets.n) targets were readable; bring back missing targets and run the restore again")
        }
        return summary
    }

    private func writeFile(_ e: TreeEntry, to path: String, reader: PackReader, setOwner: (Int32) -> Void,
                           written: (UInt64) -> Void) throws(DataError) {
        _ = mkdirs((path as NSString).deletingLastPathComponent)
        let tmp = path + ".cairn-partial"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw DataError(.io, "cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(tmp) }
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
            for bytes in try reader.chunks(Array(e.chunks[start..<end]), key: keys.dataKey) {
                var off = 0
                while off < bytes.count {
                    let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw DataError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
                    }
                    off += n
                }
                done += UInt64(bytes.count)
            }
            written(done)
            start = end
        }
        setOwner(fd)  // before fchmod: chown clears setuid and setgid
        fchmod(fd, mode_t(e.mode))
        var times = [timespec(tv_sec: Int(e.mtimeSeconds), tv_nsec: Int(e.mtimeNanoseconds)),
                     timespec(tv_sec: Int(e.mtimeSeconds), tv_nsec: Int(e.mtimeNanoseconds))]
        futimens(fd, &times)
        guard rename(tmp, path) == 0 else {
            throw DataError(.io, "cannot move \(tmp) into place: \(String(cString: strerror(errno)))")
        }
        ok = true
    }

    private func setTimes(_ path: String, _ e: TreeEntry, followLinks: Bool) {
        var times = [timespec(tv_sec: Int(e.mtimeSeconds), tv_nsec: Int(e.mtimeNanoseconds)),
                     timespec(tv_sec: Int(e.mtimeSeconds), tv_nsec: Int(e.mtimeNanoseconds))]
        utimensat(AT_FDCWD, path, &times, followLinks ? 0 : AT_SYMLINK_NOFOLLOW)
    }

    /// Creates a folder and its parents; true if it exists as a folder afterwards.
    private func mkdirs(_ path: String) -> Bool {
        var st = stat()
        if lstat(path, &st) == 0 { return (st.st_mode & S_IFMT) == S_IFDIR }
        let parent = (path as NSString).deletingLastPathComponent
        if parent != path, !parent.isEmpty { _ = mkdirs(parent) }
        return mkdir(path, 0o700) == 0 || (lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR)
    }
}
