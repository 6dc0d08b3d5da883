import CairnTestSupport
import Foundation
import Testing

/// Readers and prune's compaction meet at each target's `cairn-store.lock`: every command
/// holds it shared while it has the target's store open, and the compaction (copy, fsync,
/// rename over `data.mdb`) holds it exclusively, so no command has its store file renamed
/// away under it. The other side is played here by the test process holding the flock.
@Suite struct StoreLockTests {
    /// A flock this process holds on a target's store lock, as another cairn would.
    final class HeldLock {
        let fd: Int32
        init(_ target: String, exclusive: Bool) throws {
            fd = open(target + "/cairn-store.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            try #require(fd >= 0, "cannot open the lock file of \(target)")
            try #require(flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0, "cannot lock \(target)")
        }
        deinit {
            _ = flock(fd, LOCK_UN)
            close(fd)
        }
    }

    static func inode(_ file: String) -> UInt64? {
        var st = stat()
        return stat(file, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    static let quickWait = ["CAIRN_LOCK_WAIT": "1"]

    @Test func readersLeaveOutATargetBeingCompactedAndSaySo() throws {
        let s = try TemporaryFolder("cli")
        let base = s.sub("repo")
        let (d, _, kept) = try PruneCommandTests.build(base)
        try PruneCommandTests.restore(d, kept[1], into: s.sub("ref"))
        let t1 = base + "/t1"
        // Every command made so far created the lock file of every target.
        for i in 1...3 { #expect(FileManager.default.fileExists(atPath: base + "/t\(i)/cairn-store.lock")) }

        var compacting: HeldLock? = try HeldLock(t1, exclusive: true)
        let started = Date()
        let list = try CLI.run(["snapshots"] + d, environment: Self.quickWait)
        let waited = Date().timeIntervalSince(started)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains(kept[1]), "\(list.stdout)")
        #expect(list.stderr.contains(t1) && list.stderr.contains("being compacted by `cairn prune`"), "\(list.stderr)")
        #expect(waited >= 1, "gave up after \(waited) s, before the wait it was given")

        // Restore goes on through parity with the two others, and says why.
        let r = try CLI.run(["restore", kept[1]] + d + ["--to", s.sub("out")], environment: Self.quickWait)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains(t1) && r.stderr.contains("being compacted"), "\(r.stderr)")
        try PruneCommandTests.expectSameTree(s.sub("ref"), s.sub("out"))
        let ls = try CLI.run(["ls", kept[1]] + d, environment: Self.quickWait)
        #expect(ls.status == 0, "\(ls.stderr)")
        #expect(ls.stderr.contains(t1) && ls.stderr.contains("being compacted"), "\(ls.stderr)")

        // Two of three being compacted: too few for k = 2, and the error names them.
        let t2 = base + "/t2"
        var second: HeldLock? = try HeldLock(t2, exclusive: true)
        let none = try CLI.run(["restore", kept[1]] + d + ["--to", s.sub("out2")], environment: Self.quickWait)
        #expect(none.status != 0)
        #expect(none.stderr.contains(t1) && none.stderr.contains(t2) && none.stderr.contains("being compacted"), "\(none.stderr)")

        // Once the compactions are over, nothing to say.
        second = nil
        compacting = nil
        let after = try CLI.run(["snapshots"] + d, environment: Self.quickWait)
        #expect(after.status == 0 && !after.stderr.contains("compacted"), "\(after.stderr)")
        _ = (compacting, second)
    }

    @Test func pruneDoesNotReplaceAStoreAnotherCommandHasOpen() throws {
        let s = try TemporaryFolder("cli")
        let base = s.sub("repo")
        let (d, _, kept) = try PruneCommandTests.build(base)
        for id in kept { try PruneCommandTests.restore(d, id, into: s.sub("ref-\(id)")) }
        let before = PruneCommandTests.storeSizes(base)
        let inodes = (1...3).map { Self.inode(base + "/t\($0)/data.mdb") }
        let t2 = base + "/t2"

        // A restore (say) has target 2 open for longer than prune waits.
        var reader: HeldLock? = try HeldLock(t2, exclusive: false)
        let run = try CLI.run(["prune"] + d + ["--json"], environment: Self.quickWait)
        #expect(run.status == 0, "\(run.stderr)")
        let done = try PruneCommandTests.json(run)
        let targets = try #require(done["targets"] as? [[String: Any]])
        #expect(targets.map { $0["compaction_deferred"] as? Bool } == [false, true, false])
        let warnings = done["warnings"] as? [String] ?? []
        #expect(warnings.count == 1 && warnings.first?.contains(t2) == true, "\(warnings)")
        #expect(Self.inode(t2 + "/data.mdb") == inodes[1], "target 2's store was replaced while it was open")
        #expect(FileManager.default.fileExists(atPath: t2 + "/cairn-compact-pending"), "the compaction is still owed")
        let sizes = PruneCommandTests.storeSizes(base)
        #expect(sizes[0] < before[0] && sizes[2] < before[2], "\(before) → \(sizes)")
        #expect(Self.inode(base + "/t1/data.mdb") != inodes[0] && Self.inode(base + "/t3/data.mdb") != inodes[2])

        // The reader is done: the next prune compacts target 2.
        reader = nil
        _ = reader
        let again = try CLI.run(["prune"] + d, environment: Self.quickWait)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("run `cairn prune` again"), "\(again.stderr)")
        #expect(PruneCommandTests.storeSizes(base)[1] < before[1])
        #expect(Self.inode(t2 + "/data.mdb") != inodes[1])
        #expect(!FileManager.default.fileExists(atPath: t2 + "/cairn-compact-pending"))
        for id in kept {
            try PruneCommandTests.restore(d, id, into: s.sub("out-\(id)"))
            try PruneCommandTests.expectSameTree(s.sub("ref-\(id)"), s.sub("out-\(id)"))
        }
    }

    @Test func checkDoesNotMoveADamagedStoreAsideWhileAnotherCommandHasItOpen() throws {
        let s = try TemporaryFolder("cli")
        let base = s.sub("repo")
        let (d, _, kept) = try PruneCommandTests.build(base)
        let t1 = base + "/t1"
        let size = try #require(PruneCommandTests.storeSizes(base).first)
        #expect(truncate(t1 + "/data.mdb", off_t(size / 2)) == 0)
        func movedAside() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: t1).filter { $0.hasPrefix("data.mdb.damaged-") && !$0.hasSuffix(".lock") }
        }

        // Another command has the (damaged) store open.
        var reader: HeldLock? = try HeldLock(t1, exclusive: false)
        let busy = try CLI.run(["check"] + d, environment: Self.quickWait)
        #expect(busy.status == 1, "\(busy.stdout)\n\(busy.stderr)")
        #expect((busy.stdout + busy.stderr).contains("open in another cairn process"), "\(busy.stdout)\n\(busy.stderr)")
        #expect(try movedAside().isEmpty)
        #expect(PruneCommandTests.storeSizes(base).first == size / 2, "the store was replaced while it was open")

        reader = nil
        _ = reader
        let repaired = try CLI.run(["check"] + d, environment: Self.quickWait)
        #expect(repaired.status == 0, "\(repaired.stdout)\n\(repaired.stderr)")
        let listing = try FileManager.default.contentsOfDirectory(atPath: t1)
        #expect(try movedAside().count == 1, "\(listing) \(repaired.stdout)")
        try PruneCommandTests.restore(d, kept[1], into: s.sub("out"))
    }
}
