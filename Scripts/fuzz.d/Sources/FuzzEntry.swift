import Fuzzing

#if canImport(Glibc)
import Glibc
#endif

/// Which parser this run fuzzes: `EDGESPLIT_FUZZ_TARGET` (config, clienthello or request),
/// read once; `Scripts/fuzz` runs one libFuzzer process per target.
private let target: FuzzTarget = {
    guard let name = getenv("EDGESPLIT_FUZZ_TARGET").map({ String(cString: $0) }), let target = FuzzTarget(rawValue: name) else {
        print("edgesplit-fuzz: set EDGESPLIT_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
        exit(2)
    }
    return target
}()

/// libFuzzer's entry point: one input, any bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
