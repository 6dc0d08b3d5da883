import Foundation

/// The per-cell summary of a sweep (summary.csv and the table `cairn simulate` prints),
/// computed from sweep.csv's rows only, so a merged sweep summarises exactly as a whole one.
///
/// Durability is packs lost per million packs, pooled over the cell's runs, with a 95% Wilson
/// score interval over the pack count: it behaves at 0 losses (upper bound ≈ 3.84 / packs)
/// and near 0 and 1, where the normal interval does not. Packs of one run share holders, so
/// they are not independent: the interval is a floor on the real uncertainty, and
/// `lost_per_million_run_sd` (the spread between runs) shows how much more there is.
/// Restore success is pooled the same way, with its Wilson interval over restores.
public enum SweepSummary {
    /// The two-sided 95% normal quantile.
    public static let z95 = 1.959963984540054

    /// The Wilson score interval for `hits` of `trials` (nil for no trials).
    public static func wilson(_ hits: Int, of trials: Int, z: Double = z95) -> (low: Double, high: Double)? {
        guard trials > 0 else { return nil }
        let n = Double(trials), p = Double(hits) / n, z2 = z * z
        let denominator = 1 + z2 / n
        let center = (p + z2 / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denominator
        // At 0 or all hits the bound is exactly 0 or 1 (rounding would leave 1e-18).
        return (hits == 0 ? 0 : max(0, center - half), hits == trials ? 1 : min(1, center + half))
    }

    public struct Cell: Sendable {
        public var cell: Int
        public var runs = 0
        public var packs = 0
        public var packsLost = 0
        public var lostPerMillionRuns: [Double] = []
        public var restoreAttempts = 0
        public var restoreSuccesses = 0
        public var availability: [Double] = []
        public var storageOverhead: [Double] = []
        public var repairPerNodeDay: [Double] = []
        /// Per adversary kind: total, detected, sum of detected × mean hours, max hours.
        public var detection: [(total: Int, detected: Int, hoursSum: Double, max: Double?)] =
            Array(repeating: (0, 0, 0, nil), count: Scenario.adversaryKeys.count)
        public var violations = 0
        public var expectationFailures = 0
    }

    /// Per cell present in `rows` (sweep.csv records without the header), in cell order.
    public static func cells(_ plan: SweepPlan, rows: [[String]]) -> [Cell] {
        let header = SweepRows.header(plan)
        var column = [String: Int]()
        for (i, name) in header.enumerated() { column[name] = i }
        func int(_ row: [String], _ name: String) -> Int { Int(row[column[name]!]) ?? 0 }
        func double(_ row: [String], _ name: String) -> Double? { Double(row[column[name]!]) }
        var byCell = [Int: Cell]()
        for row in rows {
            let c = int(row, "cell")
            var s = byCell[c] ?? Cell(cell: c)
            s.runs += 1
            let packs = int(row, "packs_total"), lost = int(row, "packs_lost")
            s.packs += packs
            s.packsLost += lost
            if packs > 0 { s.lostPerMillionRuns.append(Double(lost) / Double(packs) * 1e6) }
            s.restoreAttempts += int(row, "restore_attempts")
            s.restoreSuccesses += int(row, "restore_successes")
            if let a = double(row, "pack_availability") { s.availability.append(a) }
            if let o = double(row, "storage_overhead") { s.storageOverhead.append(o) }
            if let b = double(row, "repair_bytes_per_node_day") { s.repairPerNodeDay.append(b) }
            for (i, (_, fault)) in Scenario.adversaryKeys.enumerated() {
                let kind = Scenario.kindName(fault)
                var d = s.detection[i]
                d.total += int(row, "\(kind)_total")
                let detected = int(row, "\(kind)_detected")
                d.detected += detected
                d.hoursSum += Double(detected) * (double(row, "\(kind)_detection_mean_hours") ?? 0)
                if let m = double(row, "\(kind)_detection_max_hours") { d.max = max(d.max ?? m, m) }
                s.detection[i] = d
            }
            s.violations += int(row, "invariant_violations")
            s.expectationFailures += int(row, "expectation_failures")
            byCell[c] = s
        }
        return byCell.keys.sorted().map { byCell[$0]! }
    }

    static func mean(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count) }

    static func sd(_ xs: [Double]) -> Double? {
        guard xs.count >= 2, let m = mean(xs) else { return nil }
        return (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)).squareRoot()
    }

    public static func header(_ plan: SweepPlan) -> [String] {
        var h = ["cell"] + plan.columns + [
            "k", "n", "runs", "packs", "packs_lost", "lost_per_million", "lost_per_million_lo95", "lost_per_million_hi95",
            "lost_per_million_run_sd", "restore_attempts", "restore_success", "restore_success_lo95", "restore_success_hi95",
            "pack_availability", "storage_overhead_nk", "storage_overhead", "repair_bytes_per_node_day",
            "repair_bytes_per_node_day_sd",
        ]
        for (_, fault) in Scenario.adversaryKeys {
            let kind = Scenario.kindName(fault)
            h += ["\(kind)_total", "\(kind)_detected", "\(kind)_detection_mean_hours", "\(kind)_detection_max_hours"]
        }
        return h + ["invariant_violations", "expectation_failures"]
    }

    public static func csv(_ plan: SweepPlan, rows: [[String]]) -> String {
        let n = SweepRows.number
        var lines = [CSV.line(header(plan))]
        for s in cells(plan, rows: rows) {
            let cell = plan.cells[s.cell]
            let loss = wilson(s.packsLost, of: s.packs)
            let restore = wilson(s.restoreSuccesses, of: s.restoreAttempts)
            var f = ["\(s.cell)"] + cell.values.map(\.compact) + [
                "\(cell.scenario.k)", "\(cell.scenario.n)", "\(s.runs)", "\(s.packs)", "\(s.packsLost)",
                n(s.packs > 0 ? Double(s.packsLost) / Double(s.packs) * 1e6 : nil), n(loss.map { $0.low * 1e6 }),
                n(loss.map { $0.high * 1e6 }), n(sd(s.lostPerMillionRuns)), "\(s.restoreAttempts)",
                n(s.restoreAttempts > 0 ? Double(s.restoreSuccesses) / Double(s.restoreAttempts) : nil), n(restore?.low),
                n(restore?.high), n(mean(s.availability)), n(Double(cell.scenario.n) / Double(cell.scenario.k)),
                n(mean(s.storageOverhead)), n(mean(s.repairPerNodeDay)), n(sd(s.repairPerNodeDay)),
            ]
            for d in s.detection {
                f += ["\(d.total)", "\(d.detected)", n(d.detected > 0 ? d.hoursSum / Double(d.detected) : nil), n(d.max)]
            }
            f += ["\(s.violations)", "\(s.expectationFailures)"]
            lines.append(CSV.line(f))
        }
        return lines.joined()
    }

    /// The table printed after a sweep: one line per cell.
    public static func table(_ plan: SweepPlan, rows: [[String]]) -> String {
        var kinds = [Int]()
        let cells = cells(plan, rows: rows)
        for i in Scenario.adversaryKeys.indices where cells.contains(where: { $0.detection[i].total > 0 }) { kinds.append(i) }
        var head = ["cell"] + plan.columns + ["runs", "lost/M [95% CI]", "restore", "avail", "n/k", "stored", "repair/node/day"]
        head += kinds.map { "detect \(Scenario.kindName(Scenario.adversaryKeys[$0].1)) h" }
        var table = [head]
        for s in cells {
            let cell = plan.cells[s.cell]
            let loss = wilson(s.packsLost, of: s.packs)
            let lostText = s.packs > 0
                ? String(format: "%.0f [%.0f, %.0f]", Double(s.packsLost) / Double(s.packs) * 1e6, loss!.low * 1e6, loss!.high * 1e6)
                : "- (no packs)"
            var line = ["\(s.cell)"] + cell.values.map(\.compact) + [
                "\(s.runs)", lostText,
                s.restoreAttempts > 0 ? String(format: "%.4f", Double(s.restoreSuccesses) / Double(s.restoreAttempts)) : "-",
                mean(s.availability).map { String(format: "%.4f", $0) } ?? "-",
                String(format: "%.2f", Double(cell.scenario.n) / Double(cell.scenario.k)),
                mean(s.storageOverhead).map { String(format: "%.2f", $0) } ?? "-",
                mean(s.repairPerNodeDay).map(bytes) ?? "-",
            ]
            for i in kinds {
                let d = s.detection[i]
                line.append(d.detected > 0 ? String(format: "%.1f (%d/%d)", d.hoursSum / Double(d.detected), d.detected, d.total) : "- (0/\(d.total))")
            }
            table.append(line)
        }
        var widths = [Int](repeating: 0, count: head.count)
        for line in table { for (i, f) in line.enumerated() { widths[i] = max(widths[i], f.count) } }
        return table.map { line in
            line.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func bytes(_ x: Double) -> String {
        let kib = 1024.0
        if x >= kib * kib * kib { return String(format: "%.2f GiB", x / (kib * kib * kib)) }
        if x >= kib * kib { return String(format: "%.2f MiB", x / (kib * kib)) }
        if x >= kib { return String(format: "%.1f KiB", x / kib) }
        return String(format: "%.0f B", x)
    }
}
