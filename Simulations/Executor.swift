import CairnWire
import CairnCore
import Foundation

/// The simulator's one serial executor (SE-0392) and task executor (SE-0417). Every node
/// actor and the coordinator actor use it as their executor, and every task the simulator
/// starts prefers it, so all their jobs — and the nonisolated async functions they call —
/// run here, one at a time, on the simulator's thread, in the order they were enqueued.
///
/// What catches an escape: a job enqueued from any other thread traps (some work ran on
/// the global executor and tried to come back); and after each event the simulator drains
/// the queue and traps if a task it started has not finished (it is waiting for work that
/// is not on this executor).
public final class SimulatorExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    private var jobs: [UnownedJob] = []
    private var head = 0
    private let thread = pthread_self()
    public private(set) var jobsRun: UInt64 = 0

    public init() {}

    private var onOwnThread: Bool { pthread_equal(pthread_self(), thread) != 0 }

    public func enqueue(_ job: consuming ExecutorJob) {
        precondition(onOwnThread, "a job was enqueued on the simulator executor from another thread: work escaped to the global executor")
        jobs.append(UnownedJob(job))
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(onOwnThread, "not on the simulator executor's thread")
    }

    /// Runs jobs until none is left (jobs may enqueue more).
    public func drain() {
        precondition(onOwnThread, "drain() called off the simulator thread")
        while head < jobs.count {
            let job = jobs[head]
            head += 1
            job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
            jobsRun += 1
        }
        jobs.removeAll(keepingCapacity: true)
        head = 0
    }
}

/// A reference to the simulation that tasks on the simulator executor may carry: the
/// simulation is only ever touched on that executor's one thread.
final class SimulationRef: @unchecked Sendable {
    unowned let sim: Simulation
    init(_ sim: Simulation) { self.sim = sim }
}

/// One node's (or the coordinator's) environment in the simulator: transport, clock,
/// timers and storage, all backed by the simulation — the same functions the direct mode
/// calls when it carries out a core's actions itself.
final class SimEnvironment: Transport, NodeClock, TimerService, ShardStorage, @unchecked Sendable {
    let ref: SimulationRef
    let node: NodeID

    init(_ ref: SimulationRef, node: NodeID) {
        self.ref = ref
        self.node = node
    }

    /// This node's own clock (offset and drift included).
    var now: Instant { Instant(milliseconds: ref.sim.clock(node, at: ref.sim.now)) }

    func send(_ message: Message, from: NodeID, to: NodeID) {
        ref.sim.send(from: from, to: to, message)
    }

    func set(_ timer: TimerKind, at: Instant, for node: NodeID) {
        ref.sim.armTimer(node, timer, at: at)
    }

    func store(_ slot: SlotID, from: UInt32, to: SlotExtent) -> Bool {
        ref.sim.store(node.index, slot, from: from, to: to)
    }

    func delete(_ slot: SlotID) {
        ref.sim.delete(node.index, slot)
    }

    func prove(_ slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32) -> SegmentProof? {
        ref.sim.prove(node.index, slot, pack: pack, packs: packs, selector: selector)
    }

    func serve(_ slot: SlotID) -> FetchAnswer {
        ref.sim.serve(node.index, slot)
    }

    func verify(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool {
        ref.sim.verifyStream(slot, from: from, expect: expect)
    }

    var environment: NodeEnvironment {
        let ref = self.ref
        return NodeEnvironment(transport: self, clock: self, timers: self, storage: self) { node, note in
            ref.sim.observe(node == .coordinator ? nil : node.index, note)
        }
    }
}
