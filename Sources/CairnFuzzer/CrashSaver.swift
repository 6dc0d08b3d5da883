#if !CAIRN_LIBFUZZER
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Saves the input that was running when the process dies of a trap or a fault: a copy of
/// each input is kept in a buffer allocated up front, and the signal handler writes it to
/// a file with async-signal-safe calls only (open, write, close), then dies of the same
/// signal. (libFuzzer does this itself; the seeded loop needs its own.)
enum CrashSaver {
    nonisolated(unsafe) private static var buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 17, alignment: 8)
    nonisolated(unsafe) private static var capacity = 1 << 17
    nonisolated(unsafe) private static var count = 0
    nonisolated(unsafe) private static var path: UnsafeMutablePointer<CChar>?
    private static let note: StaticString = "cairn-fuzz: crashed; the input that ran is saved as crash-TARGET-seedN (in --artifacts)\n"

    static func install(path file: String) {
        path = strdup(file)
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
            signal(sig) { sig in
                if let path = CrashSaver.path {
                    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                    if fd >= 0 {
                        _ = write(fd, CrashSaver.buffer, CrashSaver.count)
                        close(fd)
                    }
                    _ = write(2, CrashSaver.note.utf8Start, CrashSaver.note.utf8CodeUnitCount)
                }
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }

    /// Called before each input runs.
    static func remember(_ input: [UInt8]) {
        if input.count > capacity {
            buffer.deallocate()
            capacity = input.count
            buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        }
        input.withUnsafeBytes { if let base = $0.baseAddress { buffer.copyMemory(from: base, byteCount: $0.count) } }
        count = input.count
    }
}
#endif
