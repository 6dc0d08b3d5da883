import CairnCore
internal import CairnData
import Foundation
import Logging
import NIOCore

/// Backups the node runs itself (`cairn node run --config FILE` with a `backup` section):
/// every `every` seconds, the engine backs up `paths` to the staging targets on a worker
/// thread (the event loop keeps serving), then the node places what it added, as
/// `cairn backup --data-dir` would. A backup that finds the data directory busy (a backup
/// from the command line is running) waits for the next turn.
public struct BackupSchedule: Sendable, Equatable {
    public var paths: [String]
    /// Between the end of one backup and the start of the next.
    public var everySeconds: Int64
    public var excludes: [String]
    public init(paths: [String], everySeconds: Int64, excludes: [String] = []) {
        self.paths = paths
        self.everySeconds = everySeconds
        self.excludes = excludes
    }
}

extension NodeService {
    func scheduleBackup(in delay: TimeAmount) {
        guard let schedule = settings.schedule else { return }
        loop.scheduleTask(in: delay) { [weak self] in self?.runScheduledBackup(schedule) }
    }

    private func runScheduledBackup(_ schedule: BackupSchedule) {
        loop.preconditionInEventLoop()
        guard core != nil else {
            scheduleBackup(in: .seconds(10))
            return
        }
        let dir = settings.dataDirectory
        let n = placedVolumes.last?.n ?? settings.params.n
        let k = placedVolumes.last?.k ?? settings.params.k
        let logger = logger
        let loop = loop
        let service = self
        DispatchQueue.global().async {
            let outcome: Result<BackupSummary, DataError>
            do throws(DataError) {
                let repo = try Repository(dataDirectory: DataDirectory(path: dir), logger: logger)
                let targets = repo.config.targets.isEmpty ? OwnerPacks.targetPaths(dataDirectory: dir, n: n) : repo.config.targets
                guard OwnerPacks.areStagingTargets(targets, dataDirectory: dir) else {
                    throw DataError(.invalidArgument, "\(dir) backs up to local targets, not to the network: scheduled backups need a data directory of its own")
                }
                let excludes = try schedule.excludes.map { (e) throws(DataError) in try ExcludePattern(e) }
                outcome = .success(try repo.backup(BackupOptions(paths: schedule.paths, targets: targets, k: repo.config.targets.isEmpty ? k : nil,
                                                                 excludes: excludes)))
            } catch {
                outcome = .failure(error)
            }
            loop.execute {
                let `self` = service
                switch outcome {
                case let .success(summary):
                    self.logger.info("scheduled backup saved", metadata: ["snapshot": "\(summary.snapshot)", "files": "\(summary.files)",
                                                                      "leftOut": "\(summary.leftOut.count)"])
                    do throws(NodeError) {
                        let placed = try self.placeStaged()
                        self.logger.info("scheduled backup handed to the node", metadata: ["volume": "\(placed.volume.map { "\($0)" } ?? "none new")"])
                    } catch {
                        self.logger.error("a scheduled backup could not be placed", metadata: ["error": "\(error.oneLine)"])
                    }
                case let .failure(error):
                    self.logger.error("scheduled backup failed; trying again at the next turn", metadata: ["error": "\(error.oneLine)"])
                }
                self.scheduleBackup(in: .seconds(schedule.everySeconds))
            }
        }
    }
}
