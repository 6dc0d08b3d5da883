import CairnCrypto
import Foundation

/// A sweep problem: the JSON path, and for a cell that is not a valid scenario, which cell
/// (its index and swept values) and which sweep entry set the offending value.
public struct SweepError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    /// "cell 3 of 12 (protocol.k=6, protocol.n=5)" when one cell is invalid.
    public var cell: String? = nil
    public init(path: String, message: String, cell: String? = nil) {
        self.path = path
        self.message = message
        self.cell = cell
    }
    public var description: String { (cell.map { "\($0): " } ?? "") + "\(path): \(message)" }
}

/// One swept dimension: a `sweep` entry of the file. Several scenario members set together
/// (`"code"`, or `"churn.online_hours,churn.offline_hours"`) are one axis of tuples.
public struct SweepAxis: Sendable {
    /// Where the entry is in the sweep file: `$.sweep.code`, `$.sweep["protocol.k"]`.
    public let source: String
    /// The scenario members it sets, as keys from the root: `["protocol", "k"]`.
    public let targets: [[String]]
    /// `values[i][t]`: the i-th choice for target t.
    public let values: [[JSONValue]]
    /// Given as `{"from", "to", "step"}` (its values have no path of their own in the file).
    public let isRange: Bool

    public var columns: [String] { targets.map { $0.joined(separator: ".") } }
}

/// One point of the cartesian product: a plain scenario (the base with the swept values
/// set), runnable and printable on its own.
public struct SweepCell: Sendable {
    public let index: Int
    /// Per column of the plan (axes in file order, their targets in order).
    public let values: [JSONValue]
    /// The plain scenario file this cell is: `cairn simulate FILE --expand INDEX` prints it.
    public let json: JSONValue
    public let scenario: Scenario
}

/// A sweep file expanded (Scenarios/README.md, "Sweeps"): a scenario with a `sweep` object
/// whose entries give lists or ranges for any of its members. The cells are the cartesian
/// product of the entries, the first entry varying slowest; each cell runs `seeds` times, with
/// seeds base, base+1, ... (the same for every cell, so cells are compared on common random
/// numbers). Run j is cell j / seeds, replicate j % seeds. Every cell is parsed as an
/// ordinary scenario before anything runs, so an invalid combination is an error up front.
public struct SweepPlan: Sendable {
    public static let seedsMax = 100_000
    public static let cellsMax = 100_000
    public static let runsMax = 1_000_000
    public static let valuesPerAxisMax = 10_000
    public static let axesMax = 64

    public let name: String
    public let axes: [SweepAxis]
    public let seeds: Int
    public let cells: [SweepCell]
    /// The whole sweep file, as read: what the fingerprint covers and what each output
    /// directory keeps (so `merge` can expand the sweep again).
    public let source: JSONValue

    public var columns: [String] { axes.flatMap(\.columns) }
    public var runCount: Int { cells.count * seeds }

    /// Whether a parsed file is a sweep (has a top-level `sweep` member).
    public static func isSweep(_ json: JSONValue) -> Bool {
        guard case .object(let fields) = json else { return false }
        return fields.contains { $0.0 == "sweep" }
    }

    public static func load(path: String) throws(SweepError) -> SweepPlan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SweepError(path: "$", message: "cannot read \(path)")
        }
        do {
            return try SweepPlan(json: JSONValue.parse(bytes: Array(data)))
        } catch let e as SweepError {
            throw e
        } catch let e as ScenarioError {
            throw SweepError(path: e.path, message: e.message)
        } catch {
            throw SweepError(path: "$", message: "\(error)")
        }
    }

    /// The seed of replicate `r` of every cell.
    public static func seed(base: UInt64, replicate: Int) -> UInt64 { base &+ UInt64(replicate) }

    public func run(_ j: Int) -> (cell: Int, replicate: Int) { (j / seeds, j % seeds) }

    /// Slice `index` of `count`: runs j with j % count == index, in order. Round robin, so a
    /// slow cell's replicates spread over the slices.
    public func runs(slice index: Int, of count: Int) -> [Int] {
        Array(stride(from: index, to: runCount, by: count))
    }

    /// BLAKE2b-256 (hex) over the file's canonical JSON and the base seed: outputs with the
    /// same fingerprint come from the same runs.
    public func fingerprintHex(baseSeed: UInt64) -> String {
        let text = "cairn-sweep 1\n" + source.compact + "\nseed=\(baseSeed)"
        return Blake2b.hash(Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `protocol.k=6, protocol.n=5` for a cell.
    public func describe(_ cell: SweepCell) -> String {
        zip(columns, cell.values).map { "\($0)=\($1.compact)" }.joined(separator: ", ")
    }

    public init(json: JSONValue) throws(SweepError) {
        guard case .object(let fields) = json else {
            throw SweepError(path: "$", message: "expected an object, found \(json.typeName)")
        }
        source = json
        let base = JSONValue.object(fields.filter { $0.0 != "sweep" })
        if case .string(let n)? = fields.first(where: { $0.0 == "name" })?.1 { name = n } else { name = "scenario" }
        guard case .object(let entries)? = fields.first(where: { $0.0 == "sweep" })?.1 else {
            throw SweepError(path: "$.sweep", message: "expected an object of swept members, e.g. {\"protocol.k\": [2, 3, 4], \"seeds\": 5}")
        }
        var seeds = 1
        var axes = [SweepAxis]()
        for (key, value) in entries {
            let at = JSONPath.member("$.sweep", key)
            if key == "seeds" {
                guard case .number(let x) = value, x == x.rounded(), x >= 1, x <= Double(Self.seedsMax) else {
                    throw SweepError(path: at, message: "expected an integer in 1...\(Self.seedsMax) (runs per cell)")
                }
                seeds = Int(x)
                continue
            }
            axes.append(try Self.axis(key: key, value: value, at: at, base: base))
        }
        guard !axes.isEmpty else {
            throw SweepError(path: "$.sweep", message: "no swept member: give at least one, e.g. \"protocol.k\": [2, 3, 4]")
        }
        guard axes.count <= Self.axesMax else {
            throw SweepError(path: "$.sweep", message: "\(axes.count) entries, at most \(Self.axesMax)")
        }
        try Self.checkDisjoint(axes)
        var count = 1
        for axis in axes {
            count *= axis.values.count
            guard count <= Self.cellsMax else {
                throw SweepError(path: axis.source, message: "the sweep has more than \(Self.cellsMax) cells by here: sweep fewer values, or split it into several files")
            }
        }
        guard count * seeds <= Self.runsMax else {
            throw SweepError(path: "$.sweep.seeds", message: "\(count) cells × \(seeds) seeds is more than \(Self.runsMax) runs")
        }
        self.axes = axes
        self.seeds = seeds
        self.cells = try Self.expand(base: base, axes: axes, count: count)
    }

    /// Every cell, parsed; the first invalid one is the error (with how many others are).
    private static func expand(base: JSONValue, axes: [SweepAxis], count: Int) throws(SweepError) -> [SweepCell] {
        var cells = [SweepCell]()
        cells.reserveCapacity(count)
        var firstError: SweepError? = nil
        var invalid = 0
        let columns = axes.flatMap(\.columns)
        for index in 0..<count {
            // Mixed radix, the last axis fastest.
            var choice = [Int](repeating: 0, count: axes.count)
            var rest = index
            for a in axes.indices.reversed() {
                choice[a] = rest % axes[a].values.count
                rest /= axes[a].values.count
            }
            var json = base
            var values = [JSONValue]()
            for (a, axis) in axes.enumerated() {
                for (t, target) in axis.targets.enumerated() {
                    let v = axis.values[choice[a]][t]
                    json = set(v, at: target[...], in: json)
                    values.append(v)
                }
            }
            do {
                let scenario = try Scenario.parse(json: json)
                cells.append(SweepCell(index: index, values: values, json: json, scenario: scenario))
            } catch {
                invalid += 1
                guard firstError == nil else { continue }
                let label = zip(columns, values).map { "\($0)=\($1.compact)" }.joined(separator: ", ")
                var message = error.message
                // Name the sweep entry that put the offending value there.
                for (a, axis) in axes.enumerated() {
                    for target in axis.targets {
                        let path = target.reduce("$") { JSONPath.member($0, $1) }
                        if error.path == path || error.path.hasPrefix(path + ".") || error.path.hasPrefix(path + "[") {
                            let element = axis.isRange ? axis.source : JSONPath.element(axis.source, choice[a])
                            message += " (set by \(element))"
                            if error.message == "unknown key" {
                                message += "; sweep entries are paths from the scenario's root, e.g. \"protocol.k\" or \"churn.departures_per_day\""
                            }
                        }
                    }
                }
                firstError = SweepError(path: error.path, message: message, cell: "cell \(index) of \(count) (\(label))")
            }
        }
        if var e = firstError {
            if invalid > 1 { e.message += " — and \(invalid - 1) more of the \(count) cells are invalid" }
            throw e
        }
        return cells
    }

    /// `json` with the member at `keys` set to `value`; missing objects on the way are
    /// created (their absence is only a default). Callers have checked that every object on
    /// the way is one (`checkTarget`).
    private static func set(_ value: JSONValue, at keys: ArraySlice<String>, in json: JSONValue) -> JSONValue {
        guard let key = keys.first else { return value }
        guard case .object(var fields) = json else { return json }
        if let i = fields.firstIndex(where: { $0.0 == key }) {
            fields[i].1 = set(value, at: keys.dropFirst(), in: fields[i].1)
        } else {
            fields.append((key, set(value, at: keys.dropFirst(), in: .object([]))))
        }
        return .object(fields)
    }

    /// An entry's key: a comma-separated list of dotted member paths, or `code` for
    /// `protocol.k,protocol.n`.
    private static func targets(of key: String, at: String) throws(SweepError) -> [[String]] {
        if key == "code" { return [["protocol", "k"], ["protocol", "n"]] }
        var out = [[String]]()
        for path in key.split(separator: ",", omittingEmptySubsequences: false) {
            let keys = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            for k in keys {
                let ok = !k.isEmpty && k.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
                guard ok else {
                    throw SweepError(path: at, message: "\"\(key)\" is not a member path: give dotted keys from the scenario's root such as \"protocol.k\", several joined by commas (\"churn.online_hours,churn.offline_hours\"), or \"code\" for k and n together")
                }
            }
            out.append(keys)
        }
        guard out.count <= 16 else { throw SweepError(path: at, message: "\(out.count) members set together, at most 16") }
        return out
    }

    private static func axis(key: String, value: JSONValue, at: String, base: JSONValue) throws(SweepError) -> SweepAxis {
        let targets = try targets(of: key, at: at)
        for target in targets {
            if target == ["sweep"] || target == ["name"] {
                throw SweepError(path: at, message: "\(target[0]) cannot be swept")
            }
            try checkTarget(target, in: base, at: at)
        }
        let names = targets.map { $0.joined(separator: ".") }
        var values = [[JSONValue]]()
        switch value {
        case .array(let items):
            guard !items.isEmpty else { throw SweepError(path: at, message: "an empty list: give at least one value") }
            guard items.count <= valuesPerAxisMax else {
                throw SweepError(path: at, message: "\(items.count) values, at most \(valuesPerAxisMax)")
            }
            for (i, item) in items.enumerated() {
                if targets.count == 1 {
                    values.append([item])
                    continue
                }
                guard case .array(let tuple) = item, tuple.count == targets.count else {
                    throw SweepError(path: JSONPath.element(at, i),
                                     message: "expected an array of \(targets.count) values (\(names.joined(separator: ", "))), found \(item.typeName)")
                }
                values.append(tuple)
            }
        case .object:
            guard targets.count == 1 else {
                throw SweepError(path: at, message: "a range sets one member: give \(names.joined(separator: ", ")) as a list of arrays")
            }
            values = try range(value, at: at).map { [.number($0)] }
        default:
            throw SweepError(path: at, message: "expected a list of values or a range {\"from\": 2, \"to\": 8, \"step\": 2}, found \(value.typeName)")
        }
        return SweepAxis(source: at, targets: targets, values: values, isRange: { if case .object = value { true } else { false } }())
    }

    /// `{"from": a, "to": b, "step": s}`: a, a+s, a+2s, ... up to b inclusive, each rounded to
    /// 12 significant digits (so 0.1 + 2 × 0.1 is 0.3, not 0.30000000000000004).
    static func range(_ value: JSONValue, at: String) throws(SweepError) -> [Double] {
        do { return try rangeValues(value, at: at) } catch { throw SweepError(path: error.path, message: error.message) }
    }

    private static func rangeValues(_ value: JSONValue, at: String) throws(ScenarioError) -> [Double] {
        var f = try Fields(value, path: at)
        let lo = try f.number("from", in: -1e15...1e15), hi = try f.number("to", in: -1e15...1e15)
        let step = try f.number("step", in: 0...1e15)
        try f.finish()
        guard let lo, let hi, let step else { throw ScenarioError(path: at, message: "a range needs from, to and step") }
        guard step > 0 else { throw ScenarioError(path: JSONPath.member(at, "step"), message: "must be above 0") }
        guard hi >= lo else { throw ScenarioError(path: JSONPath.member(at, "to"), message: "\(hi) is below from (\(lo))") }
        let steps = ((hi - lo) / step + 1e-9).rounded(.down)
        guard steps < Double(valuesPerAxisMax) else {
            throw ScenarioError(path: at, message: "\(Int(steps) + 1) values, at most \(valuesPerAxisMax)")
        }
        return (0...Int(steps)).map { i in
            let x = lo + Double(i) * step
            return Double(String(format: "%.12g", x)) ?? x
        }
    }

    /// Every member on the way to `target` that the base file gives must be an object.
    private static func checkTarget(_ target: [String], in base: JSONValue, at: String) throws(SweepError) {
        var node = base
        var path = "$"
        for key in target.dropLast() {
            path = JSONPath.member(path, key)
            guard case .object(let fields) = node, let next = fields.first(where: { $0.0 == key })?.1 else { return }
            guard case .object = next else {
                throw SweepError(path: at, message: "\(path) is \(next.typeName), not an object: a member cannot be set inside it")
            }
            node = next
        }
    }

    /// No member is set by two entries, nor set inside another swept member.
    private static func checkDisjoint(_ axes: [SweepAxis]) throws(SweepError) {
        var seen = [(path: String, source: String)]()
        for axis in axes {
            for column in axis.columns {
                for (path, source) in seen where path == column || path.hasPrefix(column + ".") || column.hasPrefix(path + ".") {
                    throw SweepError(path: axis.source, message: "sets \(column), which \(source) already sets (\(path))")
                }
                seen.append((column, axis.source))
            }
        }
    }
}
