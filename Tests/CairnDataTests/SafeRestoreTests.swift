import CairnData
import Foundation
import Testing

/// A restore writes only inside its destination, whatever is already there, and only
/// into an empty destination unless `overwrite` says what to do with existing entries.
@Suite struct SafeRestoreTests {
    /// A folder outside every destination, with a file in it, whose state must not change.
    func outsideFolder(_ f: RepositoryFixture) throws -> String {
        let elsewhere = f.base + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: elsewhere + "/victim.txt", contents: Data("precious\n".utf8)))
        chmod(elsewhere + "/victim.txt", 0o644)
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, elsewhere + "/victim.txt", &times, 0)
        utimensat(AT_FDCWD, elsewhere, &times, 0)
        chmod(elsewhere, 0o755)
        return elsewhere
    }

    func stateOf(_ path: String) throws -> [String: String] {
        var all = try snapshotOfTree(path)
        var st = stat()
        lstat(path, &st)
        all[""] = "mode=\(String(st.st_mode & 0o7777, radix: 8)) mtime=\(st.st_mtim.tv_sec)"
        return all
    }

    @Test func plantedSymlinksInTheDestinationAreNeverFollowed() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        let elsewhere = try outsideFolder(f)
        let before = try stateOf(elsewhere)
        let out = f.base + "/out"
        _ = try repo.restore(RestoreOptions(destination: out))

        // A symlink where a file was (to a file outside) and where a folder was (to a
        // folder outside), as an attacker with write access to OUT would plant them.
        let root = f.restoredRoot(out)
        try FileManager.default.removeItem(atPath: root + "/small.txt")
        try FileManager.default.createSymbolicLink(atPath: root + "/small.txt", withDestinationPath: elsewhere + "/victim.txt")
        try FileManager.default.removeItem(atPath: root + "/docs")
        try FileManager.default.createSymbolicLink(atPath: root + "/docs", withDestinationPath: elsewhere)

        // never and if-newer keep the links (the files the snapshot has are older than
        // the links just made) and write nothing through them.
        for policy in [OverwritePolicy.never, .ifNewer] {
            let r = try repo.restore(RestoreOptions(destination: out, overwrite: policy))
            #expect(r.files == 0, "\(policy)")
            #expect(r.kept >= 4, "\(policy): \(r.kept)")  // small.txt, docs, and the 3 entries under it
            #expect(try stateOf(elsewhere) == before, "\(policy)")
            #expect(r.warnings.contains { $0.contains("kept the existing symlink docs") }, "\(r.warnings)")
        }
        // always replaces the links themselves with what the snapshot has.
        let r = try repo.restore(RestoreOptions(destination: out, overwrite: .always))
        #expect(r.files == 5 && r.kept == 0)
        #expect(try stateOf(elsewhere) == before)
        #expect(try snapshotOfTree(root) == snapshotOfTree(f.source))
    }

    @Test func aSymlinkAboveTheRestoredTreeIsNotFollowed() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        let elsewhere = try outsideFolder(f)
        let before = try stateOf(elsewhere)
        // `ln -s /elsewhere OUT/tmp`: the first folder of every restored path.
        let out = f.base + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let first = String(f.source.dropFirst().prefix { $0 != "/" })
        try FileManager.default.createSymbolicLink(atPath: out + "/" + first, withDestinationPath: elsewhere)

        let kept = try repo.restore(RestoreOptions(destination: out, overwrite: .never))
        #expect(kept.files == 0 && kept.directories == 0 && kept.symlinks == 0)
        #expect(kept.kept == 13)  // every entry of the snapshot (5 files, 2 symlinks, 6 folders) is under the link
        #expect(try stateOf(elsewhere) == before)

        let replaced = try repo.restore(RestoreOptions(destination: out, overwrite: .always))
        #expect(replaced.files == 5)
        #expect(try stateOf(elsewhere) == before)
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))
        var st = stat()
        #expect(lstat(out + "/" + first, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR)
    }

    @Test func twoSnapshotsIntoOneFolderStayInside() throws {
        let f = try RepositoryFixture()
        let elsewhere = try outsideFolder(f)
        let before = try stateOf(elsewhere)
        // The first snapshot has a link "x" to a folder outside; the second a folder "x".
        try FileManager.default.createSymbolicLink(atPath: f.source + "/x", withDestinationPath: elsewhere)
        let repo = try f.repository()
        let first = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        try FileManager.default.removeItem(atPath: f.source + "/x")
        try f.write("x/victim.txt", Array("from the snapshot\n".utf8))
        let second = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))

        let out = f.base + "/out"
        _ = try repo.restore(RestoreOptions(snapshot: first.snapshot, destination: out))
        for policy in OverwritePolicy.allCases {
            _ = try repo.restore(RestoreOptions(snapshot: second.snapshot, destination: out, overwrite: policy))
            #expect(try stateOf(elsewhere) == before, "\(policy)")
        }
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))
        // And back: the first snapshot's link replaces the folder only if it is empty… it
        // is not, so `always` reports the folder in the way and still writes nothing outside.
        #expect {
            try repo.restore(RestoreOptions(snapshot: first.snapshot, destination: out, overwrite: .always))
        } throws: { ($0 as? DataError)?.code == .unrecoverable && "\($0)".contains("a folder is in the way") }
        #expect(try stateOf(elsewhere) == before)
    }

    @Test func aDestinationThatHoldsFilesIsRefusedWithoutOverwrite() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        let out = f.base + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: out + "/mine.txt", contents: Data("mine\n".utf8)))
        #expect {
            try repo.restore(RestoreOptions(destination: out))
        } throws: { ($0 as? DataError)?.code == .destinationNotEmpty && "\($0)".contains("--overwrite") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["mine.txt"])
        // A file is not a folder to restore into.
        #expect {
            try repo.restore(RestoreOptions(destination: out + "/mine.txt", overwrite: .always))
        } throws: { ($0 as? DataError)?.code == .invalidArgument }
        // An empty folder that exists is fine.
        try FileManager.default.createDirectory(atPath: f.base + "/empty", withIntermediateDirectories: true)
        #expect(try repo.restore(RestoreOptions(destination: f.base + "/empty")).files == 5)
    }

    @Test func eachOverwritePolicyDoesWhatItSays() throws {
        let f = try RepositoryFixture()
        try f.write("older-here.txt", Array("snapshot A\n".utf8))
        try f.write("newer-here.txt", Array("snapshot B\n".utf8))
        try f.write("only-in-snapshot.txt", Array("snapshot C\n".utf8))
        for name in ["older-here.txt", "newer-here.txt", "only-in-snapshot.txt"] {
            var t = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
            utimensat(AT_FDCWD, f.source + "/" + name, &t, 0)
        }
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))

        func prepare(_ out: String) throws {
            let root = f.restoredRoot(out)
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            for (name, seconds) in [("older-here.txt", 1_500_000_000), ("newer-here.txt", 1_700_000_000)] {
                #expect(FileManager.default.createFile(atPath: root + "/" + name, contents: Data("existing\n".utf8)))
                var t = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
                utimensat(AT_FDCWD, root + "/" + name, &t, 0)
            }
        }
        func content(_ out: String, _ name: String) -> String {
            String(decoding: FileManager.default.contents(atPath: f.restoredRoot(out) + "/" + name) ?? Data(), as: UTF8.self)
        }
        let expected: [(OverwritePolicy, older: String, newer: String, kept: Int)] = [
            (.never, "existing\n", "existing\n", 2),
            (.ifNewer, "snapshot A\n", "existing\n", 1),
            (.always, "snapshot A\n", "snapshot B\n", 0),
        ]
        for (policy, older, newer, kept) in expected {
            let out = f.base + "/out-" + policy.rawValue
            try prepare(out)
            let r = try repo.restore(RestoreOptions(destination: out, overwrite: policy))
            #expect(content(out, "older-here.txt") == older, "\(policy)")
            #expect(content(out, "newer-here.txt") == newer, "\(policy)")
            #expect(content(out, "only-in-snapshot.txt") == "snapshot C\n", "\(policy)")
            #expect(r.kept == kept, "\(policy)")
            #expect(r.files == 3 - kept, "\(policy)")
        }
    }

    @Test func namesOf255BytesRestore() throws {
        let f = try RepositoryFixture()
        let long = String(repeating: "n", count: 251) + ".txt"
        let longFolder = String(repeating: "d", count: 255)
        #expect(long.utf8.count == 255)
        try f.write(long, Array("long name\n".utf8))
        try f.write(longFolder + "/" + long, Array("long folder\n".utf8))
        try FileManager.default.createSymbolicLink(atPath: f.source + "/" + String(repeating: "l", count: 255), withDestinationPath: long)
        // Multi-byte UTF-8 up to 255 bytes as well.
        let accented = String(repeating: "é", count: 127) + "x"
        #expect(accented.utf8.count == 255)
        try f.write(accented, Array("accents\n".utf8))
        let repo = try f.repository()
        let b = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        #expect(b.files == 3 && b.symlinks == 1)
        let out = f.base + "/out"
        let r = try repo.restore(RestoreOptions(destination: out))
        #expect(r.files == 3 && r.symlinks == 1)
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))
        // No temporary file is left behind.
        #expect(try !FileManager.default.contentsOfDirectory(atPath: f.restoredRoot(out)).contains { $0.hasPrefix(".cairn") })
    }
}
