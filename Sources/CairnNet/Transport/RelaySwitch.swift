import NIOCore
import Synchronization

/// A relay's splices: circuit c1 on session S1 is joined to circuit c2 on session S2, and
/// what arrives on one leaves on the other as it came (sealed end to end: the relay sees
/// ciphertext, lengths and timing, and not who is behind the other end's address). Also
/// the relay's rate bounds: token buckets per source session and in total.
final class RelaySwitch: Sendable {
    struct End: Hashable, Sendable {
        let session: UInt64
        let circuit: UInt32
    }

    private struct Bucket {
        var tokens: Double
        var at: NIODeadline
    }

    private struct State {
        var routes: [End: (session: Session, circuit: UInt32)] = [:]
        var circuits: [UInt64: Int] = [:]
        var buckets: [UInt64: Bucket] = [:]
        var total = Bucket(tokens: 0, at: .now())
    }

    let limits: RelayLimits
    private let state = Mutex(State())
    let relayedBytes = Atomic<Int>(0)

    init(limits: RelayLimits) {
        self.limits = limits
        state.withLock { $0.total.tokens = Double(limits.bytesPerSecondTotal) }
    }

    /// Joins (from, c1) to (to, c2), both directions; nil when `from` has too many circuits.
    func splice(_ from: Session, _ c1: UInt32, _ to: Session, _ c2: UInt32) -> NetError? {
        state.withLock { s -> NetError? in
            for end in [from.id, to.id] where s.circuits[end, default: 0] >= limits.circuitsPerSessionMax {
                return NetError(.overloaded, "a session has \(limits.circuitsPerSessionMax) relayed circuits open, the most this relay allows")
            }
            s.routes[End(session: from.id, circuit: c1)] = (to, c2)
            s.routes[End(session: to.id, circuit: c2)] = (from, c1)
            s.circuits[from.id, default: 0] += 1
            s.circuits[to.id, default: 0] += 1
            return nil
        }
    }

    func route(_ session: UInt64, _ circuit: UInt32) -> (session: Session, circuit: UInt32)? {
        state.withLock { $0.routes[End(session: session, circuit: circuit)] }
    }

    /// Removes the splice of (session, circuit); returns the other end.
    func unsplice(_ session: Session, _ circuit: UInt32) -> (session: Session, circuit: UInt32)? {
        state.withLock { s in
            guard let other = s.routes.removeValue(forKey: End(session: session.id, circuit: circuit)) else { return nil }
            s.routes[End(session: other.session.id, circuit: other.circuit)] = nil
            s.circuits[session.id, default: 1] -= 1
            s.circuits[other.session.id, default: 1] -= 1
            return other
        }
    }

    /// Removes every splice of `session` (it ended); returns their other ends.
    func unspliceAll(_ session: Session) -> [(session: Session, circuit: UInt32)] {
        let mine = state.withLock { s in s.routes.keys.filter { $0.session == session.id }.map(\.circuit) }
        let others = mine.compactMap { unsplice(session, $0) }
        state.withLock { s in
            s.circuits[session.id] = nil
            s.buckets[session.id] = nil
        }
        return others
    }

    /// Takes `bytes` from the session's and the total budget; returns how long the session
    /// must pause its reads to stay within both (zero: none).
    func charge(_ session: UInt64, bytes: Int) -> TimeAmount {
        relayedBytes.add(bytes, ordering: .relaxed)
        let now = NIODeadline.now()
        return state.withLock { s in
            let perSession = Double(limits.bytesPerSecondPerSession)
            var mine = s.buckets[session] ?? Bucket(tokens: perSession, at: now)
            let waitMine = Self.take(&mine, bytes: bytes, rate: perSession, now: now)
            s.buckets[session] = mine
            let waitTotal = Self.take(&s.total, bytes: bytes, rate: Double(limits.bytesPerSecondTotal), now: now)
            return max(waitMine, waitTotal)
        }
    }

    /// A bucket holding at most one second of its rate.
    private static func take(_ bucket: inout Bucket, bytes: Int, rate: Double, now: NIODeadline) -> TimeAmount {
        let elapsed = Double((now - bucket.at).nanoseconds) / 1e9
        bucket.tokens = min(rate, bucket.tokens + elapsed * rate) - Double(bytes)
        bucket.at = now
        guard bucket.tokens < 0 else { return .zero }
        return .nanoseconds(Int64(-bucket.tokens / rate * 1e9))
    }
}
