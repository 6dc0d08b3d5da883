/// The locks and targets of a command that rewrites the root record or the targets
/// (forget, prune): the same flock(2) locks a backup takes, on the data directory and
/// every target, held for as long as the session lives, and every target open, since a
/// root record must reach all of them. A dry run takes no lock and needs only the targets
/// that can be read.
final class WriteSession {
    let locks: [DirectoryLock]
    let paths: [String]
    private(set) var targets: TargetSet

    init(repository: Repository, command: String, readOnly: Bool = false) throws(DataError) {
        let paths = try repository.targetPaths(nil)
        self.paths = paths
        guard !readOnly else {
            locks = []
            targets = try TargetSet(paths: paths, access: .read, count: paths.count)
            return
        }
        var locks = [try DirectoryLock(folder: repository.dataDirectory.path)]
        let targets = try TargetSet(paths: paths, access: .write, count: paths.count)
        if let missing = targets.problems.keys.min() {
            throw DataError(.targetUnavailable, "\(command) needs every target, and target \(missing + 1) (\(paths[missing])) is not available: mount it, or run `cairn check` to re-create it from the other targets", cause: targets.problems[missing])
        }
        for p in paths { locks.append(try DirectoryLock(folder: p)) }
        self.locks = locks
        self.targets = targets
    }

    /// Closes every target's store (the locks stay held), so a target's files can be
    /// replaced; `reopen` opens them again.
    func closeTargets() throws(DataError) {
        targets = try TargetSet(paths: [], access: .write)
    }

    func reopen() throws(DataError) {
        targets = try TargetSet(paths: paths, access: .write, count: paths.count)
    }
}
