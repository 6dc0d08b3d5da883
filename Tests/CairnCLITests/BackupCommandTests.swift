import Foundation
import CairnTestSupport
import Testing

@Suite struct BackupCommandTests {
    func makeTree(_ root: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: root + "/a/b/file.txt", contents: Data("content\n".utf8)))
        #expect(FileManager.default.createFile(atPath: root + "/top.bin", contents: Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) })))
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "a/b/file.txt")
    }

    // MARK: end to end through the binary

    @Test func excludeOptionsAndFile() throws {
        let s = try TemporaryFolder("cli")
        let src = s.sub("src")
        try makeTree(src)
        let d = ["--data-dir", s.sub("data")]
        #expect(try CLI.run(["init"] + d + ["--phrase-out", s.sub("phrase")]).status == 0)
        let targets = (1...3).map { s.sub("t\($0)") }.joined(separator: ",")

        let relative = try CLI.run(["backup"] + d + [src, "--to", targets, "--k", "2", "--exclude", "a/b"])
        #expect(relative.status == 64)
        #expect(relative.stderr.contains("not absolute"), "\(relative.stderr)")
        let missing = try CLI.run(["backup"] + d + [src, "--to", targets, "--k", "2", "--exclude-file", s.sub("nope")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("exclude file"), "\(missing.stderr)")

        try "# build output\n\n  *.bin  \n\(src)/a/b\n".write(toFile: s.sub("excludes"), atomically: false, encoding: .utf8)
        let b = try CLI.run(["backup"] + d + [src, "--to", targets, "--k", "2", "--exclude", "link",
                                              "--exclude-file", s.sub("excludes"), "--json"])
        #expect(b.status == 0, "\(b.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
        #expect(summary["excluded"] as? Int == 3)
        #expect(summary["files"] as? Int == 0)
        #expect(summary["symlinks"] as? Int == 0)
    }

    @Test func backupSnapshotsRestoreCheckWithJSON() throws {
        let s = try TemporaryFolder("cli")
        let src = s.sub("src")
        try makeTree(src)
        let d = ["--data-dir", s.sub("data")]
        #expect(try CLI.run(["init"] + d + ["--phrase-out", s.sub("phrase")]).status == 0)
        let targets = (1...5).map { s.sub("t\($0)") }.joined(separator: ",")
        let b = try CLI.run(["backup"] + d + [src, "--to", targets, "--json"])
        #expect(b.status == 0, "\(b.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
        #expect(summary["files"] as? Int == 2)
        #expect(summary["symlinks"] as? Int == 1)
        #expect(summary["k"] as? Int == 3)
        #expect(summary["n"] as? Int == 5)
        let id = try #require(summary["snapshot"] as? String)

        let list = try CLI.run(["snapshots"] + d)
        #expect(list.stdout.contains(id))

        let r = try CLI.run(["restore", String(id.prefix(8))] + d + ["--to", s.sub("out"), "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let restored = s.sub("out") + src
        #expect(FileManager.default.contents(atPath: restored + "/a/b/file.txt") == Data("content\n".utf8))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: restored + "/link") == "a/b/file.txt")

        try FileManager.default.removeItem(atPath: s.sub("t2"))
        let c = try CLI.run(["check"] + d)
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.stdout.contains("rebuilt"))
    }

    // MARK: errors

    @Test func clearErrorsForBadArguments() throws {
        let s = try TemporaryFolder("cli")
        let d = ["--data-dir", s.sub("data")]
        let notInit = try CLI.run(["backup"] + d + [s.path, "--to", "a,b,c"])
        #expect(notInit.status == 1)
        #expect(notInit.stderr.contains("cairn init"))

        #expect(try CLI.run(["init"] + d + ["--phrase-out", s.sub("phrase")]).status == 0)
        let missing = try CLI.run(["backup"] + d + [s.sub("nope"), "--to", "a,b"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("does not exist"))

        let badK = try CLI.run(["backup"] + d + [s.path, "--to", s.sub("x") + "," + s.sub("y"), "--k", "3"])
        #expect(badK.status == 64)
        #expect(badK.stderr.contains("k"))

        let dup = try CLI.run(["backup"] + d + [s.path, "--to", s.sub("x") + "," + s.sub("x")])
        #expect(dup.status == 64)
        #expect(dup.stderr.contains("same folder twice"))

        let noTargets = try CLI.run(["restore"] + d + ["--to", s.sub("out")])
        #expect(noTargets.status == 1)
        #expect(noTargets.stderr.contains("--from"))
    }

    // MARK: streaming

    /// A file over 1 GiB goes through backup and restore with bounded memory. It is
    /// mostly sparse (zeros dedupe), with random blocks so real packs are written.
    @Test func largeFileIsStreamedWithBoundedMemory() throws {
        let s = try TemporaryFolder("cli")
        let src = s.sub("big")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let path = src + "/large.img"
        let size: Int64 = (1 << 30) + 77 * 1024 * 1024 + 12345
        let fd = open(path, O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0)
        #expect(ftruncate(fd, off_t(size)) == 0)
        var state: UInt64 = 42
        var block = [UInt8](repeating: 0, count: 1 << 20)
        for at in stride(from: Int64(0), to: size - Int64(block.count), by: 96 * 1024 * 1024) {
            for i in block.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                block[i] = UInt8(truncatingIfNeeded: state >> 33)
            }
            #expect(pwrite(fd, block, block.count, off_t(at)) == block.count)
        }
        close(fd)

        let d = ["--data-dir", s.sub("data")]
        #expect(try CLI.run(["init"] + d + ["--phrase-out", s.sub("phrase")]).status == 0)
        let targets = (1...5).map { s.sub("t\($0)") }.joined(separator: ",")
        // Peak memory as the process itself saw it (VmHWM): a child spawned from this
        // large test process inherits its high-water mark in rusage.
        let b = try CLI.run(["backup"] + d + [src, "--to", targets, "--json"])
        #expect(b.status == 0, "\(b.stderr)")
        let backupPeak = try #require(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])["peak_rss_bytes"] as? Int
        #expect(try #require(backupPeak) < 256 << 20, "backup peak RSS \((backupPeak ?? 0) >> 20) MiB")
        let r = try CLI.run(["restore"] + d + ["--to", s.sub("out"), "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let restorePeak = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])["peak_rss_bytes"] as? Int
        #expect(try #require(restorePeak) < 256 << 20, "restore peak RSS \((restorePeak ?? 0) >> 20) MiB")

        // Compare in 8 MiB blocks without loading either file.
        let a = open(path, O_RDONLY), c = open(s.sub("out") + path, O_RDONLY)
        defer { close(a); close(c) }
        var x = [UInt8](repeating: 0, count: 8 << 20), y = x
        var total = 0
        while true {
            let n = read(a, &x, x.count), m = read(c, &y, y.count)
            #expect(n == m)
            if n <= 0 { break }
            if memcmp(x, y, n) != 0 { Issue.record("restored large file differs near byte \(total)"); break }
            total += n
        }
        #expect(Int64(total) == size)
    }
}

@Suite struct InterruptedBackupTests {
    /// kill -9 in the middle of a backup leaves no snapshot, and the next run stores
    /// only what the killed one had not committed.
    @Test func killedBackupLeavesNoSnapshotAndResumes() throws {
        let s = try TemporaryFolder("cli")
        let src = s.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        var state: UInt64 = 99
        for i in 0..<6 {
            var bytes = [UInt8](repeating: 0, count: 24 << 20)
            bytes.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for w in words.indices {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    words[w] = state ^ (state >> 29)
                }
            }
            #expect(FileManager.default.createFile(atPath: src + "/f\(i).bin", contents: Data(bytes)))
        }
        let d = ["--data-dir", s.sub("data")]
        #expect(try CLI.run(["init"] + d + ["--phrase-out", s.sub("phrase")]).status == 0)
        let targetList = (1...5).map { s.sub("t\($0)") }
        let killed = try CLI.runKilling(["backup"] + d + [src, "--to", targetList.joined(separator: ",")]) {
            // Once a few packs are committed locally, pull the plug.
            let attrs = try? FileManager.default.attributesOfItem(atPath: targetList[0] + "/data.mdb")
            return ((attrs?[.size] as? Int) ?? 0) > 24 << 20
        }
        try #require(killed, "the backup finished before it could be interrupted")

        let list = try CLI.run(["snapshots", "--json"] + d)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || !list.stdout.contains("\"id\""))

        let resumed = try CLI.run(["backup"] + d + [src, "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any])
        let deduped = try #require(summary["chunks_deduplicated"] as? Int)
        let total = try #require(summary["bytes_read"] as? Int)
        let new = try #require(summary["bytes_new"] as? Int)
        #expect(deduped > 0)
        #expect(new < total)

        let r = try CLI.run(["restore"] + d + ["--to", s.sub("out")])
        #expect(r.status == 0, "\(r.stderr)")
        for i in 0..<6 {
            #expect(FileManager.default.contents(atPath: s.sub("out") + src + "/f\(i).bin") == FileManager.default.contents(atPath: src + "/f\(i).bin"))
        }
    }
}
