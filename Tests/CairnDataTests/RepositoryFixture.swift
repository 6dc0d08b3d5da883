import CairnCrypto
import CairnData
import Foundation
import CairnTestSupport
import Testing

/// A scratch world for engine tests: a sample tree, five target folders, a data dir.
final class RepositoryFixture {
    private let folder: TemporaryFolder
    let base: String
    let source: String
    let dataDir: String
    let targets: [String]
    let mnemonic: Mnemonic

    init(n: Int = 5) throws {
        folder = try TemporaryFolder("repo")
        let base = folder.path
        self.base = base
        source = base + "/src"
        dataDir = base + "/data"
        targets = (1...n).map { "\(base)/targets/t\($0)" }
        mnemonic = Mnemonic.generate()
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        _ = try DataDirectory(path: dataDir).initialize(with: mnemonic)
    }

    func repository(dataDir: String? = nil) throws -> Repository {
        try Repository(dataDirectory: DataDirectory(path: dataDir ?? self.dataDir))
    }

    func write(_ relative: String, _ bytes: [UInt8], mode: Int = 0o644) throws {
        let p = source + "/" + relative
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: p, contents: Data(bytes)))
        chmod(p, mode_t(mode))
    }

    /// A tree with the awkward cases: empty file, empty folder, nested folders, symlinks
    /// (dangling too), odd permissions, an old mtime, and data spanning several chunks.
    func populate(seed: UInt64 = 1) throws {
        var rng = SeededRandom(seed: seed)
        try write("empty.txt", [])
        try write("small.txt", Array("hello cairn\n".utf8), mode: 0o600)
        try write("docs/report.bin", rng.bytes(3 * 1024 * 1024 + 17))
        try write("docs/deep/er/still.txt", Array(repeating: 0x41, count: 100_000), mode: 0o640)
        try write("bin/tool.sh", Array("#!/bin/sh\necho hi\n".utf8), mode: 0o755)
        try FileManager.default.createDirectory(atPath: source + "/empty-dir", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: source + "/link-to-report", withDestinationPath: "docs/report.bin")
        try FileManager.default.createSymbolicLink(atPath: source + "/dangling", withDestinationPath: "/nonexistent/target")
        var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_500_000_000, tv_nsec: 123_456_789)]
        utimensat(AT_FDCWD, source + "/small.txt", &times, 0)
        chmod(source + "/docs/deep", 0o750)
    }

    /// Where a restore into `out` puts the source tree.
    func restoredRoot(_ out: String) -> String { out + source }
}

/// Path → (type, mode, owner, mtime, size, link target, content hash) for every entry under `root`.
func snapshotOfTree(_ root: String) throws -> [String: String] {
    var out: [String: String] = [:]
    func visit(_ p: String, _ rel: String) throws {
        var st = stat()
        guard lstat(p, &st) == 0 else { throw CocoaError(.fileReadNoSuchFile) }
        let type = st.st_mode & S_IFMT
        var desc = "mode=\(String(st.st_mode & 0o7777, radix: 8)) owner=\(st.st_uid):\(st.st_gid) mtime=\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        if type == S_IFDIR {
            desc = "dir " + desc
            for name in try FileManager.default.contentsOfDirectory(atPath: p).sorted() {
                try visit(p + "/" + name, rel.isEmpty ? name : rel + "/" + name)
            }
        } else if type == S_IFLNK {
            desc = "link -> " + (try FileManager.default.destinationOfSymbolicLink(atPath: p)) + " " + desc
        } else {
            let data = FileManager.default.contents(atPath: p) ?? Data()
            desc = "file size=\(data.count) hash=\(Hex.encode(Blake2b.hash([UInt8](data)))) " + desc
        }
        out[rel] = desc
    }
    try visit(root, "")
    return out
}
