import Synchronization
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Remembers which thread holds the environment's write transaction, so a nested `write`
/// (or `openDatabase` inside `write`) stops with a message instead of deadlocking on
/// LMDB's writer lock.
struct WriterGuard: ~Copyable {
    private let holder = Atomic<UInt>(0)

    private static var currentThread: UInt {
        #if canImport(Darwin)
        UInt(bitPattern: pthread_self())
        #else
        UInt(pthread_self())
        #endif
    }

    /// Stops the process if this thread already holds the write transaction of `path`.
    func checkNotNested(_ path: String, _ operation: String) {
        // Only this thread ever stores its own id, so a relaxed load sees it if it is there.
        precondition(holder.load(ordering: .relaxed) != Self.currentThread,
                     "\(operation) on \(path) inside a write transaction on the same thread would deadlock")
    }

    func enter() { holder.store(Self.currentThread, ordering: .relaxed) }
    func leave() { holder.store(0, ordering: .relaxed) }
}
