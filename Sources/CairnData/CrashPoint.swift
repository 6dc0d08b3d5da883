import Foundation
import Synchronization

/// A test hook for crash safety: with `CAIRN_CRASH_AFTER=N` in the environment, the
/// process kills itself with SIGKILL when it reaches its Nth crash point — the moments
/// between the durable steps of backup, forget and prune (and a restore's file written
/// under its temporary name, before the rename) — so a test can stop it after
/// every step and check that nothing that was to be kept is lost. Without the variable a
/// crash point costs one branch.
enum CrashPoint {
    private static let limit: Int? = ProcessInfo.processInfo.environment["CAIRN_CRASH_AFTER"].flatMap { Int($0) }
    private static let reached = Mutex(0)

    static func pass(_ name: StaticString) {
        guard let limit else { return }
        let n = reached.withLock { (count: inout Int) -> Int in
            count += 1
            return count
        }
        if n == limit { kill(getpid(), SIGKILL) }
    }
}
