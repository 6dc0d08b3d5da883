import ArgumentParser
import CairnData
import Foundation
import Logging

/// Options every command that touches a data directory shares.
struct DataDirOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Where keys, settings and the local index live (default: ~/.local/share/cairn).")
    var dataDir: String?

    var directory: DataDirectory {
        DataDirectory(path: URL(fileURLWithPath: dataDir ?? DataDirectory.defaultPath()).standardizedFileURL.path)
    }

    @Flag(name: .shortAndLong, help: "Log what the engine does to stderr.")
    var verbose = false

    @Option(name: .customLong("repository"),
            help: "The repository to use (its id or a unique prefix, as `cairn snapshots` shows it) when the targets hold several of yours; a data directory that knows its repository keeps it.")
    var repositoryChoice: String?

    func validate() throws {
        if let id = repositoryChoice, id.isEmpty || id.count > 2 * RepositoryID.size || !id.allSatisfy(\.isHexDigit) {
            throw ValidationError("--repository takes a repository id (up to 32 hex digits, as `cairn snapshots` shows it), not \(id)")
        }
    }

    /// Opens the repository, whose keys this process then holds (see `SecretProcess`).
    func repository() throws -> Repository {
        SecretProcess.protect()
        var logger = Logger(label: "cairn", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = verbose ? .debug : .warning
        let repo = try cairnRun { () throws(DataError) in try Repository(dataDirectory: directory, logger: logger) }
        repo.repositoryChoice = repositoryChoice
        return repo
    }
}

/// The command line as the kernel gave it: Swift's `CommandLine.arguments` replaces bytes
/// that are not UTF-8 with U+FFFD, so a path made of such bytes names another file.
enum RawArguments {
    /// Each argument that is not valid UTF-8, escaped as `ls` shows names (`\xNN`).
    static var notUTF8: [String] {
        (0..<Int(CommandLine.argc)).compactMap { i -> String? in
            guard let arg = CommandLine.unsafeArgv[i] else { return nil }
            let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(arg).assumingMemoryBound(to: UInt8.self), count: strlen(arg)))
            return String(validating: bytes, as: UTF8.self) == nil ? TreeEntry.display(bytes) : nil
        }
    }

    /// Refuses a path argument that came from bytes which are not UTF-8, naming it, rather
    /// than using the other path Swift made of it.
    static func refuseNotUTF8(_ paths: [String], what: String) throws {
        guard paths.contains(where: { $0.unicodeScalars.contains("\u{FFFD}") }) else { return }
        guard let bad = notUTF8.first else { return }
        throw ValidationError("\(bad) is not valid UTF-8, and \(what) on the command line must be: give the folder that holds it instead (names inside the folders backed up are kept as their exact bytes, UTF-8 or not)")
    }
}

/// Splits `a,b,c` lists of folders; empty items are an error.
func folderList(_ text: String, option: String) throws -> [String] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
    guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
        throw ValidationError("\(option) takes a comma-separated list of folders, like --\(option) /mnt/a,/mnt/b,/mnt/c")
    }
    guard Set(parts).count == parts.count else {
        throw ValidationError("\(option) names the same folder twice: each target must be a different folder")
    }
    return parts
}

/// Runs a data-path call; a `DataError` becomes a clear message on stderr and exit code 1.
func cairnRun<R>(_ body: () throws(DataError) -> R) throws -> R {
    do {
        return try body()
    } catch {
        Terminal.error(error.description)
        throw ExitCode(1)
    }
}

enum Terminal {
    static var stderrIsTTY: Bool { isatty(2) == 1 }
    static var stdinIsTTY: Bool { isatty(0) == 1 }
    static var stdoutIsTTY: Bool { isatty(1) == 1 }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }

    static func printJSON(_ value: some Encodable) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try enc.encode(value), as: UTF8.self))
    }
}

/// Human-readable sizes and durations for summaries.
enum Format {
    static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var u = 0
        while v >= 1024, u < units.count - 1 {
            v /= 1024
            u += 1
        }
        return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
    }

    /// A snapshot time in the local zone (TZ), as restic prints it.
    static func localTime(_ unix: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = .current
        f.dateFormat = "yyyy-MM-dd HH:mm:ss ZZZZZ"
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(unix)))
    }

    static func rate(_ bytes: UInt64, seconds: Double) -> String {
        guard seconds > 0 else { return "-" }
        return String(format: "%.1f MB/s", Double(bytes) / seconds / 1e6)
    }

    static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1fs", s) }
        let t = Int(s.rounded())
        return t < 3600 ? "\(t / 60)m\(t % 60)s" : "\(t / 3600)h\((t % 3600) / 60)m"
    }
}
