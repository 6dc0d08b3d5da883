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

    static func run(_ binary: String, _ arguments: [String]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: e, as: UTF8.self))
    }
}
