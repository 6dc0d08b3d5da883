import ArgumentParser
import CairnData
import Foundation

/// How a stored path is shown on a terminal: with its leading '/', and every byte that
/// could move the cursor or end the line (control characters, backslash) escaped as
/// `\xNN`, so a hostile file name cannot forge output; so is every byte that is not part
/// of valid UTF-8 (names are bytes). The one place names are printed.
enum DisplayName {
    static func path(_ stored: [UInt8]) -> String {
        var out = "/"
        var parser = Unicode.UTF8.ForwardParser()
        var bytes = stored.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &bytes) {
            case .valid(let encoded):
                offset += encoded.count
                let scalar = Unicode.UTF8.decode(encoded)
                if scalar.value < 0x20 || scalar.value == 0x7f || scalar == "\\" || (0x80..<0xa0).contains(scalar.value) {
                    out += scalar.value < 0x100 ? String(format: "\\x%02x", scalar.value) : String(format: "\\u{%x}", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            case .error(let length):
                for b in stored[offset..<(offset + length)] { out += String(format: "\\x%02x", b) }
                offset += length
            case .emptyInput:
                return out
            }
        }
    }

    static func path(_ stored: String) -> String { path(Array(stored.utf8)) }
}

/// A name's exact bytes for JSON, which can only carry text: base64 of the bytes when
/// they are not valid UTF-8, nil (the field is left out) when the text says it all. The
/// text field then holds the escaped form (`\xNN`), which a name could also spell out
/// literally; the bytes are what a program should use.
enum RawName {
    static func base64(_ bytes: [UInt8]) -> String? {
        String(validating: bytes, as: UTF8.self) == nil ? Data(bytes).base64EncodedString() : nil
    }
}

/// One tree entry as `ls --json` and `find --json` give it.
struct EntryJSON: Encodable {
    let path: String
    /// `RawName`: present only when the path is not UTF-8.
    let pathBytes: String?
    let type: String
    let mode: String
    let size: UInt64
    let mtime: String
    let uid: UInt32?
    let gid: UInt32?
    let linkTarget: String?
    let linkTargetBytes: String?

    enum CodingKeys: String, CodingKey {
        case path, type, mode, size, mtime, uid, gid
        case pathBytes = "path_bytes", linkTarget = "link_target", linkTargetBytes = "link_target_bytes"
    }

    init(_ e: TreeEntry) {
        path = "/" + e.path
        pathBytes = RawName.base64([0x2F] + e.pathBytes)
        type = EntryText.type(e.kind)
        mode = String(e.mode, radix: 8)
        size = e.kind == .file ? e.size : 0
        mtime = EntryText.isoTime(e)
        uid = e.owner?.uid
        gid = e.owner?.gid
        linkTarget = e.kind == .symlink ? e.linkTarget : nil
        linkTargetBytes = e.kind == .symlink ? RawName.base64(e.linkTargetBytes) : nil
    }
}

enum EntryText {
    static func type(_ k: TreeEntry.Kind) -> String {
        switch k {
        case .file: "file"
        case .directory: "dir"
        case .symlink: "symlink"
        }
    }

    static func isoTime(_ e: TreeEntry) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(e.mtimeSeconds) + TimeInterval(e.mtimeNanoseconds) / 1e9))
    }

    /// `drwxr-xr-x` with setuid, setgid and sticky as ls shows them.
    static func mode(_ e: TreeEntry) -> String {
        let kind: Character = e.kind == .directory ? "d" : e.kind == .symlink ? "l" : "-"
        var s = [kind]
        let m = e.mode
        for (shift, special, on, off) in [(6, UInt32(0o4000), "s", "S"), (3, UInt32(0o2000), "s", "S"), (0, UInt32(0o1000), "t", "T")] {
            let bits = (m >> UInt32(shift)) & 7
            s.append(bits & 4 != 0 ? "r" : "-")
            s.append(bits & 2 != 0 ? "w" : "-")
            let x = bits & 1 != 0
            s.append(m & special != 0 ? Character(x ? on : off) : (x ? "x" : "-"))
        }
        return String(s)
    }

    /// One `ls -l` line: mode, owner, size, local mtime, path (-> target).
    static func long(_ e: TreeEntry) -> String {
        let owner = e.owner.map { "\($0.uid)/\($0.gid)" } ?? "-"
        let size = e.kind == .file ? String(e.size) : "0"
        var line = "\(mode(e)) \(owner.leftPad(11)) \(size.leftPad(12)) \(Format.localTime(e.mtimeSeconds)) \(DisplayName.path(e.pathBytes))"
        if e.kind == .symlink { line += " -> " + DisplayName.path(e.linkTargetBytes).dropFirst() }
        return line
    }
}

/// `cairn ls SNAPSHOT [PATH]`
struct Ls: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the files of a snapshot (under PATH, if given).",
        discussion: "Exit status: 0 listed, 1 error (no such snapshot, nothing at PATH, too few targets).")

    @OptionGroup var options: DataDirOptions

    @Argument(help: "Snapshot id (or a unique prefix), or 'latest'.")
    var snapshot: String

    @Argument(help: "Only this folder or file of the snapshot (e.g. /home/me/docs).")
    var path: String?

    @Flag(name: [.short, .customLong("long")], help: "Show type and mode, owner, size and modification time too.")
    var long = false

    @Option(help: "Comma-separated target folders (default: the remembered targets).")
    var from: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let repo = try options.repository()
        let from = try self.from.map { try folderList($0, option: "from") }
        let (snap, entries) = try cairnRun { () throws(DataError) in
            let browser = try repo.browse(from: from)
            for line in browser.problems { Terminal.warn(line) }
            let s = try browser.select(snapshot)
            let all = try browser.tree(s)
            let under = all.filter { $0.isAt(orBelow: path ?? "") }
            if let path, under.isEmpty {
                throw DataError(.notFound, "snapshot \(s.id) has nothing at \(path) (its paths are \(s.paths.map { "/" + $0 }.joined(separator: ", ")))")
            }
            return (s, under)
        }
        if json {
            struct Listing: Encodable {
                let snapshot: String
                let entries: [EntryJSON]
            }
            try Terminal.printJSON(Listing(snapshot: snap.id, entries: entries.map(EntryJSON.init)))
            return
        }
        for e in entries { print(long ? EntryText.long(e) : DisplayName.path(e.pathBytes)) }
    }
}

/// `cairn find PATTERN`
struct Find: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find files by name in every snapshot, and say which snapshots hold them.",
        discussion: """
            PATTERN is a glob (*, ?, [...]) matched against names ('*.odt', 'report*'), or,
            with a '/', against the whole absolute path ('/home/*/docs/*.txt'), as --exclude.
            Exit status: 0 searched (with or without matches), 1 error.
            """)

    @OptionGroup var options: DataDirOptions

    @Argument(help: "Glob on names, or on absolute paths when it has a '/'.")
    var pattern: String

    @Option(help: "Only search this snapshot (id prefix or 'latest'); repeatable.")
    var snapshot: [String] = []

    @Option(help: "Comma-separated target folders (default: the remembered targets).")
    var from: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if pattern.contains("/") && !pattern.hasPrefix("/") {
            throw ValidationError("pattern '\(pattern)' has a '/' but is not absolute: with a '/' it is matched against the whole path, so start it with '/' (or drop the folders to match a name anywhere)")
        }
        if pattern.isEmpty || pattern.utf8.contains(0) { throw ValidationError("give a pattern, like '*.odt'") }
    }

    struct Match: Encodable {
        /// As stored; shown through `DisplayName`.
        let bytes: [UInt8]
        let path: String
        let type: String
        let snapshots: [String]

        enum CodingKeys: String, CodingKey { case path, pathBytes = "path_bytes", type, snapshots }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(path, forKey: .path)
            try c.encodeIfPresent(RawName.base64([0x2F] + bytes), forKey: .pathBytes)
            try c.encode(type, forKey: .type)
            try c.encode(snapshots, forKey: .snapshots)
        }
    }

    func run() throws {
        let repo = try options.repository()
        let from = try self.from.map { try folderList($0, option: "from") }
        let matcher = try cairnRun { () throws(DataError) in try ExcludePattern(pattern) }
        let (matches, searched) = try cairnRun { () throws(DataError) -> ([Match], Int) in
            let browser = try repo.browse(from: from)
            for line in browser.problems { Terminal.warn(line) }
            let snaps = snapshot.isEmpty ? browser.root.snapshots
                : try snapshot.map { (s) throws(DataError) in try browser.select(s) }
            // Path → (type, snapshots holding it), in the order snapshots were made.
            var found: [[UInt8]: (TreeEntry.Kind, [String])] = [:]
            for s in snaps {
                for e in try browser.tree(s) where e.matches(matcher) {
                    found[e.pathBytes, default: (e.kind, [])].1.append(s.id)
                }
            }
            let sorted = found.keys.sorted { $0.lexicographicallyPrecedes($1) }
            return (sorted.map {
                Match(bytes: $0, path: TreeEntry.display($0),
                      type: EntryText.type(found[$0]!.0), snapshots: found[$0]!.1)
            }, snaps.count)
        }
        if json {
            struct Found: Encodable {
                let pattern: String
                let snapshotsSearched: Int
                let matches: [Match]
                enum CodingKeys: String, CodingKey {
                    case pattern, matches
                    case snapshotsSearched = "snapshots_searched"
                }
            }
            try Terminal.printJSON(Found(pattern: pattern, snapshotsSearched: searched,
                                         matches: matches.map { Match(bytes: $0.bytes, path: "/" + $0.path, type: $0.type, snapshots: $0.snapshots) }))
            return
        }
        for m in matches {
            print("\(DisplayName.path(m.bytes))  (\(m.type); in \(m.snapshots.count) snapshot\(m.snapshots.count == 1 ? "" : "s"): \(m.snapshots.joined(separator: " ")))")
        }
        print("\(matches.count) match\(matches.count == 1 ? "" : "es") in \(searched) snapshot\(searched == 1 ? "" : "s")")
    }
}

/// `cairn diff SNAP1 SNAP2`
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what changed between two snapshots.",
        discussion: """
            One line per path: + added, - removed, M changed content, T changed type,
            U metadata only (mode, owner, modification time). Exit status: 0 compared
            (with or without differences), 1 error.
            """)

    @OptionGroup var options: DataDirOptions

    @Argument(help: "The older snapshot (id prefix or 'latest').")
    var first: String

    @Argument(help: "The newer snapshot (id prefix or 'latest').")
    var second: String

    @Option(help: "Comma-separated target folders (default: the remembered targets).")
    var from: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let repo = try options.repository()
        let from = try self.from.map { try folderList($0, option: "from") }
        let (a, b, changes) = try cairnRun { () throws(DataError) in
            let browser = try repo.browse(from: from)
            for line in browser.problems { Terminal.warn(line) }
            let a = try browser.select(first)
            let b = try browser.select(second)
            return (a, b, TreeDiff.compare(try browser.tree(a), try browser.tree(b)))
        }
        var counts: [TreeChange.Kind: Int] = [:]
        for c in changes { counts[c.kind, default: 0] += 1 }
        if json {
            struct Change: Encodable {
                let path: String
                let pathBytes: String?
                let change: TreeChange.Kind
                let metadata: [String]
                enum CodingKeys: String, CodingKey {
                    case path, change, metadata
                    case pathBytes = "path_bytes"
                }
            }
            struct Result: Encodable {
                let from: String
                let to: String
                let changes: [Change]
                let added: Int
                let removed: Int
                let changed: Int
                let typeChanged: Int
                let metadataOnly: Int
                enum CodingKeys: String, CodingKey {
                    case from, to, changes, added, removed, changed
                    case typeChanged = "type_changed", metadataOnly = "metadata_only"
                }
            }
            try Terminal.printJSON(Result(
                from: a.id, to: b.id, changes: changes.map {
                    Change(path: "/" + $0.path, pathBytes: RawName.base64([0x2F] + $0.pathBytes), change: $0.kind, metadata: $0.metadata)
                },
                added: counts[.added] ?? 0, removed: counts[.removed] ?? 0, changed: counts[.changed] ?? 0,
                typeChanged: counts[.type] ?? 0, metadataOnly: counts[.metadata] ?? 0))
            return
        }
        print("comparing snapshot \(a.id) to \(b.id):")
        for c in changes {
            let mark = switch c.kind {
            case .added: "+"
            case .removed: "-"
            case .changed: "M"
            case .type: "T"
            case .metadata: "U"
            }
            let extra = c.kind == .metadata ? "  (\(c.metadata.joined(separator: ", ")))" : ""
            print("\(mark)    \(DisplayName.path(c.pathBytes))\(extra)")
        }
        print("\(counts[.added] ?? 0) added, \(counts[.removed] ?? 0) removed, \(counts[.changed] ?? 0) changed, \(counts[.type] ?? 0) changed type, \(counts[.metadata] ?? 0) metadata only")
    }
}
