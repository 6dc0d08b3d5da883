import CairnWire
import Foundation

/// Text and files a run produces.
public enum Report {
    public static func options(_ s: Scenario) -> String {
        var adversaries = [String]()
        for (key, kind) in Scenario.adversaryKeys {
            if let f = s.adversaries[kind], f > 0 { adversaries.append("\(key)=\(f)") }
        }
        return """
            scenario=\(s.name) nodes=\(s.nodes) days=\(num(s.durationDays))+\(num(s.convergenceDays)) \
            k=\(s.k) n=\(s.n) repair_trigger=\(s.repairTrigger ?? s.n) challenge_interval_h=\(num(s.challengeIntervalHours)) \
            heartbeat_min=\(num(s.heartbeatMinutes)) uptime_window_h=\(num(s.uptimeWindowHours)) \
            uptime_threshold=\(num(s.uptimeThreshold)) grace_days=\(num(s.graceDays)) \
            reciprocity_ratio=\(num(s.reciprocityRatio)) pack_mib=\(num(s.packMiB)) volume_gib=\(num(s.volumeGiB)) loss=\(num(s.loss)) \
            blind_repair_after_h=\(num(s.blindRepairAfterHours)) departures_per_day=\(num(s.departuresPerDay)) disk_failures_per_day=\(num(s.diskFailuresPerDay)) \
            adversaries=[\(adversaries.joined(separator: ","))] signatures=\(s.ed25519 ? "ed25519" : "digest") \
            repair=\(s.repair ? "on" : "off") warmup_days=\(num(s.warmupDays)) restore_samples=\(s.restoreSamples) restore_patience_h=\(num(s.restorePatienceHours)) \
            clocks=\(s.clockOffsetS == nil && s.clockDriftPpm == nil ? "exact" : "skewed") max_clock_skew_s=\(num(s.maxClockSkewS))
            """
    }

    static func num(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%.6g", x)
    }

    public static func drawProgress(day: Double, of days: Double) {
        let width = 40
        let f = days > 0 ? min(1, day / days) : 1
        let filled = Int(f * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] day \(Int(day))/\(num(days))".utf8))
    }

    public static func table(_ r: SimulationResult, wallSeconds: Double) -> String {
        var rows: [(String, String)] = [
            ("nodes", "\(r.nodes)"),
            ("simulated days", num(r.simDays)),
            ("events", "\(r.events)"),
            ("messages (dropped)", "\(r.messages) (\(r.messagesDropped))"),
            ("refused for clock skew", "\(r.messagesRefusedClockSkew)"),
            ("wall seconds", String(format: "%.2f", wallSeconds)),
            ("packs (lost, reported lost)", "\(r.packsTotal) (\(r.packsLost), \(r.packsReportedLost))"),
            ("volumes (lost)", "\(r.volumesTotal) (\(r.volumesLost))"),
            ("contracts active (most per owner)", "\(r.contractsActive) (\(r.contractsPerOwnerMax))"),
            ("restore success", (r.restoreSuccessRate.map { String(format: "%.4f of %d", $0, r.restoreAttempts) } ?? "- (no restore finished)")
                + (r.restoreHoursMean.map { String(format: ", %.2f h mean", $0) } ?? "")
                + (r.restoresUnfinished > 0 ? ", \(r.restoresUnfinished) unfinished" : "")
                + (r.restoreWithin6MinRate.map { String(format: ", %.4f within 6 min", $0) } ?? "")
                + ", \(r.restoreBytesWasted) bytes wasted"),
            ("repairs started/completed", "\(r.repairsStarted)/\(r.repairsCompleted)"),
            ("blind repairs ordered / shards", "\(r.blindRepairsOrdered) / \(r.blindShardsRepaired)"),
            ("repair bytes per node-day", String(format: "%.0f", r.repairBytesPerNodeDay)),
            ("storage overhead", String(format: "%.3f", r.storageOverhead)),
            ("pack availability", r.packAvailability.map { String(format: "%.4f mean of %d samples", $0, r.availabilitySamples.count) } ?? "-"),
            ("unconverged packs (below n)", "\(r.unconvergedPacks) (\(r.packsBelowN))"),
            ("unrecoverable packs", "\(r.packsUnrecoverable)"),
            ("contracts broken", "\(r.contractsBroken)"),
            ("contracts renewed in place / lapsed", "\(r.contractsRenewed) / \(r.contractsLapsed)"),
            ("departures / disk failures", "\(r.departed) / \(r.diskFailures)"),
            ("warned / excluded", "\(r.warned) / \(r.excluded)"),
        ]
        // Every adversary kind, so readers need not test for keys (total 0: none in the run).
        for (_, fault) in Scenario.adversaryKeys {
            let kind = Scenario.kindName(fault)
            let d = r.detection[kind] ?? Detection()
            let mean = d.meanHours.map { String(format: "%.1f h mean, %.1f h max", $0, d.maxHours ?? 0) } ?? "-"
            rows.append(("detected \(kind)", "\(d.detected)/\(d.misbehaved) misbehaving of \(d.total), \(mean)"))
            let late = d.detectableDelays.max().map { String(format: ", %.1f h max after", $0) } ?? ""
            let open = d.detectableOpenHours.max().map { String(format: ", uncaught for up to %.1f h", $0) } ?? ""
            rows.append(("  detectable \(kind)", "\(d.detectable), caught \(d.detectableDelays.count)\(late)\(open)"))
        }
        rows.append(("invariant violations", "\(r.violations.count)"))
        let w = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    /// metrics.json (keys in a fixed order) and timeseries.csv.
    public static func write(_ r: SimulationResult, wallSeconds: Double, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var detection = [String]()
        // Every adversary kind, so readers need not test for keys (total 0: none in the run).
        for (_, fault) in Scenario.adversaryKeys {
            let kind = Scenario.kindName(fault)
            let d = r.detection[kind] ?? Detection()
            detection.append("""
                    "\(kind)": {"total": \(d.total), "misbehaved": \(d.misbehaved), "detected": \(d.detected), \
                "mean_hours": \(d.meanHours.map { json($0) } ?? "null"), "max_hours": \(d.maxHours.map { json($0) } ?? "null"), \
                "detectable": \(d.detectable), "detectable_caught": \(d.detectableDelays.count), \
                "detectable_max_hours": \(d.detectableDelays.max().map { json($0) } ?? "null")}
                """)
        }
        let metrics = """
            {
              "trace_hash": "\(r.traceHash)",
              "seed": \(r.seed),
              "scenario": \(jsonString(r.scenario)),
              "nodes": \(r.nodes),
              "sim_days": \(json(r.simDays)),
              "events": \(r.events),
              "messages": \(r.messages),
              "messages_dropped": \(r.messagesDropped),
              "messages_refused_clock_skew": \(r.messagesRefusedClockSkew),
              "wall_seconds": \(json(wallSeconds)),
              "packs_total": \(r.packsTotal),
              "packs_lost": \(r.packsLost),
              "packs_reported_lost": \(r.packsReportedLost),
              "volumes_total": \(r.volumesTotal),
              "volumes_lost": \(r.volumesLost),
              "contracts_active": \(r.contractsActive),
              "contracts_per_owner_max": \(r.contractsPerOwnerMax),
              "restore_attempts": \(r.restoreAttempts),
              "restore_success_rate": \(r.restoreSuccessRate.map { json($0) } ?? "null"),
              "restore_hours_mean": \(r.restoreHoursMean.map { json($0) } ?? "null"),
              "restores_unfinished": \(r.restoresUnfinished),
              "restore_within_6min_rate": \(r.restoreWithin6MinRate.map { json($0) } ?? "null"),
              "restore_bytes_wasted": \(r.restoreBytesWasted),
              "repair_bytes": \(r.repairBytes),
              "repair_bytes_per_node_day": \(json(r.repairBytesPerNodeDay)),
              "storage_overhead": \(json(r.storageOverhead)),
              "pack_availability": \(r.packAvailability.map { json($0) } ?? "null"),
              "pack_availability_samples": \(r.availabilitySamples.count),
              "detection_hours": {
            \(detection.joined(separator: ",\n"))
              },
              "contracts_broken": \(r.contractsBroken),
              "contracts_lapsed": \(r.contractsLapsed),
              "contracts_renewed": \(r.contractsRenewed),
              "repairs_started": \(r.repairsStarted),
              "repairs_completed": \(r.repairsCompleted),
              "blind_repairs_ordered": \(r.blindRepairsOrdered),
              "blind_shards_repaired": \(r.blindShardsRepaired),
              "unconverged_packs": \(r.unconvergedPacks),
              "packs_below_n": \(r.packsBelowN),
              "packs_unrecoverable": \(r.packsUnrecoverable),
              "departures": \(r.departed),
              "disk_failures": \(r.diskFailures),
              "warned": \(r.warned),
              "excluded": \(r.excluded),
              "invariant_violations": \(r.violations.count)
            }

            """
        try metrics.write(toFile: dir + "/metrics.json", atomically: false, encoding: .utf8)
        try timeseriesCSV(r).write(toFile: dir + "/timeseries.csv", atomically: false, encoding: .utf8)
    }

    /// timeseries.csv: one line per sample. A sweep writes the same file per run
    /// (`--timeseries`), so both come from here.
    public static func timeseriesCSV(_ r: SimulationResult) -> String {
        var csv = "hours,nodes_online,healthy_shards,repairs_in_flight,packs_lost,messages\n"
        for s in r.timeseries {
            csv += "\(json(s.hours)),\(s.nodesOnline),\(s.healthyShards),\(s.repairsInFlight),\(s.packsLost),\(s.messages)\n"
        }
        return csv
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    static func json(_ x: Double) -> String {
        x.isFinite ? String(format: "%.6g", x) : "null"
    }
}
