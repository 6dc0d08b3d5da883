import CairnData
import Foundation

/// A one-line progress bar on stderr (bytes, rate, ETA), drawn only on a terminal.
final class ProgressBar {
    private let label: String
    private let started = Date()
    private let enabled: Bool
    private var drawn = false

    init(label: String, enabled: Bool = Terminal.stderrIsTTY) {
        self.label = label
        self.enabled = enabled
    }

    func update(_ p: TransferProgress) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(started)
        let fraction = p.bytesTotal == 0 ? 1 : min(1, Double(p.bytesDone) / Double(p.bytesTotal))
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let rate = elapsed > 0 ? Double(p.bytesDone) / elapsed : 0
        let eta = rate > 0 && p.bytesTotal > p.bytesDone ? Format.duration(Double(p.bytesTotal - p.bytesDone) / rate) : "0s"
        let line = "\(label) [\(bar)] \(Format.bytes(p.bytesDone)) / \(Format.bytes(p.bytesTotal))  \(Format.rate(p.bytesDone, seconds: elapsed))  ETA \(eta)  files \(p.filesDone)/\(p.filesTotal)"
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
        drawn = true
    }

    func finish() {
        guard enabled, drawn else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
