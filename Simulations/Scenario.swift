import CairnWire
import CairnCore
import Foundation

/// A scenario problem, named by its JSON path (`$.protocol.k`).
public struct ScenarioError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// A distribution a scenario draws per-node values or session lengths from.
public enum Distribution: Sendable, Equatable {
    case fixed(Double)
    case uniform(min: Double, max: Double)
    case exponential(mean: Double)
    /// Weibull with `shape` k and `scale` λ (mean λ·Γ(1+1/k)).
    case weibull(shape: Double, scale: Double)
    case lognormal(median: Double, sigma: Double)
    case choice([Double])

    public func sample(_ rng: inout Xoshiro256) -> Double {
        switch self {
        case .fixed(let v): return v
        case let .uniform(lo, hi): return lo + (hi - lo) * rng.unit()
        case .exponential(let mean): return -mean * log(1 - rng.unit())
        case let .weibull(k, lambda): return lambda * pow(-log(1 - rng.unit()), 1 / k)
        case let .lognormal(median, sigma):
            // Box–Muller from two uniforms.
            let u1 = 1 - rng.unit(), u2 = rng.unit()
            let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            return median * exp(sigma * z)
        case .choice(let values): return values[rng.index(values.count)]
        }
    }
}

public struct TimedFault: Sendable, Equatable {
    public var atDays: Double
    public var fraction: Double
    public var durationHours: Double
}

/// Which closed form a validation scenario is compared with (see `Validation`).
public struct ValidationSpec: Sendable, Equatable {
    public enum Model: String, Sendable, CaseIterable {
        case packAvailability = "pack_availability", lossWithoutRepair = "loss_without_repair"
        /// Per shard a dropper holds: did it pass its first `challenges` challenges.
        case dropperSurvival = "dropper_survival"
        /// Per shard a dropper holds: hours from its store to the first challenge it fails.
        case dropperDetectionHours = "dropper_detection_hours"
        /// Per run, the fraction of packs that ever had fewer than k live shards, with repair
        /// taking an exponential time (`RepairChain.lossProbability`).
        case lossWithRepair = "loss_with_repair"
    }
    public var model: Model
    /// Independent runs (seeds seed, seed+1, ...): each gives one loss figure, or its samples.
    public var runs: Int
    /// `dropper_survival`: how many challenges a shard must pass (c in (1 − f)^c).
    public var challenges = 0
}

/// How long a repair takes before the shard it stores counts as live (`Scenario.repairDelay`).
public enum RepairDelay: Sendable, Equatable {
    /// Exponentially distributed, rate μ per day (mean 1/μ days) per repaired shard.
    case exponential(perDay: Double)
    /// Always this long.
    case fixed(hours: Double)
}

/// Expected bounds a regression scenario asserts.
public struct Expectations: Sendable, Equatable {
    public var packsLostMax: Int? = nil
    public var restoreSuccessMin: Double? = nil
    public var unconvergedMax: Int? = nil
    public var repairsMin: Int? = nil
    public var blindRepairsMin: Int? = nil
    public var detectionHoursMax: [String: Double] = [:]
    public var detectedFractionMin: [String: Double] = [:]
    /// Per kind: every adversary that became detectable (`DetectionLedger`) is caught within
    /// this many hours of it (or `detectableCaughtFractionMin` of them).
    public var detectableCaughtWithinHours: [String: Double] = [:]
    public var detectableCaughtFractionMin: [String: Double] = [:]
    public var unrecoverableMax: Int? = nil
}

/// A simulation scenario (see Scenarios/README.md).
public struct Scenario: Sendable {
    public var name = "scenario"
    public var nodes = 0
    public var durationDays = 1.0
    public var convergenceDays = 0.0
    public var sampleIntervalHours = 24.0
    public var checkIntervalHours = 24.0
    public var offeredGiB = Distribution.fixed(100)
    public var backupGiB = Distribution.fixed(10)
    public var uploadMbps = Distribution.fixed(20)
    public var latencyMs = Distribution.fixed(30)
    public var packMiB = 16.0
    /// Shard data per slot of a volume (GiB): an owner's packs fill a volume's n holders up
    /// to this much each, then the next volume opens.
    public var volumeGiB = 4.0
    public var online: Distribution? = nil
    public var offline = Distribution.exponential(mean: 4)
    public var departuresPerDay = 0.0
    public var diskFailuresPerDay = 0.0
    public var loss = 0.0
    /// Per node, how far its clock is off (seconds) and how fast it drifts (parts per
    /// million): magnitudes drawn from these, each with a random sign. nil: exact clocks.
    public var clockOffsetS: Distribution? = nil
    public var clockDriftPpm: Distribution? = nil
    /// The protocol's bound on clock disagreement, in seconds.
    public var maxClockSkewS = 300.0
    public var correlated: [TimedFault] = []
    public var partitions: [TimedFault] = []
    public var adversaries: [FaultKind: Double] = [:]
    /// What a dropper throws away of each shard it acknowledges: 1 (default) keeps nothing;
    /// below 1 it keeps the shard but without this fraction of its segments (the first
    /// `dropFraction × segments` of every pack), so a challenge catches it only when it asks
    /// for one of those (`ClosedForms.dropperSurvival`).
    public var dropFraction = 1.0
    public var k = 4
    public var n = 8
    public var segmentsPerShard = 8
    public var challengeIntervalHours = 24.0
    public var heartbeatMinutes = 60.0
    public var uptimeWindowHours = 168.0
    public var uptimeThreshold = 0.85
    public var graceDays = 7.0
    public var repairTrigger: Int? = nil
    public var repairIntervalHours = 6.0
    public var reciprocityRatio = 1.0
    public var contractTermDays = 365.0
    public var blindRepairAfterHours = 72.0
    public var warnStrikes = 2
    public var excludeStrikes = 4
    public var restoreSamples = 100
    /// How long a sampled restore keeps retrying holders before it counts as failed.
    public var restorePatienceHours = 24.0
    /// Contract signatures: real Ed25519 (default) or the cheap, forgeable digest stand-in.
    public var ed25519 = true
    public var expect = Expectations()
    /// false: once a volume is first placed, no shard of it is ever stored again (no repair,
    /// no blind repair), so losses follow the failure model alone (`"repair": "off"`).
    public var repair = true
    /// With repair on: how long each repair takes to count (`"repair": {"rate_per_day": μ}`
    /// or `{"delay_hours": d}`); nil: as long as the protocol takes (see `RepairModel`).
    public var repairDelay: RepairDelay? = nil
    /// Permanent failures (departures, disk failures) start this many days in, and
    /// `pack_availability` counts samples from then on: the initial placement is over.
    public var warmupDays = 0.0
    /// A validation scenario: the closed form it is compared with, over how many runs.
    public var validation: ValidationSpec? = nil

    public init() {}

    public static let adversaryKeys: [(String, FaultKind)] = [
        ("droppers", .missing), ("liars", .badProof), ("early_freers", .earlyFree), ("refusers", .refusedFetch),
    ]

    public static func kindName(_ kind: FaultKind) -> String {
        switch kind {
        case .missing: "dropper"
        case .badProof: "liar"
        case .earlyFree: "early_freer"
        case .refusedFetch: "refuser"
        }
    }

    public static func load(path: String) throws(ScenarioError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(path: "$", message: "cannot read \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ScenarioError(path: "$", message: "\(path) is not UTF-8")
        }
        return try parse(text)
    }

    public static func parse(_ text: String) throws(ScenarioError) -> Scenario {
        try parse(json: JSONValue.parse(text))
    }

    /// A scenario from its parsed JSON (a sweep's cells are built as JSON, then read here).
    public static func parse(json: JSONValue) throws(ScenarioError) -> Scenario {
        var s = Scenario()
        var r = try Fields(json, path: "$")
        s.name = try r.string("name") ?? s.name
        s.nodes = try r.int("nodes", required: true, in: 2...1_000_000)!
        s.durationDays = try r.number("duration_days", in: 0.001...3650) ?? s.durationDays
        s.convergenceDays = try r.number("convergence_days", in: 0...365) ?? s.convergenceDays
        s.sampleIntervalHours = try r.number("sample_interval_hours", in: 0.25...8760) ?? s.sampleIntervalHours
        s.checkIntervalHours = try r.number("check_interval_hours", in: 0.25...8760) ?? s.checkIntervalHours
        s.offeredGiB = try r.distribution("offered_gib", positive: true) ?? s.offeredGiB
        s.backupGiB = try r.distribution("backup_gib", positive: true) ?? s.backupGiB
        s.uploadMbps = try r.distribution("upload_mbps", positive: true) ?? s.uploadMbps
        s.latencyMs = try r.distribution("latency_ms", positive: false) ?? s.latencyMs
        s.packMiB = try r.number("pack_mib", in: 1...65536) ?? s.packMiB
        s.volumeGiB = try r.number("volume_gib", in: 0.001...65536) ?? s.volumeGiB
        s.restoreSamples = try r.int("restore_samples", in: 0...100_000) ?? s.restoreSamples
        s.restorePatienceHours = try r.number("restore_patience_hours", in: 0.1...8760) ?? s.restorePatienceHours
        switch try r.string("signatures") {
        case nil, "ed25519": s.ed25519 = true
        case "digest": s.ed25519 = false
        case let other?: throw ScenarioError(path: "$.signatures", message: "\"\(other)\" is not ed25519 or digest")
        }
        if case .object? = r.fields.first(where: { $0.0 == "repair" })?.1, var o = try r.object("repair") {
            let rate = try o.number("rate_per_day", in: 0.000_001...10_000)
            let delay = try o.number("delay_hours", in: 0...87_600)
            try o.finish()
            switch (rate, delay) {
            case (let mu?, nil): s.repairDelay = .exponential(perDay: mu)
            case (nil, let d?): s.repairDelay = .fixed(hours: d)
            case (nil, nil): throw ScenarioError(path: "$.repair", message: "give rate_per_day (each repair takes an exponential time of that rate) or delay_hours (a fixed time)")
            case (_?, _?): throw ScenarioError(path: "$.repair", message: "give rate_per_day or delay_hours, not both")
            }
        } else {
            switch try r.string("repair") {
            case nil, "on": s.repair = true
            case "off": s.repair = false
            case let other?: throw ScenarioError(path: "$.repair", message: "\"\(other)\" is not on or off (or an object {\"rate_per_day\": μ} or {\"delay_hours\": d})")
            }
        }
        s.warmupDays = try r.number("warmup_days", in: 0...3650) ?? s.warmupDays
        guard s.warmupDays < s.durationDays else {
            throw ScenarioError(path: "$.warmup_days", message: "\(s.warmupDays) must be below duration_days (\(s.durationDays))")
        }
        if var v = try r.object("validate") {
            let names = ValidationSpec.Model.allCases.map(\.rawValue).joined(separator: ", ")
            guard let name = try v.string("model") else {
                throw ScenarioError(path: "$.validate.model", message: "required (one of \(names))")
            }
            guard let model = ValidationSpec.Model(rawValue: name) else {
                throw ScenarioError(path: "$.validate.model", message: "\"\(name)\" is not one of \(names)")
            }
            s.validation = ValidationSpec(model: model, runs: try v.int("runs", in: 1...1000) ?? 1)
            if let c = try v.int("challenges", in: 1...10_000) {
                guard model == .dropperSurvival else {
                    throw ScenarioError(path: "$.validate.challenges", message: "only for dropper_survival")
                }
                s.validation!.challenges = c
            } else if model == .dropperSurvival {
                throw ScenarioError(path: "$.validate.challenges", message: "required for dropper_survival: how many challenges a shard must pass")
            }
            try v.finish()
        }
        if var c = try r.object("churn") {
            s.online = try c.distribution("online_hours", positive: true)
            s.offline = try c.distribution("offline_hours", positive: true) ?? s.offline
            s.departuresPerDay = try c.number("departures_per_day", in: 0...1) ?? 0
            s.diskFailuresPerDay = try c.number("disk_failures_per_day", in: 0...1) ?? 0
            s.loss = try c.number("loss", in: 0...0.5) ?? 0
            s.correlated = try c.faults("correlated")
            s.partitions = try c.faults("partitions")
            try c.finish()
        }
        if var a = try r.object("adversaries") {
            for (key, kind) in adversaryKeys {
                if let f = try a.number(key, in: 0...0.5) { s.adversaries[kind] = f }
            }
            s.dropFraction = try a.number("drop_fraction", in: 0.000_001...1) ?? 1
            try a.finish()
            let total = s.adversaries.values.reduce(0, +)
            guard total <= 0.5 else { throw ScenarioError(path: "$.adversaries", message: "fractions add up to \(total), at most 0.5") }
        }
        if var c = try r.object("clocks") {
            s.clockOffsetS = try c.distribution("offset_s", positive: false, max: 86_400)
            s.clockDriftPpm = try c.distribution("drift_ppm", positive: false, max: 1_000)
            try c.finish()
        }
        if var p = try r.object("protocol") {
            s.maxClockSkewS = try p.number("max_clock_skew_s", in: 0...3599) ?? s.maxClockSkewS
            s.k = try p.int("k", in: 1...ProtocolLimits.slotsPerVolumeMax) ?? s.k
            s.n = try p.int("n", in: 1...ProtocolLimits.slotsPerVolumeMax) ?? s.n
            guard s.k < s.n else { throw ScenarioError(path: "$.protocol.n", message: "n (\(s.n)) must exceed k (\(s.k))") }
            s.segmentsPerShard = try p.int("segments_per_shard", in: 1...4096) ?? s.segmentsPerShard
            s.challengeIntervalHours = try p.number("challenge_interval_hours", in: 0.1...8760) ?? s.challengeIntervalHours
            s.heartbeatMinutes = try p.number("heartbeat_minutes", in: 1...1440) ?? s.heartbeatMinutes
            s.uptimeWindowHours = try p.number("uptime_window_hours", in: 1...8760) ?? s.uptimeWindowHours
            s.uptimeThreshold = try p.number("uptime_threshold", in: 0...1) ?? s.uptimeThreshold
            s.graceDays = try p.number("grace_days", in: 0...365) ?? s.graceDays
            s.repairTrigger = try p.int("repair_trigger", in: 1...ProtocolLimits.slotsPerVolumeMax)
            if let t = s.repairTrigger, t <= s.k || t > s.n {
                throw ScenarioError(path: "$.protocol.repair_trigger", message: "\(t) must be in k+1...n (\(s.k + 1)...\(s.n))")
            }
            s.repairIntervalHours = try p.number("repair_interval_hours", in: 0.1...8760) ?? s.repairIntervalHours
            s.reciprocityRatio = try p.number("reciprocity_ratio", in: 0.01...100) ?? s.reciprocityRatio
            s.contractTermDays = try p.number("contract_term_days", in: 1...3650) ?? s.contractTermDays
            s.blindRepairAfterHours = try p.number("blind_repair_after_hours", in: 1...87600) ?? s.blindRepairAfterHours
            s.warnStrikes = try p.int("warn_strikes", in: 1...100) ?? s.warnStrikes
            s.excludeStrikes = try p.int("exclude_strikes", in: 1...100) ?? s.excludeStrikes
            guard s.excludeStrikes >= s.warnStrikes else {
                throw ScenarioError(path: "$.protocol.exclude_strikes", message: "must be at least warn_strikes (\(s.warnStrikes))")
            }
            try p.finish()
        }
        let dropped = s.dropFraction * Double(s.segmentsPerShard)
        guard abs(dropped - dropped.rounded()) < 1e-9 else {
            throw ScenarioError(path: "$.adversaries.drop_fraction",
                                message: "\(s.dropFraction) × segments_per_shard (\(s.segmentsPerShard)) = \(dropped) segments: give a multiple of 1/\(s.segmentsPerShard) (a dropper drops whole segments)")
        }
        // A challenge names a segment by a 32-bit length: a synthetic shard of pack_mib / k
        // in segments_per_shard segments must give segments under 4 GiB.
        let shardBytes = (UInt64(s.packMiB * 1024 * 1024) + UInt64(s.k) - 1) / UInt64(s.k)
        let segmentBytes = (shardBytes + UInt64(s.segmentsPerShard) - 1) / UInt64(s.segmentsPerShard)
        guard segmentBytes <= UInt64(UInt32.max) else {
            let fewest = (shardBytes + UInt64(UInt32.max) - 1) / UInt64(UInt32.max)
            throw ScenarioError(path: "$.protocol.segments_per_shard",
                                message: "shards of \(shardBytes) bytes (pack_mib / k) in \(s.segmentsPerShard) segments are segments of \(segmentBytes) bytes, more than the 4 GiB a challenge can name: give at least \(fewest) segments per shard, a smaller pack_mib or a larger k")
        }
        // An owner never holds its own shards and no node holds two of one pack.
        guard s.nodes > s.n else {
            throw ScenarioError(path: "$.nodes", message: "\(s.nodes) nodes cannot place n = \(s.n) shards of a pack on different nodes other than its owner: give at least \(s.n + 1) nodes, or a smaller n")
        }
        let slots = s.uptimeWindowHours * 60 / s.heartbeatMinutes
        guard slots >= 1, slots <= Double(ProtocolLimits.uptimeSlotsMax) else {
            throw ScenarioError(path: "$.protocol.uptime_window_hours",
                                message: "window / heartbeat gives \(Int(slots)) slots, must be 1...\(ProtocolLimits.uptimeSlotsMax)")
        }
        if var e = try r.object("expect") {
            s.expect.packsLostMax = try e.int("packs_lost_max", in: 0...Int(Int32.max))
            s.expect.restoreSuccessMin = try e.number("restore_success_min", in: 0...1)
            s.expect.unconvergedMax = try e.int("unconverged_max", in: 0...Int(Int32.max))
            s.expect.repairsMin = try e.int("repairs_min", in: 0...Int(Int32.max))
            s.expect.blindRepairsMin = try e.int("blind_repairs_min", in: 0...Int(Int32.max))
            s.expect.unrecoverableMax = try e.int("unrecoverable_max", in: 0...Int(Int32.max))
            let fields: [(String, ClosedRange<Double>, WritableKeyPath<Expectations, [String: Double]>)] = [
                ("detection_hours_max", 0...1_000_000, \.detectionHoursMax),
                ("detected_fraction_min", 0...1, \.detectedFractionMin),
                ("detectable_caught_within_hours", 0...1_000_000, \.detectableCaughtWithinHours),
                ("detectable_caught_fraction_min", 0...1, \.detectableCaughtFractionMin),
            ]
            for (field, range, target) in fields {
                guard var d = try e.object(field) else { continue }
                for (key, kind) in adversaryKeys {
                    guard let v = try d.number(key, in: range) else { continue }
                    s.expect[keyPath: target][kindName(kind)] = v
                }
                try d.finish()
            }
            try e.finish()
        }
        try r.finish()
        return s
    }
}

/// Reads one JSON object by key, remembering which keys were read so that `finish` can
/// reject unknown ones; every error names the JSON path.
struct Fields {
    let path: String
    let fields: [(String, JSONValue)]
    var used: [String] = []

    init(_ value: JSONValue, path: String) throws(ScenarioError) {
        guard case .object(let f) = value else {
            throw ScenarioError(path: path, message: "expected an object, found \(value.typeName)")
        }
        self.path = path
        fields = f
    }

    mutating func take(_ key: String) -> JSONValue? {
        used.append(key)
        return fields.first { $0.0 == key }?.1
    }

    func finish() throws(ScenarioError) {
        for (key, _) in fields where !used.contains(key) {
            throw ScenarioError(path: JSONPath.member(path, key), message: "unknown key")
        }
    }

    mutating func number(_ key: String, in range: ClosedRange<Double>) throws(ScenarioError) -> Double? {
        guard let v = take(key) else { return nil }
        guard case .number(let x) = v else {
            throw ScenarioError(path: JSONPath.member(path, key), message: "expected a number, found \(v.typeName)")
        }
        guard range.contains(x) else {
            throw ScenarioError(path: JSONPath.member(path, key), message: "\(x) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return x
    }

    mutating func int(_ key: String, required: Bool = false, in range: ClosedRange<Int>) throws(ScenarioError) -> Int? {
        guard let v = take(key) else {
            if required { throw ScenarioError(path: JSONPath.member(path, key), message: "required") }
            return nil
        }
        guard case .number(let x) = v else {
            throw ScenarioError(path: JSONPath.member(path, key), message: "expected an integer, found \(v.typeName)")
        }
        guard abs(x) < 1e15 else {
            throw ScenarioError(path: JSONPath.member(path, key), message: "\(x) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        guard x.rounded() == x else {
            throw ScenarioError(path: JSONPath.member(path, key), message: "expected an integer, found the fraction \(x)")
        }
        guard range.contains(Int(x)) else {
            throw ScenarioError(path: JSONPath.member(path, key), message: "\(Int(x)) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(x)
    }

    mutating func string(_ key: String) throws(ScenarioError) -> String? {
        guard let v = take(key) else { return nil }
        guard case .string(let s) = v else {
            throw ScenarioError(path: JSONPath.member(path, key), message: "expected a string, found \(v.typeName)")
        }
        return s
    }

    mutating func object(_ key: String) throws(ScenarioError) -> Fields? {
        guard let v = take(key) else { return nil }
        return try Fields(v, path: JSONPath.member(path, key))
    }

    /// A distribution object, or a bare number for `{"dist": "fixed", "value": x}`. `max`
    /// bounds every value and scale it names (draws past it are cut there by the caller):
    /// a clock a week off is refused, not silently made a day off.
    mutating func distribution(_ key: String, positive: Bool, max big: Double = 1e12) throws(ScenarioError) -> Distribution? {
        let lower = positive ? Double.leastNonzeroMagnitude : 0
        if case .number(let x)? = fields.first(where: { $0.0 == key })?.1 {
            used.append(key)
            guard x >= lower, x <= big else {
                throw ScenarioError(path: JSONPath.member(path, key), message: "\(x) is out of range \(positive ? "above 0" : "0")...\(big)")
            }
            return .fixed(x)
        }
        guard let v = fields.first(where: { $0.0 == key })?.1 else { return nil }
        guard case .object = v else {
            throw ScenarioError(path: JSONPath.member(path, key), message: "expected a number or a distribution object such as {\"dist\": \"uniform\", \"min\": 1, \"max\": 5}, found \(v.typeName)")
        }
        guard var d = try object(key) else { return nil }
        let at = d.path
        let kind = try d.string("dist") ?? "fixed"
        let result: Distribution
        switch kind {
        case "fixed":
            guard let v = try d.number("value", in: lower...big) else { throw ScenarioError(path: "\(at).value", message: "required") }
            result = .fixed(v)
        case "uniform":
            guard let lo = try d.number("min", in: lower...big) else { throw ScenarioError(path: "\(at).min", message: "required") }
            guard let hi = try d.number("max", in: lower...big) else { throw ScenarioError(path: "\(at).max", message: "required") }
            guard lo <= hi else { throw ScenarioError(path: "\(at).max", message: "\(hi) is below min \(lo)") }
            result = .uniform(min: lo, max: hi)
        case "exponential":
            guard let m = try d.number("mean", in: Double.leastNonzeroMagnitude...big) else {
                throw ScenarioError(path: "\(at).mean", message: "required")
            }
            result = .exponential(mean: m)
        case "weibull":
            guard let k = try d.number("shape", in: 0.05...20) else { throw ScenarioError(path: "\(at).shape", message: "required") }
            guard let l = try d.number("scale", in: Double.leastNonzeroMagnitude...big) else {
                throw ScenarioError(path: "\(at).scale", message: "required")
            }
            result = .weibull(shape: k, scale: l)
        case "lognormal":
            guard let m = try d.number("median", in: Double.leastNonzeroMagnitude...big) else {
                throw ScenarioError(path: "\(at).median", message: "required")
            }
            result = .lognormal(median: m, sigma: try d.number("sigma", in: 0...5) ?? 1)
        case "choice":
            guard case .array(let items)? = d.take("values"), !items.isEmpty else {
                throw ScenarioError(path: "\(at).values", message: "expected a non-empty array of numbers")
            }
            var values = [Double]()
            for (i, item) in items.enumerated() {
                guard case .number(let x) = item, x >= lower, x <= big else {
                    throw ScenarioError(path: "\(at).values[\(i)]", message: "expected a number in \(lower)...\(big)")
                }
                values.append(x)
            }
            result = .choice(values)
        default:
            throw ScenarioError(path: "\(at).dist", message: "unknown distribution \"\(kind)\" (fixed, uniform, exponential, weibull, lognormal, choice)")
        }
        try d.finish()
        return result
    }

    mutating func faults(_ key: String) throws(ScenarioError) -> [TimedFault] {
        guard let v = take(key) else { return [] }
        guard case .array(let items) = v else {
            throw ScenarioError(path: JSONPath.member(path, key), message: "expected an array, found \(v.typeName)")
        }
        var out = [TimedFault]()
        for (i, item) in items.enumerated() {
            var f = try Fields(item, path: JSONPath.element(JSONPath.member(path, key), i))
            guard let at = try f.number("at_day", in: 0...3650),
                  let fraction = try f.number("fraction", in: 0...1),
                  let hours = try f.number("duration_hours", in: 0...87600)
            else { throw ScenarioError(path: f.path, message: "needs at_day, fraction and duration_hours") }
            try f.finish()
            out.append(TimedFault(atDays: at, fraction: fraction, durationHours: hours))
        }
        return out
    }
}
