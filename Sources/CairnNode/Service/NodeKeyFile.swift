import CairnCrypto
#if canImport(Glibc)
internal import Glibc
#endif

/// A machine's node key: 32 random bytes in `DIR/node.key` (0600), made on first start and
/// never through a symbolic link or over an existing file. The owner's identity certifies
/// it at every start; losing it costs nothing but a new certificate (the node number
/// belongs to the owner, not to this key).
enum NodeKeyFile {
    static func loadOrCreate(folder: String) throws(NodeError) -> SigningKey {
        mkdir(folder, 0o700)
        return try loadOrCreate(path: folder + "/node.key").key
    }

    /// The key at `path` (its folder must exist), made there if there is none; `created`
    /// says which (a coordinator whose key is older than its state lost its directory).
    static func loadOrCreate(path: String) throws(NodeError) -> (key: SigningKey, created: Bool) {
        var fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0, errno == ENOENT {
            let seed = SecureRandom.bytes(SigningKey.seedSize)
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw NodeError(.dataDirectory, "cannot create \(path): \(String(cString: strerror(errno)))") }
            let wrote = seed.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let synced = fsync(fd) == 0
            close(fd)
            guard wrote == seed.count, synced else {
                unlink(path)
                throw NodeError(.dataDirectory, "cannot write \(path): is the disk full?")
            }
            do { return (try SigningKey(seed: seed), true) } catch {
                throw NodeError(.dataDirectory, "the new node key in \(path) is unusable", cause: error)
            }
        }
        guard fd >= 0 else {
            throw NodeError(.dataDirectory, "cannot open \(path): \(String(cString: strerror(errno))) (it must be a regular file, not a link)")
        }
        defer { close(fd) }
        var seed = [UInt8](repeating: 0, count: SigningKey.seedSize + 1)
        let n = seed.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n == SigningKey.seedSize else {
            throw NodeError(.dataDirectory, "\(path) is \(max(n, 0)) bytes, not a node key of \(SigningKey.seedSize): remove it and start again (a new key is made; the node keeps its number)")
        }
        do { return (try SigningKey(seed: Array(seed.prefix(SigningKey.seedSize))), false) } catch {
            throw NodeError(.dataDirectory, "\(path) is not a usable node key: remove it and start again", cause: error)
        }
    }
}
