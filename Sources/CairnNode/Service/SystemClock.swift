import CairnCore
#if canImport(Glibc)
internal import Glibc
#endif

/// The real-time clock as the core's `Instant` (UTC milliseconds): production's only
/// source of time. Network time is compared between machines (contract terms, stamps),
/// hence the real-time clock, not a monotonic one.
struct SystemClock: NodeClock {
    var now: Instant {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Instant(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }
}
