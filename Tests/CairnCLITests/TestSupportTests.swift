import CairnTestSupport
import Foundation
import Testing

// The shared test-support target has no test target of its own; its pieces are checked
// here, beside the tests that run processes most.

@Suite struct ChildProcessTests {
    /// A megabyte on stderr before a byte on stdout: a runner reading stdout to its end
    /// first would wait forever on a child blocked writing into a full stderr pipe.
    @Test func bothOutputsAreReadTogetherSoAFullPipeCannotStall() throws {
        let r = try ChildProcess.run("/bin/sh", ["-c", "head -c 1048576 /dev/zero | tr '\\0' e >&2; echo out"], timeout: 60)
        #expect(r.status == 0 && !r.timedOut && r.signal == nil)
        #expect(r.stderr.count == 1 << 20 && r.stderr.allSatisfy { $0 == UInt8(ascii: "e") })
        #expect(r.stdoutText == "out\n")
    }

    @Test func aChildPastItsTimeoutIsKilledByItsPID() throws {
        let started = Date()
        let r = try ChildProcess.run("/bin/sleep", ["30"], timeout: 0.5)
        #expect(r.timedOut && !r.killed)
        #expect(r.signal == SIGKILL && r.status == 128 + SIGKILL)
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test func aChildIsKilledWhenTheCallerSaysSo() throws {
        var asked = 0
        let r = try ChildProcess.run("/bin/sleep", ["30"], timeout: 60, discardOutput: true) {
            asked += 1
            return asked > 3
        }
        #expect(r.killed && !r.timedOut && r.signal == SIGKILL && asked == 4)
    }

    @Test func stdinExitStatusAndTheGivenEnvironmentReachTheChild() throws {
        let r = try ChildProcess.run("/bin/sh", ["-c", "cat; echo \"$CAIRN_TEST_VALUE\"; exit 3"], stdin: Array("in\n".utf8),
                                     environment: ["CAIRN_TEST_VALUE": "v", "PATH": "/usr/bin:/bin"])
        #expect(r.stdoutText == "in\nv\n" && r.stderr.isEmpty)
        #expect(r.status == 3 && r.signal == nil)
        let missing = #expect(throws: ChildProcessError.self) { try ChildProcess.run("/nonexistent/cairn-tool", []) }
        #expect(missing?.description.hasPrefix("cannot run /nonexistent/cairn-tool:") == true)
    }

    /// A socket this process holds without close-on-exec (as SwiftNIO's accepted sockets
    /// are) does not reach the child: a child holding a copy keeps the connection open
    /// after this process closes it.
    @Test func aChildGetsNoDescriptorOfThisProcessButItsStandardThree() throws {
        let held = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(held > 2)
        defer { close(held) }
        var info = stat()
        try #require(fstat(held, &info) == 0)
        let r = try ChildProcess.run("/bin/sh", ["-c", "for f in /proc/self/fd/*; do echo \"${f##*/} $(readlink $f)\"; done"])
        #expect(r.status == 0)
        let lines = r.stdoutText.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(!r.stdoutText.contains("socket:[\(info.st_ino)]"), "the child holds this process's socket: \(r.stdoutText)")
        let numbers = lines.compactMap { Int($0.split(separator: " ").first ?? "") }
        // 0, 1, 2 and whatever the shell itself opened to list them (at most one more).
        #expect(numbers.filter { $0 > 2 }.count <= 1, "descriptors inherited: \(r.stdoutText)")
    }
}

@Test func temporaryFoldersGoAwayWithWhatIsInThem() throws {
    var path = ""
    do {
        let folder = try TemporaryFolder("selftest")
        path = folder.path
        #expect(path.hasPrefix(FileManager.default.temporaryDirectory.path + "/cairn-selftest-"))
        try FileManager.default.createDirectory(atPath: folder.sub("a/b"), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder.sub("a/b/c"), contents: Data([1])))
        try FileManager.default.createSymbolicLink(atPath: folder.sub("outside"), withDestinationPath: "/etc")
        #expect(chmod(folder.sub("a/b"), 0o500) == 0 && chmod(folder.sub("a"), 0o000) == 0)
        let other = try TemporaryFolder("selftest")
        #expect(other.path != path)
    }
    #expect(!FileManager.default.fileExists(atPath: path))
    #expect(FileManager.default.fileExists(atPath: "/etc/hostname") || FileManager.default.fileExists(atPath: "/etc/passwd"))
}

@Test func seededRandomIsSplitMix64InLittleEndianBytes() {
    var g = SeededRandom(seed: 0)
    #expect(g.next() == 0xE220_A839_7B1D_CDAF)
    var h = SeededRandom(seed: 0)
    #expect(h.bytes(10) == [0xAF, 0xCD, 0x1D, 0x7B, 0x39, 0xA8, 0x20, 0xE2, 0xF4, 0x65])
    var r = SeededRandom(seed: 5)
    #expect((0..<1000).allSatisfy { _ in (3...9).contains(r.int(in: 3...9)) })
}

@Test func virtualNetworkDeliversInOrderAndFiresTimersByDeadline() {
    var net = VirtualNetwork<Int, String, String, Int>(now: 0)
    net.setTimer("b", of: 1, at: 10)
    net.setTimer("a", of: 2, at: 5)
    net.setTimer("c", of: 3, at: 10)
    net.setTimer("a", of: 2, at: 7)  // replaces the deadline 5
    net.send(from: 1, to: 2, "hello")
    net.send(from: 2, to: 1, "back")
    var seen = [String]()
    func drain(until limit: Int) {
        while let event = net.next(until: limit) {
            switch event {
            case let .message(from, to, text): seen.append("\(from)>\(to) \(text) @\(net.now)")
            case let .timer(owner, timer): seen.append("\(owner).\(timer) @\(net.now)")
            }
        }
    }
    drain(until: 9)
    #expect(seen == ["1>2 hello @0", "2>1 back @0", "2.a @7"])
    #expect(net.now == 9 && net.deadline(of: "b", of: 1) == 10)
    drain(until: 100)
    #expect(seen.suffix(2) == ["1.b @10", "3.c @10"])
    #expect(net.now == 100 && net.history.map(\.at) == [0, 0] && net.history.map(\.message) == ["hello", "back"])
    net.setTimer("d", of: 4, at: 50)  // a deadline already past fires now; the clock stays
    drain(until: 200)
    #expect(seen.last == "4.d @100" && net.now == 200)
    net.setTimer("e", of: 5, at: 300)
    net.cancelTimers(of: 5)
    drain(until: 400)
    #expect(seen.last == "4.d @100")
}
