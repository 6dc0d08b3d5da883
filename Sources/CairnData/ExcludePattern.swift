#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif
import Foundation

/// A pattern of `cairn backup --exclude`: a shell glob (fnmatch(3): `*`, `?`, `[...]`).
/// Without a `/` it is matched against the name of every file, folder and symlink
/// (`*.tmp`, `node_modules`, `.cache`); with one it is matched against the whole absolute
/// path (`/home/*/Downloads`), `*` not crossing a `/`. An excluded folder is skipped with
/// everything in it.
public struct ExcludePattern: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    private let matchesNames: Bool

    public init(_ text: String) throws(DataError) {
        var text = text
        while text.count > 1 && text.hasSuffix("/") { text.removeLast() }
        guard !text.isEmpty, !text.utf8.contains(0) else {
            throw DataError(.invalidArgument, "an exclude pattern is empty: give a name like '*.tmp' or an absolute path like '/home/*/Downloads'")
        }
        if text.contains("/") && !text.hasPrefix("/") {
            throw DataError(.invalidArgument, "exclude pattern '\(text)' has a '/' but is not absolute: patterns with a '/' are matched against the whole path, so start it with '/' (or drop the folders to match a name anywhere)")
        }
        self.text = text
        matchesNames = !text.contains("/")
    }

    /// True when the entry at absolute `path`, named `name`, is excluded.
    public func matches(path: String, name: String) -> Bool {
        matchesNames ? fnmatch(text, name, 0) == 0 : fnmatch(text, path, FNM_PATHNAME) == 0
    }

    public var description: String { text }

    /// The patterns of an exclude file: one per line; blank lines and lines starting with
    /// `#` are ignored, surrounding spaces are trimmed.
    public static func load(file path: String) throws(DataError) -> [ExcludePattern] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(.notFound, "cannot read the exclude file \(path): check that it exists and is readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError(.invalidArgument, "the exclude file \(path) is not UTF-8 text")
        }
        var patterns: [ExcludePattern] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                patterns.append(try ExcludePattern(line))
            } catch {
                throw DataError(.invalidArgument, "\(path), line \(number + 1): \(error.message)")
            }
        }
        return patterns
    }
}

extension ExcludePattern {
    /// True when the entry at absolute path `path`, named `name`, is excluded; both are
    /// bytes as the file system has them, matched as they are.
    func matches(path: [UInt8], name: [UInt8]) -> Bool {
        NameBytes.withCString(matchesNames ? name : path) { subject in
            fnmatch(text, subject, matchesNames ? 0 : FNM_PATHNAME) == 0
        }
    }
}
