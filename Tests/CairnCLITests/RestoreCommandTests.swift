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

    @Test func helpExplainsOverwrite() throws {
        let help = try CLI.run(["restore", "--help"])
        #expect(help.status == 0)
        for word in ["--overwrite", "never", "if-newer", "always", "Exit status"] {
            #expect(help.stdout.contains(word), "\(word) missing from:\n\(help.stdout)")
        }
    }
}
