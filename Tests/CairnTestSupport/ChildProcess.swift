import Foundation

/// What a child process did: its output and how it ended.
public struct ChildResult: Sendable {
    /// The exit status, or 128 + the signal that ended it (as a shell reports it).
    public let status: Int32
    /// The signal that ended it, if one did.
    public let signal: Int32?
    public let stdout: [UInt8]
    public let stderr: [UInt8]
    /// It ran past its timeout and was killed.
    public let timedOut: Bool
    /// It was killed because the caller's `killWhen` said so.
    public let killed: Bool
    /// Its resource use (CPU times, peak memory), from `wait4`.
    public let usage: rusage

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Why a child could not be run at all (not how it ended: that is a `ChildResult`).
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
}

/// Runs a program as a child process (posix_spawn, pipes, poll, wait4), the one way the
/// tests run processes: the `cairn` binary, two `cairn simulate` at once, mount(8).
///
/// Standard output and standard error are read as they arrive, both at once, so a child
/// that fills one pipe while the test waits on the other cannot stall; past `timeout`
/// the child is killed by its PID (SIGKILL) and reaped. The pipes are close-on-exec in
/// this process, so children spawned by tests running in parallel never hold each
/// other's pipes open. Synchronous: it blocks the calling thread until the child ends
/// (the async `run` moves that wait off the cooperative pool).
public enum ChildProcess {
    /// `stdin`: bytes the child reads (at most what a pipe buffers, 1 MiB; nil: /dev/null).
    /// `environment`: the whole environment (nil: this process's own). `discardOutput`:
    /// stdout and stderr go to /dev/null. `killWhen` is asked every few milliseconds while
    /// the child runs; when it says yes the child is killed (`killed`).
    public static func run(_ executable: String, _ arguments: [String], stdin: [UInt8]? = nil,
                           environment: [String: String]? = nil, timeout: Double = 300, discardOutput: Bool = false,
                           killWhen: (() -> Bool)? = nil) throws -> ChildResult
    {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], inPipe: [Int32] = [-1, -1]
        defer { for fd in outPipe + errPipe + inPipe where fd >= 0 { close(fd) } }
        if !discardOutput {
            guard makePipe(&outPipe), makePipe(&errPipe) else { throw failure("pipe2") }
        }
        if let stdin {
            guard makePipe(&inPipe) else { throw failure("pipe2") }
            try fill(inPipe[1], with: stdin)
            close(inPipe[1])
            inPipe[1] = -1
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdin != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if discardOutput {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        } else {
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        }
        try SpawnActions.closeInherited(&actions)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let env = environment ?? ProcessInfo.processInfo.environment
        let envp = env.keys.sorted().map { strdup("\($0)=\(env[$0]!)") } + [nil]
        defer { for e in envp { free(e) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else {
            throw ChildProcessError(description: "cannot run \(executable): \(String(cString: strerror(rc)))")
        }
        // The child has its copies; ours would keep the pipes open after it ends.
        for fd in [outPipe[1], errPipe[1], inPipe[0]] where fd >= 0 { close(fd) }
        outPipe[1] = -1
        errPipe[1] = -1
        inPipe[0] = -1

        var out = [UInt8](), err = [UInt8]()
        var open = discardOutput ? [] : [outPipe[0], errPipe[0]]
        for fd in open { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        var usage = rusage()
        var exited = false, timedOut = false, killed = false
        while !exited {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            // Wake often enough to notice the child's end and the caller's condition.
            _ = poll(&fds, nfds_t(fds.count), killWhen == nil ? 50 : 2)
            for fd in fds where fd.revents != 0 {
                let ended = fd.fd == outPipe[0] ? drain(fd.fd, into: &out) : drain(fd.fd, into: &err)
                if ended { open.removeAll { $0 == fd.fd } }
            }
            if wait4(pid, &status, WNOHANG, &usage) == pid {
                exited = true
            } else if Date() > deadline || (killWhen?() ?? false) {
                if Date() > deadline { timedOut = true } else { killed = true }
                kill(pid, SIGKILL)
                _ = wait4(pid, &status, 0, &usage)
                exited = true
            }
        }
        // Everything the child wrote is in the pipes now; a grandchild that kept them open
        // is not waited for.
        for fd in open { _ = fd == outPipe[0] ? drain(fd, into: &out) : drain(fd, into: &err) }
        let signalled = status & 0x7f != 0
        return ChildResult(status: signalled ? 128 + (status & 0x7f) : (status >> 8) & 0xff,
                           signal: signalled ? status & 0x7f : nil, stdout: out, stderr: err, timedOut: timedOut,
                           killed: killed, usage: usage)
    }

    /// `run` on a thread of its own, so that waiting for a long child (two `cairn
    /// simulate` at once) does not hold one of the few cooperative threads.
    public static func run(_ executable: String, _ arguments: [String], stdin: [UInt8]? = nil,
                           environment: [String: String]? = nil, timeout: Double = 300) async throws -> ChildResult
    {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result {
                    try run(executable, arguments, stdin: stdin, environment: environment, timeout: timeout)
                })
            }
            thread.start()
        }
    }

    /// Reads what is there without blocking; true at end of file (or an error).
    private static func drain(_ fd: Int32, into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
            } else if n == 0 {
                return true
            } else {
                if errno == EINTR { continue }
                return errno != EAGAIN && errno != EWOULDBLOCK
            }
        }
    }

    /// Writes all of `bytes` into a fresh pipe before the child starts (grown to fit), so
    /// feeding the child never waits on it.
    private static func fill(_ fd: Int32, with bytes: [UInt8]) throws {
        // F_SETPIPE_SZ (Linux; Glibc's module does not export the macro).
        let setPipeSize: Int32 = 1031
        if bytes.count > 65_536, fcntl(fd, setPipeSize, Int32(min(bytes.count, 1 << 20))) < bytes.count {
            throw ChildProcessError(description: "stdin of \(bytes.count) bytes does not fit a pipe (1 MiB at most)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ChildProcessError(description: "stdin: \(String(cString: strerror(errno)))") }
            written += n
        }
    }

    /// pipe2(2) with O_CLOEXEC: both ends close-on-exec from the start, so no child that
    /// another thread spawns meanwhile inherits them (Glibc's module does not export
    /// pipe2, which needs _GNU_SOURCE: looked up once in the C library).
    private static func makePipe(_ fds: inout [Int32]) -> Bool {
        fds.withUnsafeMutableBufferPointer { pipe2Function($0.baseAddress!, O_CLOEXEC) } == 0
    }

    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private static let pipe2Function: Pipe2 = {
        guard let symbol = dlsym(nil, "pipe2") else { fatalError("the C library has no pipe2") }
        return unsafeBitCast(symbol, to: Pipe2.self)
    }()

    private static func failure(_ call: String) -> ChildProcessError {
        ChildProcessError(description: "\(call): \(String(cString: strerror(errno)))")
    }
}
