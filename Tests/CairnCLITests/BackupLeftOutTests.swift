import Foundation
import CairnTestSupport
import Testing

@Suite struct BackupLeftOutTests {
    /// /proc/self/mem cannot be read from its first byte (EIO), as root too.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/mem"), "needs Linux's /proc/self/mem"))
    func anUnreadableFileSavesTheSnapshotAndExitsWithThree() throws {
        let s = try TemporaryFolder("cli")
        let src = s.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: src + "/ok.txt", contents: Data("fine\n".utf8)))
        // A name that is not UTF-8, to be shown escaped.
        let odd = Array((src + "/caf").utf8) + [0xE9]
        let fd = (odd + [0]).withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) }
        }
        #expect(fd >= 0)
        close(fd)
        let d = ["--data-dir", s.sub("data")]
        #expect(try CLI.run(["init"] + d + ["--phrase-out", s.sub("phrase")]).status == 0)
        let targets = (1...3).map { s.sub("t\($0)") }.joined(separator: ",")

        let human = try CLI.run(["backup"] + d + [src, "/proc/self/mem", "--to", targets, "--k", "2"])
        #expect(human.status == 3, "\(human.stderr)")
        #expect(human.stdout.contains("saved"))
        #expect(human.stdout.contains("left out     1 entries"), "\(human.stdout)")
        #expect(human.stdout.contains("/proc/self/mem: "), "\(human.stdout)")
        #expect(human.stderr.contains("exit status 3"), "\(human.stderr)")

        let json = try CLI.run(["backup"] + d + [src, "/proc/self/mem", "--json"])
        #expect(json.status == 3, "\(json.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let left = try #require(summary["left_out"] as? [[String: Any]])
        #expect(left.map { $0["path"] as? String } == ["/proc/self/mem"])
        #expect(summary["seen"] as? Int == 4)  // src, ok.txt, caf\xe9, /proc/self/mem
        #expect(summary["files"] as? Int == 2)
        // Nothing new to store: no absurd ratio.
        #expect(summary["dedupe_ratio"] == nil, "\(summary)")

        let list = try CLI.run(["snapshots"] + d + ["--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [Any])?.count == 2)

        // The same backup without the unreadable file: status 0, and the ratio line sane.
        let clean = try CLI.run(["backup"] + d + [src])
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(clean.stdout.contains("dedupe ratio - (nothing new to store)"), "\(clean.stdout)")
        #expect(!clean.stdout.contains("inf") && !clean.stdout.contains("nan"))

        let help = try CLI.run(["backup", "--help"])
        #expect(help.stdout.contains("Exit status") && help.stdout.contains("3"), "\(help.stdout)")
    }
}
