import ArgumentParser
internal import CMalloc

@main
enum CairnEntry {
    static func main() async {
        AllocatorTuning.reexecForSimulationIfNeeded()
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
        subcommands: [Init.self, Backup.self, Snapshots.self, Restore.self, Ls.self, Find.self, Diff.self, Forget.self, Check.self, Status.self, Simulate.self, Debug.self])
}
