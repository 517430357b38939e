import CEdgesplitBPF
import Crypto
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The object embedded in the binary must come from the BPF/ sources in this tree.
final class EmbeddedObjectTests: XCTestCase {
    /// The package root, from this file's path (Tests/SteeringTests/…).
    private var root: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }

    private func contents(_ path: String) throws -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw TestError("cannot read \(path)") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }

    private func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// Recomputes Scripts/build-bpf's source digest: SHA-256 over `sha256sum` lines of
    /// BPF/*.c, BPF/*.h and Scripts/build-bpf, sorted by path.
    func testEmbeddedObjectIsInSyncWithBPFSources() throws {
        guard let dir = opendir(root + "/BPF") else { throw TestError("no BPF/ at \(root)") }
        var files: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".c") || name.hasSuffix(".h") { files.append("BPF/" + name) }
        }
        closedir(dir)
        files.append("Scripts/build-bpf")
        files.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var listing = ""
        for file in files {
            listing += hex(SHA256.hash(data: try contents(root + "/" + file))) + "  " + file + "\n"
        }
        let digest = hex(SHA256.hash(data: Array(listing.utf8)))
        let embedded = String(cString: es_bpf_source_digest_string())
        XCTAssertEqual(digest, embedded, "the embedded BPF object is stale: run Scripts/build-bpf and commit Sources/CEdgesplitBPF/steer_object.c")
        let splice = String(cString: es_splice_source_digest_string())
        XCTAssertEqual(digest, splice, "the embedded splice object is stale: run Scripts/build-bpf and commit Sources/CEdgesplitBPF/splice_object.c")
    }

    func testEmbeddedObjectIsABPFELF() {
        XCTAssertGreaterThan(es_bpf_object_size, 1000)
        let magic = (0..<4).map { es_bpf_object_ptr()[$0] }
        XCTAssertEqual(magic, [0x7F, 0x45, 0x4C, 0x46])
        XCTAssertEqual(es_bpf_object_ptr()[18], 247)  // e_machine = EM_BPF
    }
}

