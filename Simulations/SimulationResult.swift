import CairnWire
import CairnCore
import CairnCrypto
/// One row of the time series.
public struct Sample: Sendable, Equatable {
    public var hours: Double
    public var nodesOnline: Int
    public var healthyShards: Int
    public var repairsInFlight: Int
    public var packsLost: Int
    public var messages: UInt64
}

/// Per adversary kind: how many, how many were caught, mean hours from first misbehaviour
/// to the first report reaching the coordinator; and, judged against the chances each had,
/// how many became detectable (`DetectionLedger`) and how soon after that each was caught.
public struct Detection: Sendable, Equatable {
    public var total = 0
    public var misbehaved = 0
    public var detected = 0
    public var meanHours: Double? = nil
    public var maxHours: Double? = nil
    /// Adversaries that became detectable.
    public var detectable = 0
    /// Per detectable adversary caught: hours from becoming detectable to the first report
    /// counted against it (0 when it was caught before).
    public var detectableDelays: [Double] = []
    /// Per detectable adversary never caught: hours from becoming detectable to the end.
    public var detectableOpenHours: [Double] = []

    public init() {}

    /// Of the detectable adversaries that had at least `hours` before the run ended or were
    /// caught: how many were caught within `hours` of becoming detectable, of how many. One
    /// that became detectable later and is not caught yet has not had its time (censored).
    public func caughtWithin(_ hours: Double) -> (caught: Int, of: Int) {
        (detectableDelays.count { $0 <= hours }, detectableDelays.count + detectableOpenHours.count { $0 >= hours })
    }
}

/// A run stopped before its end because it outgrew a bound of the simulator.
public struct SimulationStopped: Error, Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var atMilliseconds: Int64
    public var reason: String
    public var description: String {
        let day = Double(atMilliseconds) / 86_400_000
        return "the simulation stopped at day \((day * 1000).rounded() / 1000) (seed \(seed)): \(reason)"
    }
}

/// Everything a run reports.
public struct SimulationResult: Sendable {
    public var seed: UInt64
    public var scenario: String
    public var nodes: Int
    public var simDays: Double
    public var events: UInt64
    public var messages: UInt64
    public var messagesDropped: UInt64
    /// Messages a receiver refused because their stamp was too far from its clock.
    public var messagesRefusedClockSkew: Int
    /// Packs of present owners, and those in volumes lost (fewer than k shards left) or
    /// reported lost by their owners. A volume is the unit of placement and loss: losing it
    /// loses every pack in it.
    public var packsTotal: Int
    public var packsLost: Int
    public var packsReportedLost: Int
    public var volumesTotal: Int
    public var volumesLost: Int
    /// Contracts in force (both signed) at the end, in all and for the owner with most.
    public var contractsActive: Int
    public var contractsPerOwnerMax: Int
    /// Sampled restores that finished (by success or by running out of patience).
    public var restoreAttempts: Int
    /// nil when no sampled restore finished (none sampled, or the run is shorter than the
    /// restore patience).
    public var restoreSuccessRate: Double?
    /// Mean hours from the start of a successful restore to its last shard.
    public var restoreHoursMean: Double?
    /// Restores still running when the run ended (not counted in the rate).
    public var restoresUnfinished: Int
    /// Fraction of finished sampled restores done within six minutes of their start.
    public var restoreWithin6MinRate: Double? = nil
    /// Shard bytes that reached a restore for a volume it already had k shards of.
    public var restoreBytesWasted: UInt64 = 0
    public var repairBytes: UInt64
    public var repairBytesPerNodeDay: Double
    public var storageOverhead: Double
    public var detection: [String: Detection]
    public var contractsBroken: Int
    /// Owned contracts whose term ended before a renewal was placed (their slots matched again).
    public var contractsLapsed: Int = 0
    /// Owned contracts renewed in place by their holders (no shard moved).
    public var contractsRenewed: Int = 0
    public var repairsStarted: Int
    public var repairsCompleted: Int
    /// Blind repairs ordered by the coordinator / shards re-created by them.
    public var blindRepairsOrdered: Int
    public var blindShardsRepaired: Int
    /// Packs with fewer than `repair_trigger` healthy shards at the end that could have been
    /// repaired: at least k of their shards on holders that serve fetches (see
    /// `packsUnrecoverable`).
    public var unconvergedPacks: Int
    /// Packs not lost (k healthy shards) that no repair can bring back: fewer than k shards
    /// on holders that serve them (the rest on refusers, which keep shards and never send
    /// them), and no local copy. Adversaries took them; no protocol converges them.
    public var packsUnrecoverable = 0
    /// Packs (of honest, present owners) with fewer than n healthy shards at the end, lost
    /// ones included: with `repair_trigger` = n, `unconvergedPacks` plus `packsLost`.
    public var packsBelowN: Int
    public var departed: Int
    public var diskFailures: Int
    public var warned: Int
    public var excluded: Int
    public var violations: [String]
    public var expectationFailures: [String]
    public var traceHash: String
    public var timeseries: [Sample]
    /// `pack_availability` at each sample from the warm-up on (see `Simulation.packAvailability`).
    public var availabilitySamples: [Double] = []
    /// Every shard a partial dropper held, in a fixed order (see `DropperLedger`).
    public var dropperShards: [DropperRecord] = []
    /// With a repair delay: counted packs that at some instant had fewer than k live shards
    /// (see `RepairModel`); 0 without one.
    public var packsEverLost = 0
    /// Their mean; nil when no sample fell after the warm-up.
    public var packAvailability: Double? {
        availabilitySamples.isEmpty ? nil : availabilitySamples.reduce(0, +) / Double(availabilitySamples.count)
    }
}
