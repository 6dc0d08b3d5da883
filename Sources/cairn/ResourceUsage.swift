import Foundation

/// This process's own resource figures, for `--json` summaries: peak memory is what
/// people (and the benchmark) check a backup against.
enum ResourceUsage {
    /// Peak resident set size in bytes (`VmHWM` of /proc/self/status), nil if unknown.
    static func peakRSSBytes() -> UInt64? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { UInt64($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }
}

/// A summary with the process's peak memory added as `peak_rss_bytes`.
struct WithResourceUsage<Summary: Encodable>: Encodable {
    let summary: Summary
    let peakRSSBytes: UInt64?

    init(_ summary: Summary) {
        self.summary = summary
        peakRSSBytes = ResourceUsage.peakRSSBytes()
    }

    enum CodingKeys: String, CodingKey { case peakRSSBytes = "peak_rss_bytes" }

    func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(peakRSSBytes, forKey: .peakRSSBytes)
    }
}
