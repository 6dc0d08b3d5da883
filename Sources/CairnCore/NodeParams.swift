import CairnWire
/// A node's protocol parameters (from the network's configuration).
public struct NodeParams: Sendable, Codable {
    /// The code of the volumes this node makes by default. Each volume carries its own
    /// layout (`addPack`); `k`, `n` and `repairTrigger` here only set how far below its
    /// n a volume may fall before it is repaired (`repairTrigger(for:)`).
    public var k: Int
    public var n: Int
    public var heartbeatInterval: Interval
    public var challengeInterval: Interval
    public var challengeTimeout: Interval
    public var repairInterval: Interval
    public var repairTimeout: Interval
    public var term: Interval
    public var grace: Interval
    public var uptimeThresholdPermille: UInt16
    /// Repair a volume when fewer than this many of its shards are healthy.
    public var repairTrigger: Int
    /// Fetch misses before a holder is reported for refusing.
    public var fetchMissesMax: Int
    /// Messages stamped further than this from the node's clock are refused, and so are
    /// proposals whose start is (see `Instant`). Well under the hour by which audits end
    /// before a grace period does, so two clocks within it agree on every deadline.
    public var maxClockSkew: Interval
    /// How long a proposed holder has to sign: a small round trip, but its dial may first
    /// wait out an address that does not answer (a NAT) before the relay carries it.
    public var proposalTimeout: Interval = NodeParams.defaultProposalTimeout
    public static let defaultProposalTimeout: Interval = .minutes(10)

    /// How long before a contract's term ends its slot is renewed (placed afresh, the old
    /// holder released once the new one has it): four repair ticks, so that a lost match
    /// reply or a refusing candidate still leaves time, or a tenth of a long term; never
    /// more than half the term. (Two ticks lapsed most contracts of random scenario 858,
    /// with 17 % of messages lost.)
    public var renewalLead: Interval {
        Interval(milliseconds: min(term.milliseconds / 2, max(repairInterval.milliseconds * 4, term.milliseconds / 10)))
    }

    public init(k: Int, n: Int, heartbeatInterval: Interval = .hours(1),
                challengeInterval: Interval = .days(1), challengeTimeout: Interval = .minutes(10),
                repairInterval: Interval = .hours(6), repairTimeout: Interval = .hours(6), term: Interval = .days(365),
                grace: Interval = .days(7), uptimeThresholdPermille: UInt16 = 850, repairTrigger: Int? = nil,
                fetchMissesMax: Int = 2, maxClockSkew: Interval = .minutes(5))
    {
        precondition(k > 0 && k <= n && n <= ProtocolLimits.slotsPerVolumeMax, "k=\(k) n=\(n)")
        self.k = k
        self.n = n
        self.heartbeatInterval = heartbeatInterval
        self.challengeInterval = challengeInterval
        self.challengeTimeout = challengeTimeout
        self.repairInterval = repairInterval
        self.repairTimeout = repairTimeout
        self.term = term
        self.grace = grace
        self.uptimeThresholdPermille = uptimeThresholdPermille
        self.repairTrigger = repairTrigger ?? n
        self.fetchMissesMax = fetchMissesMax
        self.maxClockSkew = maxClockSkew
        precondition(maxClockSkew >= .zero && maxClockSkew < .hours(1), "clock skew bound \(maxClockSkew)")
        precondition(self.repairTrigger > k && self.repairTrigger <= n, "repair trigger \(self.repairTrigger) for k=\(k) n=\(n)")
    }

    private enum CodingKeys: String, CodingKey {
        case k, n, heartbeatInterval, challengeInterval, challengeTimeout, repairInterval, repairTimeout, term, grace
        case uptimeThresholdPermille, repairTrigger, fetchMissesMax, maxClockSkew, proposalTimeout
    }

    /// Checkpoints written before `proposalTimeout` existed read with its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        k = try c.decode(Int.self, forKey: .k)
        n = try c.decode(Int.self, forKey: .n)
        heartbeatInterval = try c.decode(Interval.self, forKey: .heartbeatInterval)
        challengeInterval = try c.decode(Interval.self, forKey: .challengeInterval)
        challengeTimeout = try c.decode(Interval.self, forKey: .challengeTimeout)
        repairInterval = try c.decode(Interval.self, forKey: .repairInterval)
        repairTimeout = try c.decode(Interval.self, forKey: .repairTimeout)
        term = try c.decode(Interval.self, forKey: .term)
        grace = try c.decode(Interval.self, forKey: .grace)
        uptimeThresholdPermille = try c.decode(UInt16.self, forKey: .uptimeThresholdPermille)
        repairTrigger = try c.decode(Int.self, forKey: .repairTrigger)
        fetchMissesMax = try c.decode(Int.self, forKey: .fetchMissesMax)
        maxClockSkew = try c.decode(Interval.self, forKey: .maxClockSkew)
        proposalTimeout = try c.decodeIfPresent(Interval.self, forKey: .proposalTimeout) ?? Self.defaultProposalTimeout
    }

    /// The code a network of home machines runs with (docs/research/shard-count.md): 4-of-8,
    /// repaired below 5 healthy shards, holders healthy from 70% uptime (over the
    /// coordinator's 256 h window). At 300 simulated home machines over 180 days it lost no
    /// pack in 10 runs, and moved 22 MiB of repair traffic per node per day against 2.3 GiB
    /// for 3-of-5 (repaired below 4, 85% uptime), in less storage; under harsher churn it
    /// lost a quarter to a half as many packs. It
    /// needs 9 members (owner and 8 distinct holders): a smaller network configures a
    /// narrower code (`k`, `n` in `cairn node run --config`), which then takes the trigger
    /// and threshold below.
    public static let homeNetwork = NodeParams(k: 4, n: 8, uptimeThresholdPermille: defaultUptimeThresholdPermille(k: 4, n: 8),
                                               repairTrigger: defaultRepairTrigger(k: 4, n: 8))

    /// The repair trigger for a k-of-n code on a network of home machines: k + 1 for the
    /// codes measured (n − k up to 7; 4 for 3-of-5, 5 for 4-of-8), a quarter of the
    /// redundancy above k for wider ones (not measured). Repairing at n (on the first
    /// unhealthy holder: what `init` does without `repairTrigger`, and the simulator's
    /// default) cost 2.6 times the repair traffic of 4 for 3-of-5, with no measurable gain
    /// in durability: most unhealthy holders are only offline for a while.
    public static func defaultRepairTrigger(k: Int, n: Int) -> Int {
        min(n, k + max(1, (n - k) / 4))
    }

    /// The uptime below which an owner counts a holder unhealthy, for a k-of-n code: 70%
    /// when the code has at least 4 spare shards (4-of-8: as safe as 85%, at a thirtieth of
    /// the repair traffic), 85% for narrower codes (3-of-5 lost more packs at 70%, most of
    /// all under harsher churn).
    public static func defaultUptimeThresholdPermille(k: Int, n: Int) -> UInt16 {
        n - k >= 4 ? 700 : 850
    }

    /// Repair a volume of layout `g` when fewer than this many of its shards are healthy:
    /// as many below its n as `repairTrigger` is below `n`, and always above its k.
    public func repairTrigger(for g: VolumeLayout) -> Int {
        RepairPlanner.trigger(for: g, n: n, trigger: repairTrigger)
    }
}
