import Foundation
import Testing

/// Runs the built `cairn` binary as a child process (posix_spawn + wait4), so tests see
/// exactly what a person sees: stdout, stderr and exit status.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

enum CLI {
    /// The `cairn` executable next to the test bundle (both live in the build folder).
    static let binary: String? = {
        var candidates: [String] = []
        if let arg0 = ProcessInfo.processInfo.arguments.first {
            candidates.append(URL(fileURLWithPath: arg0).deletingLastPathComponent().appendingPathComponent("cairn").path)
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("cairn").path)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("cairn").path)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/cairn").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Runs `cairn args`, and kills it with SIGKILL (by PID) as soon as `killWhen` is true.
    /// Returns whether it was killed before it finished.
    static func runKilling(_ args: [String], timeout: Double = 120, killWhen: () -> Bool) throws -> Bool {
        let bin = try #require(binary, "the cairn binary was not found next to the tests; run `swift build` first")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([bin] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, bin, &actions, nil, argv, environ) == 0 else { throw CocoaError(.executableLoad) }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if waitpid(pid, &status, WNOHANG) == pid { return false }
            if killWhen() || Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return true
            }
            usleep(2_000)
        }
    }

    /// `environment` is added to this process's own (a test hook such as CAIRN_CRASH_AFTER).
    /// With `asUser`, cairn runs as that user and group id (through setpriv(1), which
    /// needs root), for tests of what another user may do.
    static func run(_ args: [String], stdin: String? = nil, timeout: Double = 300,
                    environment: [String: String] = [:], asUser: UInt32? = nil) throws -> CLIResult {
        let bin = try #require(binary, "the cairn binary was not found next to the tests; run `swift build` first")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inPath = dir.appendingPathComponent("in").path
        let outPath = dir.appendingPathComponent("out").path
        let errPath = dir.appendingPathComponent("err").path
        guard FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8)) else {
            throw CocoaError(.fileWriteUnknown)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let setpriv = "/usr/bin/setpriv"
        let command = asUser.map { [setpriv, "--reuid=\($0)", "--regid=\($0)", "--clear-groups", bin] } ?? [bin]
        let argv = (command + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var merged = ProcessInfo.processInfo.environment
        for (k, v) in environment { merged[k] = v }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for e in envp { free(e) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, command[0], &actions, nil, argv, envp)
        guard rc == 0 else { throw CocoaError(.executableLoad) }

        // Bounded wait: poll with WNOHANG, kill the child (by PID) past the timeout.
        var status: Int32 = 0
        var usage = rusage()
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let r = wait4(pid, &status, WNOHANG, &usage)
            if r == pid { break }
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = wait4(pid, &status, 0, &usage)
                Issue.record("cairn \(args.joined(separator: " ")) timed out after \(timeout)s")
                break
            }
            usleep(5_000)
        }
        let exit: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let out = String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self)
        let err = String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self)
        return CLIResult(status: exit, stdout: out, stderr: err)
    }
}

/// A scratch folder removed when the test ends.
final class Scratch {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-clitest-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func sub(_ name: String) -> String { path + "/" + name }
}
