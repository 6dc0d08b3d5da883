import Foundation

/// The rows of sweep.csv: one per run, `cell,replicate,seed`, the swept members (one column
/// each, named by path, the value as compact JSON), `trace_hash`, then every metric of
/// `SimulationResult` under its metrics.json name. Nothing depends on the machine or the
/// order runs finished in (no wall time), so a sweep run whole, in slices or on other
/// machines gives the same bytes. Empty fields are nulls (no restore finished, ...).
public enum SweepRows {
    public typealias Metric = (name: String, value: @Sendable (SimulationResult) -> String)

    public static let metrics: [Metric] = {
        var m: [Metric] = [
            ("nodes", { "\($0.nodes)" }),
            ("sim_days", { number($0.simDays) }),
            ("events", { "\($0.events)" }),
            ("messages", { "\($0.messages)" }),
            ("messages_dropped", { "\($0.messagesDropped)" }),
            ("messages_refused_clock_skew", { "\($0.messagesRefusedClockSkew)" }),
            ("packs_total", { "\($0.packsTotal)" }),
            ("packs_lost", { "\($0.packsLost)" }),
            ("packs_reported_lost", { "\($0.packsReportedLost)" }),
            ("volumes_total", { "\($0.volumesTotal)" }),
            ("volumes_lost", { "\($0.volumesLost)" }),
            ("contracts_active", { "\($0.contractsActive)" }),
            ("contracts_per_owner_max", { "\($0.contractsPerOwnerMax)" }),
            ("restore_attempts", { "\($0.restoreAttempts)" }),
            // Counted, so pooling over runs needs no rounding of rates.
            ("restore_successes", { r in r.restoreSuccessRate.map { "\(Int(($0 * Double(r.restoreAttempts)).rounded()))" } ?? "0" }),
            ("restore_success_rate", { number($0.restoreSuccessRate) }),
            ("restore_hours_mean", { number($0.restoreHoursMean) }),
            ("restores_unfinished", { "\($0.restoresUnfinished)" }),
            ("restore_within_6min_rate", { number($0.restoreWithin6MinRate) }),
            ("restore_bytes_wasted", { "\($0.restoreBytesWasted)" }),
            ("repair_bytes", { "\($0.repairBytes)" }),
            ("repair_bytes_per_node_day", { number($0.repairBytesPerNodeDay) }),
            ("storage_overhead", { number($0.storageOverhead) }),
            ("pack_availability", { number($0.packAvailability) }),
            ("pack_availability_samples", { "\($0.availabilitySamples.count)" }),
        ]
        for (_, fault) in Scenario.adversaryKeys {
            let kind = Scenario.kindName(fault)
            let d: @Sendable (SimulationResult) -> Detection = { $0.detection[kind] ?? Detection() }
            let perKind: [Metric] = [
                ("\(kind)_total", { "\(d($0).total)" }),
                ("\(kind)_misbehaved", { "\(d($0).misbehaved)" }),
                ("\(kind)_detected", { "\(d($0).detected)" }),
                ("\(kind)_detection_mean_hours", { number(d($0).meanHours) }),
                ("\(kind)_detection_max_hours", { number(d($0).maxHours) }),
            ]
            m += perKind
        }
        let tail: [Metric] = [
            ("contracts_broken", { "\($0.contractsBroken)" }),
            ("repairs_started", { "\($0.repairsStarted)" }),
            ("repairs_completed", { "\($0.repairsCompleted)" }),
            ("blind_repairs_ordered", { "\($0.blindRepairsOrdered)" }),
            ("blind_shards_repaired", { "\($0.blindShardsRepaired)" }),
            ("unconverged_packs", { "\($0.unconvergedPacks)" }),
            ("packs_below_n", { "\($0.packsBelowN)" }),
            ("departures", { "\($0.departed)" }),
            ("disk_failures", { "\($0.diskFailures)" }),
            ("warned", { "\($0.warned)" }),
            ("excluded", { "\($0.excluded)" }),
            ("invariant_violations", { "\($0.violations.count)" }),
            ("expectation_failures", { "\($0.expectationFailures.count)" }),
        ]
        m += tail
        return m
    }()

    public static func header(_ plan: SweepPlan) -> [String] {
        ["cell", "replicate", "seed"] + plan.columns + ["trace_hash"] + metrics.map(\.name)
    }

    public static func row(_ plan: SweepPlan, run j: Int, result r: SimulationResult) -> [String] {
        let (cell, replicate) = plan.run(j)
        return ["\(cell)", "\(replicate)", "\(r.seed)"] + plan.cells[cell].values.map(\.compact) + [r.traceHash]
            + metrics.map { $0.value(r) }
    }

    /// Ten significant digits: enough for every rate and mean, the same text everywhere.
    static func number(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "" }
        return x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%.10g", x)
    }

    /// sweep.csv: the header, then the rows sorted by cell and replicate.
    public static func csv(_ plan: SweepPlan, rows: [[String]]) -> String {
        let sorted = rows.sorted { (Int($0[0]) ?? 0, Int($0[1]) ?? 0) < (Int($1[0]) ?? 0, Int($1[1]) ?? 0) }
        return ([header(plan)] + sorted).map(CSV.line).joined()
    }
}
