import Foundation
import CairnTestSupport
import Testing

/// A name that is not UTF-8 is shown with its odd bytes as `\xNN` by every command that
/// prints names, once (not escaped twice), and never dropped.
@Suite struct ByteNameDisplayTests {
    func create(_ path: [UInt8], contents: String) {
        let fd = (path + [0]).withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        }
        #expect(fd >= 0)
        _ = contents.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }

    @Test func lsFindAndDiffEscapeBytesThatAreNotUTF8() throws {
        let r = try SmallRepository()
        let src = r.scratch.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let latin1 = Array((src + "/caf").utf8) + [0xE9] + Array(".txt".utf8)
        create(latin1, contents: "first")
        let old = try r.backup([src])
        create(latin1, contents: "second, longer")
        let new = try r.backup([src])

        let ls = try CLI.run(["ls", "latest", src] + r.d)
        #expect(ls.status == 0, "\(ls.stderr)")
        #expect(ls.stdout.contains("\(src)/caf\\xe9.txt\n"), "\(ls.stdout)")
        let find = try CLI.run(["find", "caf*"] + r.d)
        #expect(find.stdout.contains("\(src)/caf\\xe9.txt  (file; in 2 snapshots"), "\(find.stdout)")
        let diff = try CLI.run(["diff", old, new] + r.d)
        #expect(diff.stdout.contains("M    \(src)/caf\\xe9.txt"), "\(diff.stdout)")
        for out in [ls.stdout, find.stdout, diff.stdout] { #expect(!out.contains("\\x5c"), "escaped twice: \(out)") }
    }
}
