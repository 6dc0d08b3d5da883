import CairnCrypto
import Foundation
import Testing

/// File-system helpers that take names as bytes and work relative to folder
/// descriptors, for trees whose names are not UTF-8 or whose paths exceed PATH_MAX
/// (which `FileManager` cannot make, read or remove).
enum ByteTree {
    static func cName<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (name + [0]).withUnsafeBufferPointer { b in b.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }

    static func openFolder(_ path: String) -> Int32 { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }

    /// Creates folder `name` in `parent` and returns it open.
    static func mkdir(_ parent: Int32, _ name: [UInt8], mode: mode_t = 0o755) -> Int32 {
        #expect(cName(name) { mkdirat(parent, $0, mode) } == 0, "mkdir \(name): \(errno)")
        return cName(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    }

    static func write(_ parent: Int32, _ name: [UInt8], _ bytes: [UInt8], mode: mode_t = 0o644) {
        let fd = cName(name) { openat(parent, $0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        #expect(fd >= 0, "create \(name): \(errno)")
        #expect(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count)
        fchmod(fd, mode)
        close(fd)
    }

    static func symlink(_ parent: Int32, _ name: [UInt8], to target: [UInt8]) {
        #expect(cName(target) { t in cName(name) { symlinkat(t, parent, $0) } } == 0)
    }

    static func names(_ fd: Int32) -> [[UInt8]] {
        guard let dir = fdopendir(dup(fd)) else { return [] }
        defer { closedir(dir) }
        var out: [[UInt8]] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name != Array(".".utf8), name != Array("..".utf8) { out.append(name) }
        }
        return out.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// Relative path bytes → (type, mode, mtime, size, link target, content hash) of
    /// everything under `root`, walked without recursion and without paths.
    static func describe(_ root: String) -> [[UInt8]: String] {
        var out: [[UInt8]: String] = [:]
        var stack: [(fd: Int32, path: [UInt8])] = [(openFolder(root), [])]
        while let (fd, path) = stack.popLast() {
            defer { close(fd) }
            for name in names(fd) {
                let rel = path.isEmpty ? name : path + [UInt8(ascii: "/")] + name
                var st = stat()
                _ = cName(name) { fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }
                var desc = "mode=\(String(st.st_mode & 0o7777, radix: 8)) mtime=\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    desc = "dir " + desc
                    stack.append((cName(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW) }, rel))
                case S_IFLNK:
                    var buf = [CChar](repeating: 0, count: 8192)
                    let n = cName(name) { readlinkat(fd, $0, &buf, buf.count) }
                    desc = "link -> \(Hex.encode(buf[..<max(n, 0)].map { UInt8(bitPattern: $0) })) " + desc
                default:
                    let f = cName(name) { openat(fd, $0, O_RDONLY | O_NOFOLLOW) }
                    var data: [UInt8] = []
                    var chunk = [UInt8](repeating: 0, count: 65536)
                    while true {
                        let n = read(f, &chunk, chunk.count)
                        if n <= 0 { break }
                        data += chunk[..<n]
                    }
                    close(f)
                    desc = "file size=\(st.st_size) hash=\(Hex.encode(Blake2b.hash(data))) " + desc
                }
                out[rel] = desc
            }
        }
        return out
    }

    /// Removes `path` and everything in it, however deep.
    static func remove(_ path: String) {
        func empty(_ fd: Int32) {
            for name in names(fd) {
                if cName(name, { unlinkat(fd, $0, 0) }) != 0 {
                    let sub = cName(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW) }
                    if sub >= 0 {
                        empty(sub)
                        close(sub)
                    }
                    _ = cName(name) { unlinkat(fd, $0, AT_REMOVEDIR) }
                }
            }
        }
        let fd = openFolder(path)
        guard fd >= 0 else { return }
        empty(fd)
        close(fd)
        rmdir(path)
    }
}
