import ClientHello
import HTTP1
import Publishing

/// The three inputs an edge host takes from people it does not trust — the configuration an
/// operator may paste, the first bytes of a TLS connection, an HTTP/1.1 request — each as one
/// function of arbitrary bytes. libFuzzer (`Scripts/fuzz`) calls them with generated inputs, and
/// the tests replay the committed corpora through the same functions, so a crash or a broken
/// invariant found once stays found.
///
/// An invariant that does not hold traps (`precondition`): that is what a fuzzer detects, and a
/// test replaying the input crashes the same way.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// YAML text through ``ConfigLoader``: it must load or be refused with diagnostics.
    case config
    /// A TLS ClientHello for routing by SNI (``ClientHelloParser``).
    case clientHello = "clienthello"
    /// An HTTP/1.1 request head (``HeadParser``) and the body framing it announces (``BodyFramer``).
    case request

    /// Runs one input through the target; returns whether it was accepted (a loaded
    /// configuration, a complete hello, a complete request head).
    @discardableResult
    public func run(_ bytes: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .config: return Self.config(bytes)
        case .clientHello: return Self.clientHello(bytes)
        case .request: return Self.request(bytes)
        }
    }

    /// The input's first byte chooses where to split it, so every input is also fed in two
    /// pieces, the way a connection delivers bytes.
    private static func splitPoint(_ bytes: UnsafeRawBufferPointer) -> Int {
        bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    }

    static func config(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let result = ConfigLoader.load(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml")
        precondition(result.config != nil || result.diagnostics.contains { $0.severity == .error },
                     "a refused configuration must say why")
        for diagnostic in result.diagnostics {
            precondition(diagnostic.position.line >= 1, "a diagnostic must point at a line")
        }
        return result.config != nil
    }

    static func clientHello(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var whole = ClientHelloParser()
        let verdict = whole.parse(bytes)
        // Fed as a prefix then the whole input, as a connection would: the same verdict.
        var stepped = ClientHelloParser()
        var split = stepped.parse(UnsafeRawBufferPointer(rebasing: bytes[..<splitPoint(bytes)]))
        if split == .needMore {
            split = stepped.parse(bytes)
        }
        precondition(split == verdict, "the verdict depends on how the bytes arrive")
        if case .complete(let info) = verdict {
            precondition(info.byteCount > 0 && info.byteCount <= bytes.count, "a hello must lie inside the input")
            return true
        }
        return false
    }

    static func request(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var whole = HeadParser(kind: .request)
        let verdict = whole.parse(bytes)
        var stepped = HeadParser(kind: .request)
        let cut = splitPoint(bytes)
        var split = stepped.parse(UnsafeRawBufferPointer(rebasing: bytes[..<cut]))
        var offset = 0
        if case .needMore(let consumed) = split {
            offset = consumed
            split = stepped.parse(UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
        }
        switch (verdict, split) {
        case (.request(let head, let consumed), .request(let again, let consumedAgain)):
            precondition(head == again && consumed == offset + consumedAgain, "the head depends on how the bytes arrive")
            precondition(Array(bytes[(consumed - head.rawBytes.count)..<consumed]) == head.rawBytes, "head bytes are not the input")
            forwardAndReparse(head)
            frameBody(head.framing, UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            return true
        case (.failure(let error), .failure(let again)):
            precondition(error == again, "the error depends on how the bytes arrive")
            precondition([400, 405, 414, 431, 501, 505].contains(error.status), "a request error answers with a 4xx, 501 or 505")
        case (.needMore, .needMore):
            break
        default:
            preconditionFailure("whole input gave \(verdict), split input gave \(split)")
        }
        return false
    }

    /// What the proxy sends upstream must parse to the same target and framing: otherwise the
    /// origin and the proxy disagree about the request (a smuggling vector).
    private static func forwardAndReparse(_ head: RequestHead) {
        var out: [UInt8] = []
        head.writeForwarded(into: &out, edits: ForwardingEdits(forwardedFor: Array("192.0.2.1".utf8), keepUpgrade: true))
        var parser = HeadParser(kind: .request)
        let reparsed = out.withUnsafeBytes { parser.parse($0) }
        guard case .request(let again, _) = reparsed else {
            preconditionFailure("the forwarded head does not parse: \(reparsed)")
        }
        precondition(again.path == head.path && again.query == head.query && again.framing == head.framing,
                     "the forwarded head means something else")
        precondition(head.targetForm != .origin || again.target == head.target, "an origin-form target changed")
    }

    /// The body framer over whatever followed the head: it must stay inside its input and
    /// name payload only within what it consumed.
    private static func frameBody(_ framing: BodyFraming, _ body: UnsafeRawBufferPointer) {
        var framer = BodyFramer(framing)
        do {
            let progress = try framer.consume(body)
            precondition(progress.consumed <= body.count, "the framer consumed more than it was given")
            for range in progress.payload {
                precondition(range.lowerBound >= 0 && range.upperBound <= progress.consumed, "payload outside what was consumed")
            }
        } catch {
            // A malformed body is refused; that is an answer, not a crash.
        }
    }
}

extension FuzzTarget {
    /// Runs each input through `target`; returns how many were accepted.
    public static func replay(_ inputs: [some Collection<UInt8>], through target: FuzzTarget) -> Int {
        inputs.reduce(0) { count, input in
            count + (Array(input).withUnsafeBytes { target.run($0) } ? 1 : 0)
        }
    }
}
