import Foundation
import CairnTestSupport
import Testing

/// Phrases and secrets: only 24-word phrases, no phrase printed into a pipe unless asked,
/// no core dumps while keys are held, terminal echo back after an interrupted prompt.
@Suite struct SecretsTests {
    // MARK: phrases

    @Test func aTwelveWordPhraseIsRefused() throws {
        let s = try TemporaryFolder("cli")
        // A valid BIP-39 phrase (the standard 12-word test vector), but not a Cairn one.
        let twelve = Array(repeating: "abandon", count: 11).joined(separator: " ") + " about"
        let r = try CLI.run(["init", "--recover", "--data-dir", s.sub("d")], stdin: twelve)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("12 words"), "\(r.stderr)")
        #expect(r.stderr.contains("24"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.sub("d") + "/keys/seed"))
    }

    @Test func thePhraseIsNotPrintedIntoAPipeUnlessAsked() throws {
        let s = try TemporaryFolder("cli")
        let refused = try CLI.run(["init", "--data-dir", s.sub("d")])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("--phrase-out"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--print-phrase"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: s.sub("d") + "/keys/seed"))

        let printed = try CLI.run(["init", "--data-dir", s.sub("d"), "--print-phrase"])
        #expect(printed.status == 0, "\(printed.stderr)")
        // The numbered words ("  1. word ...") are the phrase; recovering from them gives the same identity.
        let tokens = printed.stdout.split(whereSeparator: \.isWhitespace).map(String.init)
        let words = tokens.indices.dropFirst().filter { isNumbering(tokens[$0 - 1]) }.map { tokens[$0] }
        #expect(words.count == 24, "\(printed.stdout)")
        let identity = try #require(printed.stdout.split(separator: "\n").first?.split(separator: " ").last)
        let recovered = try CLI.run(["init", "--recover", "--data-dir", s.sub("d2")], stdin: words.joined(separator: " "))
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stdout.contains(String(identity)))
    }

    /// Whether `token` is a word number of the printed phrase ("7.").
    private func isNumbering(_ token: String) -> Bool {
        token.hasSuffix(".") && Int(token.dropLast()) != nil
    }

    // MARK: the process

    @Test func coreDumpsAreOffWhileTheKeysAreHeld() throws {
        let s = try TemporaryFolder("cli")
        // Start the child with core dumps allowed, so the zero it reports is its own doing.
        var inherited = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &inherited)
        var allowed = inherited
        allowed.rlim_cur = 1 << 20
        if allowed.rlim_max < allowed.rlim_cur { allowed.rlim_max = allowed.rlim_cur }
        let raised = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &allowed)
        try #require(raised == 0, "cannot allow core dumps for the child")
        defer { setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &inherited) }
        // `init --recover` waits for the phrase on a pipe we keep open: look at it meanwhile.
        let child = try Spawned(["init", "--recover", "--data-dir", s.sub("d")], stdin: .pipe)
        defer { child.finish() }
        var limits = ""
        for _ in 0..<1000 {
            limits = (try? String(contentsOfFile: "/proc/\(child.pid)/limits", encoding: .utf8)) ?? ""
            if limits.contains("Max core file size") && coreLimit(limits) == "0" { break }
            usleep(10_000)
        }
        #expect(coreLimit(limits) == "0", "\(limits)")
    }

    private func coreLimit(_ limits: String) -> String? {
        guard let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max core file size") }) else { return nil }
        return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).first.map(String.init)
    }

    @Test func anInterruptedPhrasePromptTurnsEchoBackOn() throws {
        // A pseudo-terminal from /dev/ptmx (posix_openpt and friends are not in Swift's
        // Glibc module): unlock it, ask for its number, open its other end.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        try #require(master >= 0)
        defer { close(master) }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430  // <asm-generic/ioctls.h>
        try #require(ioctl(master, TIOCSPTLCK, &unlock) == 0)
        try #require(ioctl(master, TIOCGPTN, &number) == 0)
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        try #require(slave >= 0)
        defer { close(slave) }
        var before = termios()
        try #require(tcgetattr(slave, &before) == 0)
        try #require(before.c_lflag & tcflag_t(ECHO) != 0)

        let s = try TemporaryFolder("cli")
        let child = try Spawned(["init", "--recover", "--data-dir", s.sub("d")], stdin: .fd(slave))
        defer { child.finish() }
        var now = termios()
        var quiet = false
        for _ in 0..<1000 {
            _ = tcgetattr(slave, &now)
            if now.c_lflag & tcflag_t(ECHO) == 0 { quiet = true; break }
            usleep(10_000)
        }
        try #require(quiet, "the prompt never turned echo off")
        kill(child.pid, SIGINT)
        let status = child.wait()
        #expect(status == 128 + SIGINT)
        _ = tcgetattr(slave, &now)
        #expect(now.c_lflag & tcflag_t(ECHO) != 0, "echo is still off after Ctrl-C")
        #expect(!FileManager.default.fileExists(atPath: s.sub("d") + "/keys/seed"))
    }
}

/// A `cairn` child with a chosen standard input, output to /dev/null, for tests that
/// look at the running process.
final class Spawned {
    enum Input { case pipe, fd(Int32) }
    let pid: pid_t
    private var writeEnd: Int32 = -1
    private var done = false
    private var status: Int32 = 0

    init(_ args: [String], stdin: Input) throws {
        let bin = try #require(CLI.binary, "the cairn binary was not found next to the tests; run `swift build` first")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var readEnd: Int32 = -1
        switch stdin {
        case .pipe:
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw CocoaError(.fileWriteUnknown) }
            readEnd = fds[0]
            writeEnd = fds[1]
            posix_spawn_file_actions_adddup2(&actions, readEnd, 0)
            posix_spawn_file_actions_addclose(&actions, writeEnd)
        case .fd(let fd):
            posix_spawn_file_actions_adddup2(&actions, fd, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        try SpawnActions.closeInherited(&actions)
        let argv = ([bin] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, bin, &actions, nil, argv, environ)
        if readEnd >= 0 { close(readEnd) }
        guard rc == 0 else { throw CocoaError(.executableLoad) }
        self.pid = pid
    }

    /// Waits for the child; its exit status, or 128 + the signal that ended it.
    func wait() -> Int32 {
        if !done {
            for _ in 0..<3000 {
                if waitpid(pid, &status, WNOHANG) == pid { done = true; break }
                usleep(10_000)
            }
            if !done {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                done = true
            }
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Ends the child (closing its input first) and reaps it.
    func finish() {
        if writeEnd >= 0 { close(writeEnd); writeEnd = -1 }
        if !done { kill(pid, SIGKILL) }
        _ = wait()
    }
}
