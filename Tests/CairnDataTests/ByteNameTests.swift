import CairnCrypto
import CairnData
import Foundation
import Testing

/// Names are bytes: what the file system holds is backed up and restored as it is, names
/// that are not UTF-8 and paths deeper than PATH_MAX included; what cannot be read is
/// left out and listed, and the snapshot is still saved.
@Suite struct ByteNameTests {
    func addsUp(_ b: BackupSummary) -> Bool {
        let backedUp = b.files + b.directories + b.symlinks
        return b.seen == backedUp + b.excluded + b.leftOut.count + b.unsupported
            && b.files == b.filesNew + b.filesChanged + b.filesUnchanged
    }

    @Test func namesThatAreNotUTF8RoundTripByteForByte() throws {
        let f = try RepositoryFixture()
        defer { ByteTree.remove(f.base) }
        let root = ByteTree.openFolder(f.source)
        defer { close(root) }
        let latin1: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)  // "café" in Latin-1
        ByteTree.write(root, latin1, Array("latin-1 name\n".utf8))
        let folder = ByteTree.mkdir(root, [0xFF, 0xFE, 0x80])
        ByteTree.write(folder, [0xC3, 0x28], Array("invalid two-byte sequence\n".utf8))
        ByteTree.symlink(folder, Array("link".utf8), to: [0x2E, 0x2E, 0x2F] + latin1)  // ../caf\xe9.txt
        close(folder)
        ByteTree.write(root, Array("back\\slash".utf8), Array("ascii backslash\n".utf8))

        let repo = try f.repository()
        let b = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        #expect(b.leftOut.isEmpty && b.warnings.isEmpty, "\(b.leftOut) \(b.warnings)")
        #expect(b.files == 3 && b.directories == 2 && b.symlinks == 1)
        let out = f.base + "/out"
        let r = try repo.restore(RestoreOptions(destination: out))
        #expect(r.files == 3 && r.symlinks == 1)
        let restored = ByteTree.describe(f.restoredRoot(out))
        #expect(restored == ByteTree.describe(f.source))
        #expect(restored[latin1] != nil)

        // Shown to a person with the bytes that are not UTF-8 escaped, not dropped.
        #expect(TreeEntry(kind: .file, pathBytes: latin1, mode: 0, mtimeSeconds: 0, mtimeNanoseconds: 0).path == "caf\\xe9.txt")
        #expect(TreeEntry(kind: .file, pathBytes: [0xFF, 0x61, 0x5C], mode: 0, mtimeSeconds: 0, mtimeNanoseconds: 0).path == "\\xffa\\\\")
        #expect(TreeEntry(kind: .file, path: "plain/é", mode: 0, mtimeSeconds: 0, mtimeNanoseconds: 0).path == "plain/é")
    }

    @Test func pathsDeeperThanPathMaxRoundTrip() throws {
        let f = try RepositoryFixture()
        defer { ByteTree.remove(f.base) }
        // 150 folders of 40 bytes: 6,150 bytes below the source, and deeper than the
        // 128 descriptors a folder chain keeps open.
        var fd = ByteTree.openFolder(f.source)
        var depth = 0
        for level in 0..<150 {
            let next = ByteTree.mkdir(fd, Array(String(format: "level-%03d-", level).utf8) + [UInt8](repeating: 0x78, count: 30))
            close(fd)
            fd = next
            depth += 41
            if level == 75 { ByteTree.write(fd, Array("halfway.txt".utf8), Array("in the middle\n".utf8)) }
        }
        ByteTree.write(fd, Array("bottom.bin".utf8), (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        ByteTree.symlink(fd, Array("up".utf8), to: Array("../../halfway.txt".utf8))
        close(fd)
        #expect(depth > Int(PATH_MAX))

        let repo = try f.repository()
        let b = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        #expect(b.leftOut.isEmpty, "\(b.leftOut)")
        #expect(b.files == 2 && b.directories == 151 && b.symlinks == 1)
        let out = f.base + "/out"
        let r = try repo.restore(RestoreOptions(destination: out))
        #expect(r.files == 2 && r.directories == 151)
        let restored = ByteTree.describe(f.restoredRoot(out))
        #expect(restored.count == 153)  // 150 folders, 2 files, 1 symlink
        #expect(restored == ByteTree.describe(f.source))
    }

    /// /proc/self/mem is a regular file whose first byte cannot be read (EIO), as root
    /// too; a chmod 000 file would be read by root.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/mem"), "needs Linux's /proc/self/mem"))
    func anUnreadableFileIsLeftOutAndListedAndTheSnapshotIsSaved() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        let b = try repo.backup(BackupOptions(paths: [f.source, "/proc/self/mem"], targets: f.targets))
        #expect(b.leftOut.map(\.path) == ["/proc/self/mem"])
        #expect(b.leftOut.first?.reason.contains("Input/output error") == true, "\(b.leftOut)")
        #expect(b.files == 5)
        #expect(addsUp(b))
        #expect(b.seen == 14)
        let r = try repo.restore(RestoreOptions(destination: f.base + "/out"))
        #expect(r.snapshot == b.snapshot && r.files == 5)
        #expect(try snapshotOfTree(f.restoredRoot(f.base + "/out")) == snapshotOfTree(f.source))
    }

    @Test func filesAndFoldersThatVanishAfterTheWalkAreLeftOut() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let root = ByteTree.openFolder(f.source)
        ByteTree.write(root, Array("gone".utf8) + [0xFF], Array("soon deleted\n".utf8))
        close(root)
        let source = f.source
        let repo = try f.repository()
        let b = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets, afterWalk: {
            _ = ByteTree.cName(Array((source + "/gone").utf8) + [0xFF]) { unlink($0) }
            try? FileManager.default.removeItem(atPath: source + "/docs")
        }))
        let left: Set<String> = Set(b.leftOut.map { $0.path })
        let expected: Set<String> = [source + "/gone\\xff", source + "/docs/report.bin", source + "/docs/deep/er/still.txt"]
        #expect(left == expected, "\(b.leftOut)")
        #expect(b.leftOut.allSatisfy { $0.reason.contains("No such file") }, "\(b.leftOut)")
        #expect(b.files == 3)
        #expect(addsUp(b))
        #expect(b.seen == 14)
    }

    @Test(.enabled(if: geteuid() != 0, "root lists a chmod 000 folder anyway; the /proc/self/mem and vanishing tests cover root"))
    func anUnreadableFolderIsLeftOutWhenNotRoot() throws {
        let f = try RepositoryFixture()
        try f.populate()
        chmod(f.source + "/docs/deep", 0o000)
        defer { chmod(f.source + "/docs/deep", 0o755) }
        let repo = try f.repository()
        let b = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        #expect(b.leftOut.map(\.path) == [f.source + "/docs/deep"])
        #expect(b.leftOut.first?.reason.contains("Permission denied") == true)
    }

    @Test func theCountsAddUpAndNothingNewGivesNoRatio() throws {
        let f = try RepositoryFixture()
        try f.populate()
        #expect(mkfifo(f.source + "/a-fifo", 0o644) == 0)
        try f.write("skip.tmp", Array("excluded\n".utf8))
        let repo = try f.repository()
        let first = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets, excludes: [try ExcludePattern("*.tmp")]))
        #expect(first.unsupported == 1 && first.excluded == 1 && first.leftOut.isEmpty)
        #expect(addsUp(first) && first.seen == first.files + first.directories + first.symlinks + 2)
        #expect(first.seen == 15)  // 13 entries, the FIFO and the excluded file
        #expect(first.dedupeRatio.map { $0 >= 1 && $0.isFinite } == true)
        // Nothing changed: nothing read, nothing new, no ratio rather than an absurd one.
        let second = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets, excludes: [try ExcludePattern("*.tmp")]))
        #expect(second.bytesNew == 0 && second.dedupeRatio == nil)
        // Touched but the same bytes: read again, still nothing new.
        var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 0), timespec(tv_sec: 1_700_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, f.source + "/docs/report.bin", &times, 0)
        let third = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets, excludes: [try ExcludePattern("*.tmp")]))
        #expect(third.bytesRead > 0 && third.bytesNew == 0 && third.dedupeRatio == nil)
    }

    @Test func treesOfVersion2StillRestore() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        let b = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        let record = try #require(try repo.state.root()?.snapshots.first { $0.id == b.snapshot })
        let v3 = try #require(try repo.state.cachedTree(record))
        #expect(v3[4] == 3)
        // The same entries in version 2's layout, written here byte by byte: paths and
        // link targets as u32 length + UTF-8.
        let entries = try TreeCodec.decode(v3)
        var w = ByteWriter()
        w.raw(Array("CRNT".utf8))
        w.u8(2)
        w.u32(UInt32(entries.count))
        for e in entries {
            w.u8(e.kind.rawValue)
            w.string(e.path)
            w.u32(e.mode)
            w.u8(1)
            w.u32(e.owner!.uid)
            w.u32(e.owner!.gid)
            w.i64(e.mtimeSeconds)
            w.u32(e.mtimeNanoseconds)
            w.u64(e.size)
            w.u64(e.device)
            w.u64(e.inode)
            w.string(e.linkTarget)
            w.u32(UInt32(e.chunks.count))
            for c in e.chunks { c.encode(into: &w) }
        }
        #expect(try TreeCodec.decode(w.bytes) == entries)
        try repo.state.cacheTree(record, w.bytes)
        let out = f.base + "/out"
        let r = try repo.restore(RestoreOptions(destination: out))
        #expect(r.files == 5)
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))
        // Version 2 could not hold a name that is not UTF-8; version 3 can.
        var bad = w.bytes
        let at = 4 + 1 + 4 + 1 + 4  // magic, version, count, kind, path length
        bad[at] = 0xFF
        // Refused as a string that is not UTF-8, at the path's length field.
        let e = #expect(throws: DecodeError.self) { try TreeCodec.decode(bad) }
        #expect(e?.code == .badValue && e?.offset == at - 4 && e?.reason == "string is not valid UTF-8", "\(String(describing: e))")
        bad[4] = 3
        #expect(try TreeCodec.decode(bad)[0].pathBytes.first == 0xFF)
    }
}
