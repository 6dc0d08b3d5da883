internal import CLMDB
import Synchronization
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// What happens when LMDB's own consistency checks fail on a damaged page (an
/// `mdb_assert`): LMDB calls our function and then `abort()`s, so the process must end
/// inside it. It ends as a normal exit with a message naming the store, never as SIGABRT.
///
/// While stores are being opened and walked (`LMDBEnvironment.init`, `verifyStructure`,
/// before anything is written anywhere), a command can do better: the hook set by the
/// command line may run the command again with the store listed in `CAIRN_DAMAGED_STORES`,
/// which every later open of that store refuses as `.corrupted` (so the target is skipped,
/// or moved aside and rebuilt by `check`).
public enum StoreAssertions {
    /// The environment variable listing stores found damaged by LMDB's checks in an
    /// earlier run of this command, one `entry(for:)` per line.
    public static let damagedStoresVariable = "CAIRN_DAMAGED_STORES"

    /// How a damaged store is listed: its folder and the inode of its data file, so a
    /// new store made in its place (after the damaged one is moved aside) is not refused.
    public static func entry(for path: String) -> String {
        var st = stat()
        let inode = stat(path + "/data.mdb", &st) == 0 ? UInt64(st.st_ino) : 0
        return "\(inode)\t\(path)"
    }

    /// Called with the store folder, LMDB's message and whether no write can have
    /// happened yet; must not return (LMDB aborts when it does).
    nonisolated(unsafe) public static var hook: (@Sendable (_ path: String, _ message: String, _ beforeAnyWrite: Bool) -> Void)?

    private static let paths = Mutex<[UInt: String]>([:])
    private static let opening = Atomic<Int>(0)

    static func register(_ env: OpaquePointer, path: String) {
        paths.withLock { $0[UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(env)))] = path }
        mdb_env_set_assert(env, { env, message in
            let key = env.map { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer($0))) } ?? 0
            StoreAssertions.failed(key: key, message: message.map { String(cString: $0) } ?? "")
        })
    }

    static func unregister(_ env: OpaquePointer) {
        _ = paths.withLock { $0.removeValue(forKey: UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(env)))) }
    }

    /// Runs `body` as part of opening or walking a store: nothing has been written yet.
    static func whileOpening<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        opening.add(1, ordering: .relaxed)
        defer { opening.subtract(1, ordering: .relaxed) }
        return try body()
    }

    private static func failed(key: UInt, message: String) {
        let path = paths.withLock { $0[key] } ?? "a store"
        hook?(path, message, opening.load(ordering: .relaxed) > 0)
        let text = "error: the store file in \(path) is damaged (LMDB: \(message)): move it aside (`cairn check` does this and rebuilds the target) or restore it from a copy\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        exit(1)
    }

    /// The reason a store folder was found damaged by an earlier run, if it was.
    static func knownDamage(_ path: String) -> String? {
        guard let listed = getenv(damagedStoresVariable) else { return nil }
        let entries = String(cString: listed).split(separator: "\n").map(String.init)
        return entries.contains(entry(for: path)) ? "LMDB's own checks failed on one of its pages when it was read" : nil
    }
}
