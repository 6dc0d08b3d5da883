import ArgumentParser
internal import CMalloc

@main
enum CairnEntry {
    static func main() async {
        AllocatorTuning.reexecForSimulationIfNeeded()
        DamagedStoreRetry.install()
        // Packs and shards are tens of MiB. glibc would hand each one a fresh mmap and
        // unmap it on free, so every pack paid for page faults again; keeping them in the
        // heap lets the pipeline reuse the same pages (memory stays bounded by the
        // pipeline's own limits).
        _ = mallopt(M_MMAP_THRESHOLD, 256 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 512 << 20)
        // Few arenas: the pipeline's threads hand buffers to each other, and memory freed
        // in one thread's arena is not reused by another's.
        _ = mallopt(M_ARENA_MAX, 4)
        await Cairn.main()
    }
}

struct Cairn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "A community backup network: your backups, spread as encrypted shards across other people's disks.",
        discussion: ExitStatus.table,
        subcommands: [Init.self, Backup.self, Snapshots.self, Restore.self, Ls.self, Find.self, Diff.self, Forget.self, Prune.self, Check.self, Status.self, NodeCommand.self, CoordinatorCommand.self, SimulateGroup.self, Debug.self])
}

/// What each exit status means, shown by `cairn help` and kept in step with the README.
enum ExitStatus {
    static let table = """
        EXIT STATUS
          0    success. find and diff: also when nothing matched or nothing differs.
          1    error, with a message on stderr saying what was wrong and what to do; nothing
               half-done is left that the same command cannot finish (every command).
               restore: some entries could not be restored (listed; the rest are).
               check: damage found and not repaired (with --no-repair: any damage).
               simulate: an invariant or an expected bound of the scenario failed.
          2    simulate: the scenario could not be read or run.
          3    backup: the snapshot was saved, but entries that could not be read were left
               out (listed in the summary and in --json).
          64   bad arguments or options (usage).
        """
}
