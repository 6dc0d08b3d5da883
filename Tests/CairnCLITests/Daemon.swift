import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

struct SpawnError: Error, CustomStringConvertible {
    let description: String
}

/// A long-running `cairn` process (a coordinator or a node) for multi-process tests on
/// 127.0.0.1: started with its output in files, stopped by its PID (SIGTERM, then SIGKILL
/// after a grace period) when the test is done with it or when it is dropped.
final class Daemon {
    let pid: pid_t
    let out: String
    let err: String
    private(set) var running = true

    /// `inside`: a command that runs cairn in another context and then becomes it (it must
    /// exec, as `ip netns exec NS` does), so that the PID stopped is cairn's own.
    init(_ args: [String], logs folder: String, name: String, inside: [String] = []) throws {
        let cairn = try #require(CLI.binary, "the cairn binary was not found next to the tests; run `swift build` first")
        let bin = inside.first ?? cairn
        let args = inside.isEmpty ? args : Array(inside.dropFirst()) + [cairn] + args
        out = folder + "/\(name).out"
        err = folder + "/\(name).err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        try SpawnActions.closeInherited(&actions)
        let argv = ([bin] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, bin, &actions, nil, argv, environ)
        guard rc == 0 else { throw SpawnError(description: "posix_spawn \(bin): \(String(cString: strerror(rc)))") }
        pid = child
    }

    deinit { stop() }

    /// SIGTERM and wait (up to `grace` seconds), then SIGKILL. Returns the exit status
    /// (nil if it had to be killed).
    @discardableResult
    func stop(grace: Double = 10) -> Int32? {
        guard running else { return nil }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                running = false
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
            }
            usleep(20_000)
        }
        kill9()
        return nil
    }

    /// `kill -9`: what a crash or a power cut does.
    func kill9() {
        guard running else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        running = false
    }

    var stdout: String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: err, encoding: .utf8)) ?? "" }

    /// Waits (up to `timeout` seconds, looking every `interval`) until `condition` holds;
    /// false if it never did.
    static func wait(timeout: Double, interval: Double = 0.1, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(useconds_t(interval * 1_000_000))
        }
        return try condition()
    }
}
