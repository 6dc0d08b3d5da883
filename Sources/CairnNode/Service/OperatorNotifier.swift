import CairnCore
import Foundation
import Logging

/// The coordinator's operator notifications: when a node that holds shards an owner needs
/// (a restore asking where its volumes are, a repair reporting unanswered fetches) is
/// offline and registered a contact (`cairn node run --notify`), the coordinator's own
/// `--notify-command` runs, through `/bin/sh -c`, with what happened in the environment
/// only — CAIRN_NODE, CAIRN_CONTACT, CAIRN_OWNER_WAITING, CAIRN_WHY — never spliced into
/// the command line, so a contact can carry no shell code. The command is the operator's:
/// a node can name where to be told, never what the coordinator runs.
///
/// At most one notification per node per `every`, at most `runningMax` commands at once
/// (more are dropped, logged), each killed after `timeout`. Called on the coordinator's
/// event loop; commands run on a queue of their own.
final class OperatorNotifier: @unchecked Sendable {
    struct Notice: Sendable, Equatable {
        var node: NodeID
        var contact: String
        var ownerWaiting: NodeID
        var why: String
    }

    let command: String
    let every: Interval
    let timeout: TimeInterval
    let runningMax = 4
    private let logger: Logger
    private let queue = DispatchQueue(label: "cairn.coordinator.notify")
    /// Touched on the event loop only.
    private var lastSent: [NodeID: Instant] = [:]
    private let lock = NSLock()
    private var running = 0

    init(command: String, every: Interval, timeout: TimeInterval = 30, logger: Logger) {
        self.command = command
        self.every = every
        self.timeout = timeout
        self.logger = logger
    }

    /// Runs the command for `notice` unless this node was told within `every`.
    func notify(_ notice: Notice, now: Instant) {
        if let last = lastSent[notice.node], now - last < every { return }
        let admitted = lock.withLock {
            guard running < runningMax else { return false }
            running += 1
            return true
        }
        guard admitted else {
            logger.warning("operator notification dropped: too many still running", metadata: ["node": "\(notice.node.raw)"])
            return
        }
        lastSent[notice.node] = now
        logger.info("notifying the operator of an offline node", metadata: [
            "node": "\(notice.node.raw)", "owner waiting": "\(notice.ownerWaiting.raw)", "why": "\(notice.why)"])
        queue.async { [self] in
            defer { lock.withLock { running -= 1 } }
            run(notice)
        }
    }

    private func run(_ notice: Notice) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["CAIRN_NODE"] = String(notice.node.raw)
        environment["CAIRN_CONTACT"] = notice.contact
        environment["CAIRN_OWNER_WAITING"] = String(notice.ownerWaiting.raw)
        environment["CAIRN_WHY"] = notice.why
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        do { try process.run() } catch {
            logger.error("the notification command cannot be started", metadata: ["error": "\(error)"])
            return
        }
        if done.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            done.wait()
            logger.warning("the notification command took longer than \(Int(timeout)) s: stopped", metadata: ["node": "\(notice.node.raw)"])
            return
        }
        if process.terminationStatus != 0 {
            logger.warning("the notification command failed", metadata: [
                "node": "\(notice.node.raw)", "status": "\(process.terminationStatus)"])
        }
    }
}
