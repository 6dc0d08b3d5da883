import CairnCore
import CairnWire
import Foundation

/// One validation scenario compared with its closed form: expected, simulated, the
/// tolerance of a 99.9% interval from the number of independent samples, and the seeds.
public struct ValidationOutcome: Sendable {
    public var scenario: String
    public var model: ValidationSpec.Model
    public var expected: Double
    public var simulated: Double
    public var tolerance: Double
    /// Independent observations behind `simulated` (samples or runs).
    public var samples: Int
    public var seeds: [UInt64]
    public var passed: Bool { abs(simulated - expected) <= tolerance }
}

/// A model that cannot be checked, or a run that did not finish.
public struct ValidationError: Error, Sendable, CustomStringConvertible {
    public var scenario: String
    public var message: String
    public var description: String { "\(scenario): \(message)" }
}

/// Runs validation scenarios and compares them with `ClosedForms`.
///
/// Tolerances: `pack_availability` samples, taken far apart compared with a session, are
/// independent draws whose mean, given the placement, is exactly P[Binomial(n, p) ≥ k]
/// (every pack's n holders are distinct nodes, each online with probability p); the interval
/// is z·s/√S over all S samples of all runs. A run's loss fraction is one draw (packs share
/// holders, so they are not independent of each other), so loss uses the R runs' spread:
/// t(R−1)·s/√R (with repair too: `loss_with_repair`). A dropper's shards are independent samples (every challenge draws its
/// pack and segment afresh, and holders are always online), so `dropper_survival` (0 or 1
/// per shard) and `dropper_detection_hours` use z·s/√S over all shards of all runs. Each
/// has a floor of one pack's worth so that a spread of zero cannot pass nothing but the
/// exact value.
public enum Validation {
    /// Two-sided 99.9%.
    public static let confidence = 0.999

    public static func expected(_ s: Scenario) throws(ValidationError) -> Double {
        guard let spec = s.validation else { throw ValidationError(scenario: s.name, message: "no \"validate\" object") }
        guard s.repair == false || spec.model == .lossWithRepair else {
            throw ValidationError(scenario: s.name, message: "a closed form here assumes \"repair\": \"off\"")
        }
        switch spec.model {
        case .lossWithRepair:
            return try repairChain(s).lossProbability(from: s.n, days: s.durationDays - s.warmupDays)
        case .packAvailability:
            guard case .exponential(let on)? = s.online, case .exponential(let off) = s.offline else {
                throw ValidationError(scenario: s.name, message: "pack_availability needs exponential churn.online_hours and churn.offline_hours")
            }
            return ClosedForms.availability(k: s.k, n: s.n, onHours: on, offHours: off)
        case .lossWithoutRepair:
            guard s.online == nil, s.diskFailuresPerDay == 0, s.departuresPerDay > 0 else {
                throw ValidationError(scenario: s.name, message: "loss_without_repair needs departures_per_day > 0, no sessions and no disk failures")
            }
            return ClosedForms.lossWithoutRepair(k: s.k, n: s.n, perDay: s.departuresPerDay, days: s.durationDays - s.warmupDays)
        case .dropperSurvival, .dropperDetectionHours:
            guard (s.adversaries[.missing] ?? 0) > 0, s.dropFraction < 1, s.online == nil, s.departuresPerDay == 0,
                  s.diskFailuresPerDay == 0, s.loss == 0, s.correlated.isEmpty, s.partitions.isEmpty
            else {
                throw ValidationError(scenario: s.name, message: "\(spec.model.rawValue) needs adversaries.droppers > 0 with drop_fraction below 1, nodes always online (no sessions, departures, disk failures, loss, outages or partitions), so that every challenge reaches its holder")
            }
            let g = Simulation.geometry(s)
            let q = ClosedForms.dropperHitProbability(segments: Int(g.segments), dropped: Int((s.dropFraction * Double(g.segments)).rounded()))
            return spec.model == .dropperSurvival
                ? ClosedForms.dropperSurvival(challenges: spec.challenges, hit: q)
                : ClosedForms.dropperDetectionHours(intervalHours: s.challengeIntervalHours, hit: q)
        }
    }

    /// The birth–death chain a `loss_with_repair` scenario describes: holders leave at
    /// `departures_per_day`, each missing shard comes back at `repair.rate_per_day`.
    public static func repairChain(_ s: Scenario) throws(ValidationError) -> RepairChain {
        guard s.repair, case .exponential(let mu)? = s.repairDelay else {
            throw ValidationError(scenario: s.name, message: "loss_with_repair needs \"repair\": {\"rate_per_day\": μ}")
        }
        guard s.departuresPerDay > 0, s.online == nil, s.diskFailuresPerDay == 0, s.adversaries.values.allSatisfy({ $0 == 0 }),
              s.loss == 0, s.correlated.isEmpty, s.partitions.isEmpty, (s.repairTrigger ?? s.n) == s.n
        else {
            throw ValidationError(scenario: s.name, message: "loss_with_repair needs departures_per_day > 0, nodes otherwise always online, no disk failures, adversaries, loss, outages or partitions, and repair_trigger n (the chain repairs every missing shard; below a lower trigger the protocol keeps repairs in flight above it, which the chain does not model)")
        }
        return RepairChain(k: s.k, n: s.n, failureRate: s.departuresPerDay, repairRate: mu)
    }

    /// Runs `s` (its `validate.runs` seeds from `seed`) and compares it with the closed form
    /// of `expectation` (by default `s` itself; a test passes a wrong one to see it fail).
    public static func run(_ s: Scenario, seed: UInt64, expectation: Scenario? = nil) throws(ValidationError) -> ValidationOutcome {
        let want = try expected(expectation ?? s)
        let spec = s.validation!
        var values = [Double]()
        var seeds = [UInt64]()
        var packs = 1
        for r in 0..<spec.runs {
            let runSeed = seed &+ UInt64(r)
            seeds.append(runSeed)
            let result: SimulationResult
            do { result = try Simulation(scenario: s, seed: runSeed).run() } catch {
                throw ValidationError(scenario: s.name, message: "\(error)")
            }
            guard result.violations.isEmpty else {
                throw ValidationError(scenario: s.name, message: "seed \(runSeed): \(result.violations[0])")
            }
            guard s.repair || (result.repairsCompleted == 0 && result.blindShardsRepaired == 0) else {
                throw ValidationError(scenario: s.name, message: "seed \(runSeed): repairs ran with repair off")
            }
            packs = max(1, result.packsTotal)
            switch spec.model {
            case .packAvailability: values += result.availabilitySamples
            case .lossWithoutRepair: values.append(result.packsTotal == 0 ? 0 : Double(result.packsLost) / Double(result.packsTotal))
            case .lossWithRepair: values.append(result.packsTotal == 0 ? 0 : Double(result.packsEverLost) / Double(result.packsTotal))
            case .dropperSurvival, .dropperDetectionHours:
                // A shard whose challenges stopped early (the run ended, or its owner gave the
                // volume up as lost) would cut the sample short in a way that favours early
                // failures: none may.
                let open = result.dropperShards.filter {
                    spec.model == .dropperSurvival ? $0.survived(spec.challenges) == nil : $0.failedAt == nil
                }.count
                guard open == 0 else {
                    throw ValidationError(scenario: s.name, message: "seed \(runSeed): challenges stopped early on \(open) of \(result.dropperShards.count) dropper shards (run ended, or volume lost): lengthen duration_days, or make losses impossible (smaller k)")
                }
                values += spec.model == .dropperSurvival
                    ? result.dropperShards.map { $0.survived(spec.challenges)! ? 1 : 0 }
                    : result.dropperShards.map { Double($0.failedAt! - $0.storedAt) / 3_600_000 }
            }
        }
        guard values.count >= 2 else {
            throw ValidationError(scenario: s.name, message: "\(values.count) samples: a spread needs at least two (more runs, or samples after warmup_days)")
        }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
        let q = quantile(degrees: values.count - 1)
        let tolerance = q * max(variance.squareRoot(), 1 / Double(packs)) / Double(values.count).squareRoot()
        return ValidationOutcome(scenario: s.name, model: spec.model, expected: want, simulated: mean, tolerance: tolerance,
                                 samples: values.count, seeds: seeds)
    }

    /// The two-sided `confidence` quantile of Student's t with `degrees` degrees of freedom
    /// (Cornish–Fisher expansion around the normal one; within 1% from 5 degrees on).
    public static func quantile(degrees: Int) -> Double {
        let z = ClosedForms.normalQuantile(1 - (1 - confidence) / 2)
        let v = Double(max(degrees, 1))
        let z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z
        return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v)
            + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v)
    }

    /// The table `cairn simulate --validate` prints.
    public static func table(_ outcomes: [ValidationOutcome]) -> String {
        var lines = ["scenario                         model                   expected   simulated  tolerance  samples  result  seeds"]
        for o in outcomes {
            let seeds = o.seeds.count == 1 ? "\(o.seeds[0])" : "\(o.seeds[0])..+\(o.seeds.count - 1)"
            lines.append(o.scenario.padding(toLength: 32, withPad: " ", startingAt: 0) + " "
                + o.model.rawValue.padding(toLength: 23, withPad: " ", startingAt: 0) + " "
                + String(format: "%9.5f  %9.5f  %9.5f  %7d  %@  %@", o.expected, o.simulated, o.tolerance, o.samples,
                         o.passed ? "PASS  " : "FAIL  ", seeds))
        }
        return lines.joined(separator: "\n")
    }
}
