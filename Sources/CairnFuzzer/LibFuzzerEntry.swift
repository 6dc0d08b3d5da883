#if CAIRN_LIBFUZZER
import CairnFuzz
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// libFuzzer's entry points, when built with `-sanitize=fuzzer -DCAIRN_LIBFUZZER`: libFuzzer
// supplies main, mutates with coverage feedback and saves crashing inputs itself. The
// decoder is chosen by CAIRN_FUZZ_TARGET (`cairn-fuzz list` in an ordinary build names them).

nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = getenv("CAIRN_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTargets.named(name) else {
        let known = FuzzTargets.all.map(\.name).joined(separator: ", ")
        let message = "cairn-fuzz: set CAIRN_FUZZ_TARGET to one of: \(known)\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        exit(64)
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if case .violation(let message)? = selected?.run(input) {
        // A property broken is a crash to libFuzzer, which saves the input.
        fatalError("cairn-fuzz: \(message)")
    }
    return 0
}
#endif
