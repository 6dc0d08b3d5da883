/// The locks and targets of a command that rewrites the root record or the targets
/// (forget, prune): the same flock(2) locks a backup takes, on the data directory and
/// every target, held for as long as the session lives, and every target open, since a
/// root record must reach all of them. A dry run takes no lock and needs only the targets
/// that can be read.
final class WriteSession {
    let locks: [DirectoryLock]
    let paths: [String]
    let command: String
    private let repository: Repository
    private(set) var targets: TargetSet

    init(repository: Repository, command: String, readOnly: Bool = false) throws(DataError) {
        let paths = try repository.targetPaths(nil)
        self.paths = paths
        self.command = command
        self.repository = repository
        guard !readOnly else {
            locks = []
            targets = try repository.openTargets(paths, access: .read, count: paths.count)
            return
        }
        var locks = [try DirectoryLock(folder: repository.dataDirectory.path)]
        let targets = try repository.openTargets(paths, access: .write, count: paths.count)
        try Self.requireEveryTarget(targets, command: command)
        for p in paths { locks.append(try DirectoryLock(folder: p)) }
        self.locks = locks
        self.targets = targets
    }

    /// Every target must be in use (again after the root records were read: one may
    /// have turned out to be another repository's).
    func requireEveryTarget() throws(DataError) {
        try Self.requireEveryTarget(targets, command: command)
    }

    private static func requireEveryTarget(_ targets: TargetSet, command: String) throws(DataError) {
        guard let missing = targets.problems.keys.min() else { return }
        let path = targets.paths[missing]
        let what = targets.problems[missing]?.code == .foreignRepository
            ? "holds another repository: put this repository's drive back there" : "is not available: mount it, or run `cairn check` to re-create it from the other targets"
        throw DataError(.targetUnavailable, "\(command) needs every target, and target \(missing + 1) (\(path)) \(what)", cause: targets.problems[missing])
    }

    /// Closes every target's store (the locks stay held), so a target's files can be
    /// replaced; `reopen` opens them again.
    func closeTargets() throws(DataError) {
        targets = try TargetSet(paths: [], access: .write)
    }

    func reopen() throws(DataError) {
        targets = try repository.openTargets(paths, access: .write, count: paths.count)
    }
}
