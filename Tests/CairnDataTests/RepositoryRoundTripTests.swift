import CairnCrypto
import CairnData
import Foundation
import Testing

@Suite struct RepositoryRoundTripTests {
    // MARK: full round trip

    @Test func backupAndRestoreGiveAnIdenticalTree() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        let s = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        #expect(s.files == 5 && s.symlinks == 2 && s.k == 3 && s.n == 5)
        #expect(s.packs >= 1)
        let out = f.base + "/out"
        let r = try repo.restore(RestoreOptions(destination: out))
        #expect(r.files == 5)
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))
    }

    @Test func ownersAreRestoredWhenRunningAsRoot() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let asRoot = geteuid() == 0
        if asRoot {
            // Other owners on a file, a setuid file (chown must come before chmod or the
            // bit is lost), a folder and a symlink itself.
            #expect(lchown(f.source + "/docs/report.bin", 4242, 4343) == 0)
            #expect(lchown(f.source + "/bin/tool.sh", 4242, 4343) == 0)
            #expect(chmod(f.source + "/bin/tool.sh", 0o4755) == 0)
            #expect(lchown(f.source + "/docs/deep", 5151, 5252) == 0)
            #expect(lchown(f.source + "/link-to-report", 6161, 6262) == 0)
        }
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        let out = f.base + "/out"
        let r = try repo.restore(RestoreOptions(destination: out))
        #expect(r.warnings.isEmpty)
        let restored = try snapshotOfTree(f.restoredRoot(out))
        if asRoot {
            #expect(restored == (try snapshotOfTree(f.source)))
            #expect(restored["bin/tool.sh"]?.contains("mode=4755 owner=4242:4343") == true)
        } else {
            // Without root, everything belongs to whoever restores.
            #expect(restored.values.allSatisfy { $0.contains("owner=\(geteuid()):") })
        }
    }

    // MARK: lost and damaged targets

    @Test func twoLostTargetsStillRestoreAndCheckRebuildsThem() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        try FileManager.default.removeItem(atPath: f.targets[1])
        try FileManager.default.removeItem(atPath: f.targets[4])
        let out = f.base + "/out"
        let r = try repo.restore(RestoreOptions(destination: out))
        #expect(r.packsRebuilt > 0)
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))

        let c = try repo.check()
        #expect(c.healthy)
        #expect(c.shardsRepaired == 2 * c.packs)
        let again = try repo.check(repair: false)
        #expect(again.shardsGood == again.shardsChecked)
        #expect(again.problems.isEmpty)
    }

    @Test func twoCorruptedTargetsAreDetectedAndRepaired() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        // Flip bytes inside every shard on targets 1 and 3 (both data shards).
        for t in [0, 2] {
            let target = try LocalTarget(path: f.targets[t], access: .write)
            for key in try target.shardKeys() {
                let shard = try #require(try target.readShard(pack: key.pack, index: key.index))
                var bytes = shard.bytes
                bytes[bytes.count / 2] ^= 0xff
                try bytes.withUnsafeBytes { try target.putShard(header: shard.header, bytes: $0) }
            }
        }
        let out = f.base + "/out"
        _ = try repo.restore(RestoreOptions(destination: out))
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))
        let c = try repo.check()
        #expect(c.shardsRepaired == 2 * c.packs)
        #expect(try repo.check(repair: false).problems.isEmpty)
    }

    @Test func threeLostTargetsFailWithAListOfWhatIsMissing() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        for t in [0, 1, 2] { try FileManager.default.removeItem(atPath: f.targets[t]) }
        // The data dir still knows the root record, so the tree may come from its cache;
        // the file contents cannot come back.
        do {
            _ = try repo.restore(RestoreOptions(destination: f.base + "/out"))
            Issue.record("restore with 2 of 5 targets should fail")
        } catch {
            #expect(error.code == .unrecoverable)
            #expect(error.message.contains("needs 3 of its 5 targets and only 2"), "\(error.message)")
        }
        let c = try repo.check(repair: false)
        #expect(!c.healthy)
    }

    // MARK: incremental backups

    @Test func secondBackupSkipsUnchangedAndStoresOnlyNewChunks() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        let first = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        let before = try snapshotOfTree(f.source)

        // Change a little of one file, delete one, rename one.
        let reportPath = f.source + "/docs/report.bin"
        var report = [UInt8](FileManager.default.contents(atPath: reportPath)!)
        for i in 1_000_000..<1_000_100 { report[i] ^= 0x5a }
        #expect(FileManager.default.createFile(atPath: reportPath, contents: Data(report)))
        try FileManager.default.removeItem(atPath: f.source + "/small.txt")
        try FileManager.default.moveItem(atPath: f.source + "/bin/tool.sh", toPath: f.source + "/bin/renamed.sh")

        let second = try repo.backup(BackupOptions(paths: [f.source]))
        #expect(second.parent == first.snapshot)
        #expect(second.filesUnchanged == 2)
        #expect(second.filesChanged == 1)
        #expect(second.filesNew == 1)
        #expect(second.bytesNew < 3 * 1024 * 1024)
        #expect(second.chunksDeduplicated >= 1)

        let outNew = f.base + "/new"
        _ = try repo.restore(RestoreOptions(snapshot: second.snapshot, destination: outNew))
        #expect(try snapshotOfTree(f.restoredRoot(outNew)) == snapshotOfTree(f.source))
        let outOld = f.base + "/old"
        _ = try repo.restore(RestoreOptions(snapshot: String(first.snapshot.prefix(6)), destination: outOld))
        #expect(try snapshotOfTree(f.restoredRoot(outOld)) == before)
    }

    @Test func restoreOfOneSubpath() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        let out = f.base + "/out"
        let sub = String(f.source.dropFirst()) + "/docs"
        let r = try repo.restore(RestoreOptions(destination: out, subpath: sub))
        #expect(r.files == 2)
        #expect(!FileManager.default.fileExists(atPath: f.restoredRoot(out) + "/small.txt"))
        #expect(try snapshotOfTree(f.restoredRoot(out) + "/docs") == snapshotOfTree(f.source + "/docs"))
        let missing = #expect(throws: DataError.self) { try repo.restore(RestoreOptions(destination: out, subpath: "no/such/path")) }
        #expect(missing?.code == .notFound && missing?.message.contains("has nothing at no/such/path") == true,
                "\(String(describing: missing))")
    }

    // MARK: recovery from the phrase alone

    @Test func phraseAndTargetsAloneRestoreEverything() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let first = try f.repository()
        _ = try first.backup(BackupOptions(paths: [f.source], targets: f.targets))
        try FileManager.default.removeItem(atPath: f.dataDir)
        try FileManager.default.removeItem(atPath: f.targets[3])

        let fresh = f.base + "/data2"
        let keys = try DataDirectory(path: fresh).initialize(with: Mnemonic(phrase: f.mnemonic.phrase))
        #expect(keys.identity == first.keys.identity)
        let repo = try f.repository(dataDir: fresh)
        let out = f.base + "/out"
        _ = try repo.restore(RestoreOptions(destination: out, from: f.targets))
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))

        // A backup after recovery dedupes against what the targets hold.
        try repo.saveConfig({ var c = repo.config; c.targets = []; return c }())
        try FileManager.default.createDirectory(atPath: f.targets[3], withIntermediateDirectories: true)
        _ = try repo.check(from: f.targets)
        let again = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        #expect(again.chunksNew <= 1)
    }

    @Test func oneWriterAtATimePerDataDirectoryAndPerTarget() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        func isBusy(_ error: any Error) -> Bool { (error as? DataError)?.code == .busy }

        // Another backup or a repairing check is running on this data directory.
        do {
            let dataLock = try DirectoryLock(folder: f.dataDir)
            #expect(performing: { try DirectoryLock(folder: f.dataDir) }, throws: isBusy)
            #expect(performing: { try repo.backup(BackupOptions(paths: [f.source])) }, throws: isBusy)
            #expect(performing: { try repo.check() }, throws: isBusy)
            #expect(try repo.check(repair: false).packsUnrecoverable.isEmpty)  // reading is fine
            withExtendedLifetime(dataLock) {}
        }

        // A recovered copy of the data directory writing to the same targets as a backup
        // that is still running elsewhere.
        do {
            let copy = f.base + "/copy"
            _ = try DataDirectory(path: copy).initialize(with: f.mnemonic)
            let targetLock = try DirectoryLock(folder: f.targets[3])
            #expect(performing: { try f.repository(dataDir: copy).backup(BackupOptions(paths: [f.source], targets: f.targets)) },
                    throws: isBusy)
            withExtendedLifetime(targetLock) {}
        }

        // Released: both work again.
        _ = try repo.backup(BackupOptions(paths: [f.source]))
        #expect(try repo.check().packsUnrecoverable.isEmpty)
    }

    @Test func anotherPhraseCannotReadTheTargets() throws {
        let f = try RepositoryFixture()
        try f.populate()
        _ = try f.repository().backup(BackupOptions(paths: [f.source], targets: f.targets))
        let other = f.base + "/other"
        _ = try DataDirectory(path: other).initialize(with: Mnemonic.generate())
        let repo = try f.repository(dataDir: other)
        #expect {
            try repo.restore(RestoreOptions(destination: f.base + "/out", from: f.targets))
        } throws: { ($0 as? DataError)?.code == .wrongOwner }
    }
}

@Suite struct BackupTargetTests {
    @Test func laterBackupRefusesAMissingTargetUntilCheckRecreatesIt() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        try FileManager.default.removeItem(atPath: f.targets[2])
        #expect {
            try repo.backup(BackupOptions(paths: [f.source]))
        } throws: { ($0 as? DataError)?.code == .targetUnavailable && "\($0)".contains("cairn check") }
        #expect(!FileManager.default.fileExists(atPath: f.targets[2]))
        let c = try repo.check()
        #expect(c.healthy && c.targetsRecreated == [f.targets[2]])
        let s = try repo.backup(BackupOptions(paths: [f.source]))
        #expect(s.filesUnchanged == s.files)
    }

    @Test func differentTargetListIsRefused() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        let e = #expect(throws: DataError.self) {
            try repo.backup(BackupOptions(paths: [f.source], targets: Array(f.targets.reversed())))
        }
        #expect(e?.code == .invalidArgument && e?.message.contains("give the same --to list") == true, "\(String(describing: e))")
    }
}

@Suite struct BackupExclusionTests {
    @Test func targetsAndDataDirectoryInsideTheSourceAreSkipped() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let targets = (1...3).map { f.source + "/backup-disk-\($0)" }
        let repo = try f.repository()
        let s = try repo.backup(BackupOptions(paths: [f.base], targets: targets, k: 2))
        #expect(s.warnings.filter { $0.contains("backup target") }.count == 4)
        let out = f.base + "-restored"
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try repo.restore(RestoreOptions(destination: out))
        #expect(FileManager.default.fileExists(atPath: out + f.source + "/small.txt"))
        #expect(!FileManager.default.fileExists(atPath: out + targets[0]))
        #expect(!FileManager.default.fileExists(atPath: out + f.dataDir))
    }

    @Test func excludePatternsLeaveOutNamesAnywhereAndAbsolutePaths() throws {
        let f = try RepositoryFixture()
        try f.populate()
        try f.write("docs/notes.tmp", Array("scratch".utf8))
        try f.write("cache/node_modules/x/y.js", Array("js".utf8))
        let patterns = try ["*.tmp", "node_modules", f.source + "/docs/deep", f.source + "/b?n/"].map { try ExcludePattern($0) }
        let repo = try f.repository()
        let s = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets, excludes: patterns))
        #expect(s.excluded == 4)
        let out = f.base + "/out"
        _ = try repo.restore(RestoreOptions(destination: out))
        let restored = try snapshotOfTree(f.restoredRoot(out))
        for gone in ["docs/notes.tmp", "cache/node_modules", "docs/deep", "bin"] {
            #expect(restored[gone] == nil, "\(gone) should have been excluded")
        }
        for kept in ["docs/report.bin", "cache", "small.txt", "empty-dir", "link-to-report"] {
            #expect(restored[kept] != nil, "\(kept) should have been kept")
        }
    }

    @Test func excludePatternsThatCannotWorkAreRefused() {
        for bad in ["", "docs/*.tmp", "a\u{0}b"] {
            let e = #expect(throws: DataError.self) { try ExcludePattern(bad) }
            #expect(e?.code == .invalidArgument, "\(bad): \(String(describing: e))")
        }
        #expect((try? ExcludePattern("/")) != nil)
    }
}

