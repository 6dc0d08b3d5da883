import CairnData
import Foundation
import CairnTestSupport
import Testing

/// A target whose disk fills up mid-backup: the backup stops with an error that says
/// which target is full and what to do, publishes no snapshot, and loses nothing; once
/// there is room, the next backup completes and restores.
///
/// A real full file system needs a small one: a tmpfs mounted for the test. That takes
/// root and the right to mount (CI runs as root on a VM); elsewhere the test is disabled
/// and says so.
@Suite(.serialized) struct FullDiskTests {
    static func mount(_ arguments: [String]) -> Bool {
        (try? ChildProcess.run("/bin/mount", arguments, timeout: 60, discardOutput: true))?.status == 0
    }

    static func unmount(_ path: String) {
        _ = try? ChildProcess.run("/bin/umount", [path], timeout: 60, discardOutput: true)
    }

    /// Root can mount a tmpfs here (tried once on a scratch folder).
    static let canMountTmpfs: Bool = {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/bin/mount") else { return false }
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-mount-probe-\(UUID().uuidString)").path
        guard (try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)) != nil else { return false }
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) else { return false }
        unmount(probe)
        return true
    }()

    @Test(.enabled(if: canMountTmpfs, "needs root and permission to mount a tmpfs"))
    func aFullTargetStopsTheBackupCleanlyAndTheNextOneCompletes() throws {
        let f = try RepositoryFixture()
        var rng = SeededRandom(seed: 77)
        try f.write("big/a.bin", rng.bytes(12 << 20))
        try f.write("big/b.bin", rng.bytes(12 << 20))
        let full = f.targets[2]
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        #expect(Self.mount(["-t", "tmpfs", "-o", "size=3m", "tmpfs", full]))
        defer { Self.unmount(full) }

        let repo = try f.repository()
        #expect {
            try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        } throws: { error in
            guard let e = error as? DataError else { return false }
            return e.oneLine.contains(full) && e.oneLine.contains("no space left") && e.hasCode("diskFull")
        }
        let (root, _) = try repo.currentRoot(targets: try TargetSet(paths: f.targets, access: .read, count: f.targets.count))
        #expect(root?.snapshots.isEmpty ?? true, "a failed backup must not publish a snapshot")

        // Room again (the user freed space): the next backup completes and restores.
        #expect(Self.mount(["-o", "remount,size=64m", full]))
        let s = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        #expect(s.files == 2)
        let out = f.base + "/out"
        _ = try repo.restore(RestoreOptions(destination: out))
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))
        #expect(try repo.check().packsUnrecoverable.isEmpty)
    }
}
