import CairnStore
import Foundation

/// When LMDB's own checks fail on a damaged page while a target is being opened (before
/// anything is written), the command runs again with that store listed as damaged, so it
/// is skipped (or moved aside and rebuilt by `check`) like any other damaged target,
/// instead of the process aborting. Each store is retried once; later failures, or ones
/// after writing began, end the command with an error naming the store.
enum DamagedStoreRetry {
    static func install() {
        StoreAssertions.hook = { path, message, beforeAnyWrite in
            guard beforeAnyWrite else { return }
            let name = StoreAssertions.damagedStoresVariable
            let listed = ProcessInfo.processInfo.environment[name].map { $0.split(separator: "\n").map(String.init) } ?? []
            let entry = StoreAssertions.entry(for: path)
            guard !listed.contains(entry), listed.count < 32 else { return }
            Terminal.warn("the store in \(path) failed LMDB's own checks (\(message)): running the command again without it")
            setenv(name, (listed + [entry]).joined(separator: "\n"), 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
        }
    }
}
