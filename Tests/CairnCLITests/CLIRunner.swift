import CairnTestSupport
import Foundation
import Testing

/// Runs the built `cairn` binary as a child process (`ChildProcess`), so tests see
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
        let result = try withoutActuallyEscaping(killWhen) { killWhen in
            try ChildProcess.run(bin, args, timeout: timeout, discardOutput: true, killWhen: killWhen)
        }
        return result.killed || result.timedOut
    }

    /// `environment` is added to this process's own (a test hook such as CAIRN_CRASH_AFTER).
    /// With `asUser`, cairn runs as that user and group id (through setpriv(1), which
    /// needs root), for tests of what another user may do. `inside` runs it through a
    /// command such as `ip netns exec NS`.
    static func run(_ args: [String], stdin: String? = nil, timeout: Double = 300,
                    environment: [String: String] = [:], asUser: UInt32? = nil, inside: [String] = []) throws -> CLIResult {
        let bin = try #require(binary, "the cairn binary was not found next to the tests; run `swift build` first")
        let command = inside + (asUser.map { ["/usr/bin/setpriv", "--reuid=\($0)", "--regid=\($0)", "--clear-groups", bin] } ?? [bin])
        var merged = ProcessInfo.processInfo.environment
        for (k, v) in environment { merged[k] = v }
        let result = try ChildProcess.run(command[0], Array(command.dropFirst()) + args, stdin: Array((stdin ?? "").utf8),
                                          environment: merged, timeout: timeout)
        if result.timedOut { Issue.record("cairn \(args.joined(separator: " ")) timed out after \(timeout)s") }
        return CLIResult(status: result.status, stdout: result.stdoutText, stderr: result.stderrText)
    }
}
