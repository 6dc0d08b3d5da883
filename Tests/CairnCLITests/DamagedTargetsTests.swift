import Foundation
import CairnTestSupport
import Testing

/// The matrix of damaged targets × commands, through the built binary: whatever happened
/// to one target (of five, three needed), no command dies of a signal, restore and
/// listing still work from the other four, `check` reports the damage (and exits non-zero
/// with `--no-repair`) and rebuilds what it may, and `backup` either works or refuses
/// with an error naming the target. Nothing is ever lost.
@Suite struct DamagedTargetsTests {
    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case truncated, garbagePages, scatteredBytes, nodeFlags, foreignOwner, foreignRepository, missing, fileInstead
        case fifoInstead, deviceLink, swapped
        /// The owner key in the target's root record flipped (the payload still opens with
        /// our keys); and flipped with the payload damaged too (only the target's metadata
        /// says whose it is). Damage to our drive, not another owner's.
        case ownerKey, ownerKeyAndPayload
        var testDescription: String { rawValue }

        /// Whether `check` may rebuild the target in place (a store it moves aside, or a missing folder).
        var rebuildable: Bool { [.truncated, .garbagePages, .scatteredBytes, .nodeFlags, .missing, .ownerKey, .ownerKeyAndPayload].contains(self) }
        /// Whether `check` repairs it by rewriting records, not by re-creating the store.
        var rewrittenInPlace: Bool { [.ownerKey, .ownerKeyAndPayload].contains(self) }
        /// Whether the target is still fully usable (nothing to report).
        var harmless: Bool { self == .swapped }
    }

    /// A small repository: init, a tree with a few files, one 3-of-5 backup.
    final class World {
        let scratch: TemporaryFolder
        let data: [String]
        let targets: [String]
        let source: String
        let snapshot: String

        init() throws {
            let scratch = try TemporaryFolder("cli")
            self.scratch = scratch
            data = ["--data-dir", scratch.sub("data")]
            source = scratch.sub("src")
            targets = (1...5).map { scratch.sub("t\($0)") }
            var rng = SeededRandom(seed: 7)
            try FileManager.default.createDirectory(atPath: source + "/docs", withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: source + "/docs/big.bin", contents: Data(rng.bytes(700_000))))
            #expect(FileManager.default.createFile(atPath: source + "/small.txt", contents: Data("small\n".utf8)))
            try FileManager.default.createSymbolicLink(atPath: source + "/link", withDestinationPath: "small.txt")
            try Self.expectRun(["init"] + data + ["--phrase-out", scratch.sub("phrase")])
            let b = try Self.expectRun(["backup"] + data + [source, "--to", targets.joined(separator: ","), "--json"])
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
            snapshot = try #require(summary["snapshot"] as? String)
        }

        @discardableResult
        func expectRun(_ args: [String], status: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIResult {
            try Self.expectRun(args, status: status, sourceLocation: sourceLocation)
        }

        /// Runs cairn and expects a normal exit (never a signal) with `status`.
        @discardableResult
        static func expectRun(_ args: [String], status: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIResult {
            let r = try CLI.run(args)
            #expect(r.status < 128, "cairn \(args.first ?? "") died of signal \(r.status - 128): \(r.stderr)", sourceLocation: sourceLocation)
            #expect(r.status == status, "cairn \(args.joined(separator: " ")): \(r.stderr)", sourceLocation: sourceLocation)
            return r
        }

        /// Restores into a new folder and compares with the source.
        func expectRestore(_ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIResult {
            let out = scratch.sub("out-\(UUID().uuidString)")
            let r = try expectRun(["restore", "latest"] + data + ["--to", out] + extra, sourceLocation: sourceLocation)
            #expect(FileManager.default.contents(atPath: out + source + "/docs/big.bin") == FileManager.default.contents(atPath: source + "/docs/big.bin"),
                    sourceLocation: sourceLocation)
            #expect(FileManager.default.contents(atPath: out + source + "/small.txt") == Data("small\n".utf8), sourceLocation: sourceLocation)
            try? FileManager.default.removeItem(atPath: out)
            return r
        }

        func damage(_ kind: Damage, target t: String) throws {
            let file = t + "/data.mdb"
            switch kind {
            case .truncated:
                let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
                #expect(truncate(file, off_t(size / 2)) == 0)
            case .garbagePages:
                // Every page after the two meta pages: B-tree pages, free list, shard data.
                let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
                var rng = SeededRandom(seed: 11)
                try overwrite(file, at: 8192, with: rng.bytes(size - 8192))
            case .scatteredBytes:
                // A few bytes at seeded places of every page but the meta pages.
                let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
                var rng = SeededRandom(seed: 13)
                for page in stride(from: 8192, to: size, by: 4096) {
                    try overwrite(file, at: page + Int(rng.next() % 4080), with: rng.bytes(16))
                }
            case .nodeFlags:
                // Every shard's leaf node says "duplicate data" (LMDB would follow a
                // sub-database cursor our databases do not have: SIGSEGV inside liblmdb).
                var bytes = try #require(FileManager.default.contents(atPath: file)).map { $0 }
                let nodes = StorePages.leafNodes(in: bytes) { $0.keySize == 33 && $0.flags == 0x01 }
                #expect(!nodes.isEmpty)
                for node in nodes { bytes[node.offset + 4] = 0x05 }
                #expect(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
            case .foreignOwner:
                // Another identity's target where this one was.
                let other = ["--data-dir", scratch.sub("other-data")]
                try expectRun(["init"] + other + ["--phrase-out", scratch.sub("other-phrase")])
                let theirs = (1...3).map { scratch.sub("other-t\($0)") }
                try expectRun(["backup"] + other + [source + "/small.txt", "--to", theirs.joined(separator: ","), "--k", "2"])
                try FileManager.default.removeItem(atPath: t)
                try FileManager.default.moveItem(atPath: theirs[0], toPath: t)
            case .foreignRepository:
                // A drive of another repository of the same owner (same phrase, its own
                // data directory and targets), with a newer history (a higher sequence).
                try FileManager.default.removeItem(atPath: t)
                try FileManager.default.moveItem(atPath: try otherRepository()[0], toPath: t)
            case .missing:
                try FileManager.default.removeItem(atPath: t)
            case .fileInstead:
                try FileManager.default.removeItem(atPath: t)
                #expect(FileManager.default.createFile(atPath: t, contents: Data("not a target\n".utf8)))
            case .fifoInstead:
                try FileManager.default.removeItem(atPath: t)
                #expect(mkfifo(t, 0o600) == 0)
            case .deviceLink:
                try FileManager.default.removeItem(atPath: t)
                try FileManager.default.createSymbolicLink(atPath: t, withDestinationPath: "/dev/zero")
            case .ownerKey, .ownerKeyAndPayload:
                // Every copy of the root envelope in the file (LMDB copies pages on write):
                // "CRNR" | version 1 | owner key (32) | payload length u32 | sealed payload.
                var bytes = try #require(FileManager.default.contents(atPath: file)).map { $0 }
                let magic = Array("CRNR".utf8) + [1]
                let starts = (0..<(bytes.count - 80)).filter { Array(bytes[$0..<$0 + 5]) == magic }
                #expect(!starts.isEmpty)
                for at in starts {
                    for i in (at + 5)..<(at + 37) { bytes[i] ^= 0xFF }
                    if kind == .ownerKeyAndPayload { for i in (at + 41)..<(at + 57) { bytes[i] ^= 0x5A } }
                }
                #expect(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
            case .swapped:
                try FileManager.default.moveItem(atPath: targets[0], toPath: scratch.sub("swap"))
                try FileManager.default.moveItem(atPath: targets[1], toPath: targets[0])
                try FileManager.default.moveItem(atPath: scratch.sub("swap"), toPath: targets[1])
            }
        }

        /// Another repository of this owner: the phrase recovered into its own data
        /// directory, three backups of one file to its own three targets (so its root
        /// record's sequence is higher than this repository's). Returns its targets.
        @discardableResult
        func otherRepository() throws -> [String] {
            let theirs = (1...3).map { scratch.sub("other-repo-t\($0)") }
            try expectRun(["init", "--recover"] + otherData + ["--phrase-file", scratch.sub("phrase")])
            for _ in 0..<3 {
                try expectRun(["backup"] + otherData + [source + "/small.txt", "--to", theirs.joined(separator: ","), "--k", "2"])
            }
            return theirs
        }

        var otherData: [String] { ["--data-dir", scratch.sub("other-repo-data")] }

        private func overwrite(_ file: String, at offset: Int, with bytes: [UInt8]) throws {
            let fd = open(file, O_WRONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            #expect(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) } == bytes.count)
        }
    }

    // MARK: the matrix

    @Test(arguments: Damage.allCases)
    func oneDamagedTargetOfFive(_ kind: Damage) throws {
        let w = try World()
        let victim = w.targets[0]
        try w.damage(kind, target: victim)

        // restore and snapshots: the other four suffice; the damaged one is named.
        let r = try w.expectRestore()
        if !kind.harmless { #expect(r.stderr.contains(victim), "\(r.stderr)") }
        let list = try w.expectRun(["snapshots"] + w.data)
        #expect(list.stdout.contains(w.snapshot))

        // check --no-repair reports and changes nothing.
        let before = try? FileManager.default.attributesOfItem(atPath: victim)
        let report = try w.expectRun(["check", "--no-repair"] + w.data, status: kind.harmless ? 0 : 1)
        if !kind.harmless { #expect((report.stdout + report.stderr).contains(victim), "\(report.stdout)\(report.stderr)") }
        #expect((try? FileManager.default.attributesOfItem(atPath: victim))?[.modificationDate] as? Date
                == before?[.modificationDate] as? Date)

        // check repairs what it may, leaves alone what it may not.
        let repaired = try w.expectRun(["check"] + w.data, status: kind.rebuildable || kind.harmless ? 0 : 1)
        if kind.rebuildable {
            // Scattered bytes may leave the store's pages sound and hit only shards and the
            // root record: those are rewritten in place instead.
            let rewritten = (kind == .scatteredBytes || kind.rewrittenInPlace) && !repaired.stdout.contains("re-created") && repaired.stdout.contains(victim)
            if kind.rewrittenInPlace {
                #expect(repaired.stdout.contains("\(victim): its root record is damaged"), "\(repaired.stdout)")
                #expect(!(repaired.stdout + repaired.stderr).contains("another owner"), "\(repaired.stdout)\(repaired.stderr)")
            }
            #expect(rewritten || repaired.stdout.contains("re-created target \(victim)"), "\(repaired.stdout)")
            if kind != .missing && !rewritten {
                let aside = try FileManager.default.contentsOfDirectory(atPath: victim).filter { $0.hasPrefix("data.mdb.damaged-") }
                #expect(!aside.isEmpty, "the damaged store was not kept")
            }
            try w.expectRun(["check", "--no-repair"] + w.data)
        } else if !kind.harmless {
            #expect(repaired.stderr.contains(victim), "\(repaired.stderr)")
        }
        switch kind {
        case .fileInstead: #expect(FileManager.default.contents(atPath: victim) == Data("not a target\n".utf8))
        case .deviceLink: #expect(try FileManager.default.destinationOfSymbolicLink(atPath: victim) == "/dev/zero")
        default: break
        }

        // backup: after a repair (or with a harmless change) it works; otherwise it
        // refuses, naming the target, and the old snapshot stays restorable.
        let b = try w.expectRun(["backup"] + w.data + [w.source], status: kind.rebuildable || kind.harmless ? 0 : 1)
        if !(kind.rebuildable || kind.harmless) { #expect(b.stderr.contains(victim), "\(b.stderr)") }
        _ = try w.expectRestore()
        if kind == .foreignRepository {
            // The other repository's drive was left alone: its own history is all there.
            let theirs = try w.expectRun(["snapshots", "--json"] + w.otherData + ["--from", victim])
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(theirs.stdout.utf8)) as? [[String: Any]])
            #expect(listed.count == 3, "\(theirs.stdout)")
        }
    }

    // MARK: --from by identity

    @Test func fromTakesAnySubsetInAnyOrder() throws {
        let w = try World()
        try FileManager.default.removeItem(atPath: w.targets[1])
        try FileManager.default.removeItem(atPath: w.targets[3])
        let survivors = [w.targets[4], w.targets[0], w.targets[2]].joined(separator: ",")
        // A recovered machine: a new data directory from the phrase, only the survivors.
        let fresh = ["--data-dir", w.scratch.sub("fresh")]
        try w.expectRun(["init", "--recover"] + fresh + ["--phrase-file", w.scratch.sub("phrase")])
        let out = w.scratch.sub("out")
        try w.expectRun(["restore", "latest"] + fresh + ["--from", survivors, "--to", out])
        #expect(FileManager.default.contents(atPath: out + w.source + "/docs/big.bin") == FileManager.default.contents(atPath: w.source + "/docs/big.bin"))

        let two = try w.expectRun(["restore", "latest"] + fresh + ["--from", [w.targets[2], w.targets[0]].joined(separator: ","), "--to", w.scratch.sub("out2")], status: 1)
        #expect(two.stderr.contains("needs 3 of its 5 targets and only 2"), "\(two.stderr)")
        #expect(!two.stderr.contains("Index out of range"))
    }

    @Test func aliasesOfOneTargetAreRefusedBeforeAnythingIsCreated() throws {
        let s = try TemporaryFolder("cli")
        let d = ["--data-dir", s.sub("data")]
        #expect(try CLI.run(["init"] + d + ["--phrase-out", s.sub("p")]).status == 0)
        try FileManager.default.createDirectory(atPath: s.sub("src"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: s.sub("x"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: s.sub("link"), withDestinationPath: s.sub("x"))
        for alias in [s.sub("x") + "/", s.path + "/./x", s.sub("link"), s.sub("y") + "/../x"] {
            try? FileManager.default.createDirectory(atPath: s.sub("y"), withIntermediateDirectories: true)
            let r = try CLI.run(["backup"] + d + [s.sub("src"), "--to", [s.sub("x"), alias, s.sub("z")].joined(separator: ","), "--k", "2"])
            #expect(r.status == 1, "\(alias): \(r.stderr)")
            #expect(r.stderr.contains("same folder"), "\(alias): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: s.sub("z")), "\(alias): a target was created")
            #expect(!FileManager.default.fileExists(atPath: s.sub("x") + "/data.mdb"))
        }
    }

    // MARK: targets another user owns

    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                   "needs root and setpriv(1) to run cairn as another user"))
    func anotherUsersTargetsRestoreAndOneUnreadableTargetIsSkipped() throws {
        let w = try World()
        let nobody: UInt32 = 65534
        // Root's targets, readable by everyone and writable by none but root (no lock
        // file can be created); the fifth readable by root alone.
        for t in w.targets {
            #expect(chmod(t, 0o755) == 0)
            for f in try FileManager.default.contentsOfDirectory(atPath: t) { #expect(chmod(t + "/" + f, 0o644) == 0) }
        }
        #expect(chmod(w.targets[4], 0o700) == 0)
        let data = w.scratch.sub("nobody-data"), out = w.scratch.sub("nobody-out")
        for d in [data, out] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            #expect(chown(d, nobody, nobody) == 0)
        }
        let phrase = try String(contentsOfFile: w.scratch.sub("phrase"), encoding: .utf8)
        let recovered = try CLI.run(["init", "--recover", "--data-dir", data], stdin: phrase, asUser: nobody)
        #expect(recovered.status == 0, "\(recovered.stderr)")
        let from = ["--from", w.targets.reversed().joined(separator: ",")]
        let r = try CLI.run(["restore", "latest", "--data-dir", data, "--to", out] + from, asUser: nobody)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains(w.targets[4]), "\(r.stderr)")
        #expect(FileManager.default.contents(atPath: out + w.source + "/docs/big.bin") == FileManager.default.contents(atPath: w.source + "/docs/big.bin"))
        let list = try CLI.run(["snapshots", "--data-dir", data] + from, asUser: nobody)
        #expect(list.status == 0 && list.stdout.contains(w.snapshot), "\(list.stderr)")
        let check = try CLI.run(["check", "--no-repair", "--data-dir", data] + from, asUser: nobody)
        #expect(check.status == 1, "\(check.stderr)")
        #expect(check.stdout.contains(w.targets[4]), "\(check.stdout)")
        // Nothing was written to the targets: no lock file appeared.
        #expect(!w.targets.contains { FileManager.default.fileExists(atPath: $0 + "/lock.mdb") && (try? FileManager.default.attributesOfItem(atPath: $0 + "/lock.mdb")[.ownerAccountID] as? Int) == Int(nobody) })
    }

    // MARK: read-only targets

    @Test(.enabled(if: ReadOnlyMount.possible, "needs root and mount(8) for a read-only bind mount"))
    func readOnlyTargetsRestoreListAndCheckWithoutRepair() throws {
        let w = try World()
        let folder = w.scratch.sub("ro")
        // All five targets under one read-only bind mount.
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for t in w.targets { try FileManager.default.moveItem(atPath: t, toPath: folder + "/" + (t as NSString).lastPathComponent) }
        for t in w.targets { try FileManager.default.createSymbolicLink(atPath: t, withDestinationPath: folder + "/" + (t as NSString).lastPathComponent) }
        // lock.mdb files are gone too: LMDB must not need to create one. So is the first
        // target's store lock: read without it, with a warning; the others' are locked
        // although they cannot be written.
        for t in w.targets { try? FileManager.default.removeItem(atPath: t + "/lock.mdb") }
        try FileManager.default.removeItem(atPath: w.targets[0] + "/cairn-store.lock")
        try #require(ReadOnlyMount.mount(folder))
        defer { ReadOnlyMount.unmount(folder) }

        _ = try w.expectRestore()
        let list = try w.expectRun(["snapshots"] + w.data)
        #expect(list.stdout.contains(w.snapshot))
        #expect(list.stderr.contains("cairn-store.lock cannot be created") && list.stderr.contains("read without it"), "\(list.stderr)")
        #expect(!list.stderr.contains(w.targets[1]), "\(list.stderr)")
        try w.expectRun(["check", "--no-repair"] + w.data)
        let b = try w.expectRun(["backup"] + w.data + [w.source], status: 1)
        #expect(b.stderr.contains(w.targets[0]) || b.stderr.contains(folder), "\(b.stderr)")
        try w.expectRun(["check"] + w.data, status: 1)
    }
}

/// A read-only bind mount of a folder onto itself (root only).
enum ReadOnlyMount {
    static func run(_ tool: String, _ arguments: [String]) -> Bool {
        (try? ChildProcess.run(tool, arguments, timeout: 60, discardOutput: true))?.status == 0
    }

    static func mount(_ folder: String) -> Bool {
        guard run("/bin/mount", ["--bind", folder, folder]) else { return false }
        if run("/bin/mount", ["-o", "remount,ro,bind", folder]) { return true }
        unmount(folder)
        return false
    }

    static func unmount(_ folder: String) { _ = run("/bin/umount", [folder]) }

    static let possible: Bool = {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/bin/mount") else { return false }
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-ro-probe-\(UUID().uuidString)").path
        guard (try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)) != nil else { return false }
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard mount(probe) else { return false }
        unmount(probe)
        return true
    }()
}
