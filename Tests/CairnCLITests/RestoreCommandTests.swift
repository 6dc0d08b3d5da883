import Foundation
import CairnTestSupport
import Testing

@Suite struct RestoreCommandTests {
    /// A repository with one snapshot of a small tree; returns the data-dir arguments.
    func backedUp(_ s: TemporaryFolder) throws -> (dataDir: [String], source: String) {
        let src = s.sub("src")
        try FileManager.default.createDirectory(atPath: src + "/d", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: src + "/d/f.txt", contents: Data("from the snapshot\n".utf8)))
        let d = ["--data-dir", s.sub("data")]
        #expect(try CLI.run(["init"] + d + ["--phrase-out", s.sub("phrase")]).status == 0)
        let b = try CLI.run(["backup"] + d + [src, "--to", (1...3).map { s.sub("t\($0)") }.joined(separator: ","), "--k", "2"])
        #expect(b.status == 0, "\(b.stderr)")
        return (d, src)
    }

    @Test func aNonEmptyDestinationNeedsOverwrite() throws {
        let s = try TemporaryFolder("cli")
        let (d, src) = try backedUp(s)
        let out = s.sub("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: out + "/mine.txt", contents: Data("mine\n".utf8)))

        let refused = try CLI.run(["restore"] + d + ["--to", out])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("already holds files") && refused.stderr.contains("--overwrite never|if-newer|always"),
                "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["mine.txt"])

        let bad = try CLI.run(["restore"] + d + ["--to", out, "--overwrite", "sometimes"])
        #expect(bad.status == 64, "\(bad.stderr)")
        #expect(bad.stderr.contains("never, if-newer or always"), "\(bad.stderr)")

        // A planted link to a folder outside, where the snapshot has a folder.
        let elsewhere = s.sub("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: out + src, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: out + src + "/d", withDestinationPath: elsewhere)
        let never = try CLI.run(["restore"] + d + ["--to", out, "--overwrite", "never", "--json"])
        #expect(never.status == 0, "\(never.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(never.stdout.utf8)) as? [String: Any])
        #expect(summary["kept"] as? Int == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)

        let always = try CLI.run(["restore"] + d + ["--to", out, "--overwrite", "always"])
        #expect(always.status == 0, "\(always.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
        #expect(FileManager.default.contents(atPath: out + src + "/d/f.txt") == Data("from the snapshot\n".utf8))
        #expect(FileManager.default.contents(atPath: out + "/mine.txt") == Data("mine\n".utf8))
    }

    /// A restore killed between writing a file and renaming it leaves its temporary; the
    /// next restore into that folder removes it (and other restores' temporaries, regular
    /// files only) and says how many. A symlink of that name pointing outside is neither
    /// followed nor removed; names that only look alike, and a folder of that name, stay.
    @Test func staleTemporariesOfAKilledRestoreAreRemoved() throws {
        let s = try TemporaryFolder("cli")
        let (d, src) = try backedUp(s)
        let out = s.sub("out")
        let killed = try CLI.run(["restore"] + d + ["--to", out], environment: ["CAIRN_CRASH_AFTER": "1"])
        #expect(killed.status == 128 + SIGKILL, "\(killed.stderr)")
        let folder = out + src + "/d"
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".cairn-restore-") }
        #expect(left.count == 1, "\(left)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/f.txt"))

        // Another killed restore's temporary at the top; a link of that name to a file
        // outside; look-alikes that are not restores' names; a folder of such a name.
        let outside = s.sub("outside.txt")
        #expect(FileManager.default.createFile(atPath: outside, contents: Data("outside\n".utf8)))
        #expect(FileManager.default.createFile(atPath: out + "/.cairn-restore-31337-1z", contents: Data("half\n".utf8)))
        try FileManager.default.createSymbolicLink(atPath: folder + "/.cairn-restore-4242-2", withDestinationPath: outside)
        let lookalikes = [".cairn-restore-notes", ".cairn-restore-12-", ".cairn-restore--3", ".cairn-restore-12-A"]
        for name in lookalikes { #expect(FileManager.default.createFile(atPath: folder + "/" + name, contents: Data("mine\n".utf8))) }
        try FileManager.default.createDirectory(atPath: out + "/.cairn-restore-7-1", withIntermediateDirectories: false)

        let again = try CLI.run(["restore"] + d + ["--to", out, "--overwrite", "always", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect(summary["stale_temporaries_removed"] as? Int == 2, "\(again.stdout)")
        #expect(FileManager.default.contents(atPath: folder + "/f.txt") == Data("from the snapshot\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: folder + "/" + left[0]))
        #expect(!FileManager.default.fileExists(atPath: out + "/.cairn-restore-31337-1z"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/.cairn-restore-4242-2") == outside)
        #expect(FileManager.default.contents(atPath: outside) == Data("outside\n".utf8))
        for name in lookalikes { #expect(FileManager.default.contents(atPath: folder + "/" + name) == Data("mine\n".utf8), "\(name)") }
        var isFolder: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: out + "/.cairn-restore-7-1", isDirectory: &isFolder) && isFolder.boolValue)

        // Said in words too; nothing left to remove the next time.
        let third = try CLI.run(["restore"] + d + ["--to", out, "--overwrite", "always"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(!third.stdout.contains("temporary files"), "\(third.stdout)")
        #expect(FileManager.default.createFile(atPath: folder + "/.cairn-restore-99-a", contents: Data()))
        let fourth = try CLI.run(["restore"] + d + ["--to", out, "--overwrite", "never"])
        #expect(fourth.status == 0, "\(fourth.stderr)")
        #expect(fourth.stdout.contains("removed      1 temporary files an interrupted restore had left"), "\(fourth.stdout)")
    }

    @Test func helpExplainsOverwrite() throws {
        let help = try CLI.run(["restore", "--help"])
        #expect(help.status == 0)
        for word in ["--overwrite", "never", "if-newer", "always", "Exit status"] {
            #expect(help.stdout.contains(word), "\(word) missing from:\n\(help.stdout)")
        }
    }
}
