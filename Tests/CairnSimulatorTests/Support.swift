import CairnTestSupport
import Foundation

/// Paths of the package, found from this file.
enum Package {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static var ciScenarios: [String] {
        let dir = path("Scenarios/ci")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { dir + "/" + $0 }
    }

    /// The built `cairn` next to the test bundle, or in .build/debug.
    static var cairnBinary: String? {
        var candidates = [String]()
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("cairn").path)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(path(".build/debug/cairn"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Run: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `binary` to its end (killed past half an hour: a scenario that hangs fails
    /// instead of stalling the suite), both outputs read as they come.
    static func run(_ binary: String, _ arguments: [String]) throws -> Run {
        Run(try ChildProcess.run(binary, arguments, timeout: 1800))
    }

    /// `run` waiting off the cooperative pool, for runs side by side.
    static func run(_ binary: String, _ arguments: [String]) async throws -> Run {
        Run(try await ChildProcess.run(binary, arguments, timeout: 1800))
    }
}

extension Package.Run {
    init(_ child: ChildResult) {
        self.init(status: child.status, stdout: child.stdoutText, stderr: child.stderrText)
    }
}
