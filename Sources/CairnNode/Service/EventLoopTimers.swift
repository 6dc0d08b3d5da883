import CairnCore
import NIOCore

/// The core's timers on a NIO event loop: one deadline per kind (setting a kind again
/// replaces it), fired as `fire(kind)` on the same loop. Deadlines are instants of the
/// real-time clock; a deadline already past fires at once.
final class EventLoopTimers: @unchecked Sendable {
    private let loop: any EventLoop
    private let clock: SystemClock
    private let fire: (TimerKind) -> Void
    // Touched only on `loop`.
    private var scheduled: [TimerKind: Scheduled<Void>] = [:]

    init(loop: any EventLoop, clock: SystemClock, fire: @escaping (TimerKind) -> Void) {
        self.loop = loop
        self.clock = clock
        self.fire = fire
    }

    func set(_ kind: TimerKind, at: Instant) {
        loop.preconditionInEventLoop()
        scheduled[kind]?.cancel()
        let delay = max(0, (at - clock.now).milliseconds)
        scheduled[kind] = loop.scheduleTask(in: .milliseconds(delay)) { [self] in
            scheduled[kind] = nil
            fire(kind)
        }
    }

    func cancelAll() {
        loop.preconditionInEventLoop()
        for task in scheduled.values { task.cancel() }
        scheduled = [:]
    }
}
