import CairnCore

/// What happens at a simulated instant.
enum EventKind {
    case deliver(from: NodeID, to: NodeID, Message)
    case timer(node: NodeID, kind: TimerKind, epoch: UInt32)
    case churn(node: UInt32, Churn, epoch: UInt32)
    case world(World)

    enum Churn: UInt8 { case goOnline = 1, goOffline, depart, diskFail }
    enum World: Equatable {
        case correlated(Int)
        case partitionStart(Int)
        case partitionEnd(Int)
        case converge
        case sample
        case check
    }
}

struct Event {
    var time: Int64
    var seq: UInt64
    var kind: EventKind
}

/// The simulator's agenda: a binary min-heap ordered by (time, insertion sequence), so
/// events due at the same instant run in the order they were scheduled.
struct EventQueue {
    private var heap: [Event] = []
    private var nextSeq: UInt64 = 0

    var count: Int { heap.count }

    init() { heap.reserveCapacity(1 << 16) }

    @inline(__always)
    private static func before(_ a: Event, _ b: Event) -> Bool {
        a.time < b.time || (a.time == b.time && a.seq < b.seq)
    }

    mutating func push(at time: Int64, _ kind: EventKind) {
        let e = Event(time: time, seq: nextSeq, kind: kind)
        nextSeq += 1
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.before(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Event? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            let n = heap.count
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < n, Self.before(heap[l], heap[m]) { m = l }
                if r < n, Self.before(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
