import CairnCrypto
import Foundation

/// The settings a data directory remembers between runs.
public struct RepositoryConfig: Codable, Sendable, Equatable {
    public var version: Int = 1
    public var targets: [String] = []
    public var k: Int = 3
    public var chunker: ChunkerSettings? = nil
    /// This data directory's repository id (hex), made by `cairn init` or learned from the
    /// targets; absent in data directories from before repositories had ids.
    public var repository: String? = nil

    public init() {}
}

extension ChunkerSettings: Codable {
    enum CodingKeys: String, CodingKey { case minSize = "min_size", avgSize = "avg_size", maxSize = "max_size", normalization }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(minSize: try c.decode(Int.self, forKey: .minSize), avgSize: try c.decode(Int.self, forKey: .avgSize),
                  maxSize: try c.decode(Int.self, forKey: .maxSize), normalization: try c.decode(Int.self, forKey: .normalization))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(minSize, forKey: .minSize)
        try c.encode(avgSize, forKey: .avgSize)
        try c.encode(maxSize, forKey: .maxSize)
        try c.encode(normalization, forKey: .normalization)
    }
}

/// The folder where a device keeps its keys (0600 files in a 0700 folder), its settings
/// and its local index. Losing it loses nothing: the phrase and the targets rebuild it.
public struct DataDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// `$XDG_DATA_HOME/cairn`, else `~/.local/share/cairn`.
    public static func defaultPath() -> String {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/cairn" }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.local/share/cairn"
    }

    var keysPath: String { path + "/keys" }
    var seedPath: String { keysPath + "/seed" }
    var identityPath: String { keysPath + "/identity" }
    var configPath: String { path + "/config.json" }
    public var statePath: String { path + "/state" }

    public var isInitialized: Bool { FileManager.default.fileExists(atPath: seedPath) }

    /// Writes the keys derived from `mnemonic`. Re-running with the same phrase is
    /// harmless; a different phrase over existing keys is refused so nothing is lost.
    public func initialize(with mnemonic: Mnemonic) throws(DataError) -> OwnerKeys {
        let seed = mnemonic.seed()
        let keys = OwnerKeys(seed: seed)
        if isInitialized {
            let existing = try loadKeys()
            guard existing.identity == keys.identity else {
                throw DataError(.alreadyInitialized, "\(path) already holds identity \(existing.identity); use another --data-dir, or remove that folder if you are sure it is not needed")
            }
            return existing
        }
        do {
            try FileManager.default.createDirectory(atPath: keysPath, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: keysPath)
        } catch {
            throw DataError(.io, "cannot create the data directory \(path)", cause: error)
        }
        try SecretFile.write(seed, to: seedPath)
        try SecretFile.write(Array((keys.identity + "\n").utf8), to: identityPath)
        return keys
    }

    public func loadKeys() throws(DataError) -> OwnerKeys {
        guard isInitialized else {
            throw DataError(.notInitialized, "no Cairn identity in \(path): run `cairn init` (or `cairn init --recover` with your phrase) first")
        }
        let seed = try SecretFile.readSecret(seedPath, count: 64)
        return OwnerKeys(seed: seed)
    }

    public func loadConfig() throws(DataError) -> RepositoryConfig {
        guard let data = FileManager.default.contents(atPath: configPath) else { return RepositoryConfig() }
        do {
            return try JSONDecoder().decode(RepositoryConfig.self, from: data)
        } catch {
            throw DataError(.corrupt, "\(configPath) is not valid: fix or delete it (it only remembers targets)", cause: error)
        }
    }

    public func saveConfig(_ config: RepositoryConfig) throws(DataError) {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let bytes = try enc.encode(config)
            try AtomicFile.write(Array(bytes), to: configPath, mode: 0o644)
        } catch let error as DataError {
            throw error
        } catch {
            throw DataError(.io, "cannot write \(configPath)", cause: error)
        }
    }
}

/// Files that hold secrets: created 0600 before any byte is written, replaced atomically.
public enum SecretFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(DataError) {
        try AtomicFile.write(bytes, to: path, mode: 0o600)
    }

    /// Writes a key straight from its zeroing buffer (no array copy is left in the heap).
    public static func write(_ secret: SecureBytes, to path: String) throws(DataError) {
        try secret.withUnsafeBytes { b in Result { () throws(DataError) in try AtomicFile.write(b, to: path, mode: 0o600) } }.get()
    }

    /// Reads a key file of exactly `count` bytes straight into a zeroing buffer.
    public static func readSecret(_ path: String, count: Int) throws(DataError) -> SecureBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw DataError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let secret = SecureBytes(count: count)
        // One byte more than expected tells a longer file from an exact one.
        let spare = SecureBytes(count: 1)
        var got = 0
        var extra = 0
        while true {
            let n = got < count
                ? secret.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, count - got) }
                : spare.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, 1) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError(.io, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            if got < count { got += n } else { extra += n; break }
        }
        guard got == count, extra == 0 else {
            throw DataError(.corrupt, "the key file \(path) is damaged (\(extra > 0 ? "more than \(count)" : "\(got)") bytes, expected \(count)): run `cairn init --recover` with your phrase into a new --data-dir")
        }
        return secret
    }
}

/// Whole-file replacement through `PATH.tmp` in the same folder, fsync and rename: a crash
/// leaves the old file or the new one, never half of one. (Foundation's `.atomic` writes
/// go through a `TemporaryDirectory.*` folder in /tmp that it never removes.)
public enum AtomicFile {
    /// The temporary file is created with `mode` before any byte is written, so a secret
    /// is never readable by others, even briefly.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(DataError) {
        try bytes.withUnsafeBytes { b in Result { () throws(DataError) in try write(b, to: path, mode: mode) } }.get()
    }

    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String, mode: mode_t) throws(DataError) {
        let tmp = path + ".tmp"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else {
            throw DataError(.io, "cannot create \(tmp): \(String(cString: strerror(errno)))")
        }
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                let msg = String(cString: strerror(errno))
                close(fd)
                unlink(tmp)
                throw DataError(.io, "cannot write \(path): \(msg)")
            }
            off += n
        }
        fsync(fd)
        close(fd)
        guard rename(tmp, path) == 0 else {
            let msg = String(cString: strerror(errno))
            unlink(tmp)
            throw DataError(.io, "cannot write \(path): \(msg)")
        }
    }
}
