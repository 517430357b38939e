// HTTP1: strict HTTP/1.1 message heads and body framing for edgesplit's data plane.
//
// The proxy never re-encodes a message: it parses the head, decides where to send it, writes a
// forwarding head, and then copies body bytes verbatim while BodyFramer says where the body ends.
// Everything here is pure (no NIO, no Foundation) and works on bytes as they arrive.
//
// Client side, per connection:
//
//     var parser = HeadParser(kind: .request, limits: HeadLimits())
//     // on each read (ByteBuffer.withUnsafeReadableBytes):
//     switch parser.parse(bytes) {
//     case .needMore(let consumed):            // consumed == bytes.count; wait for more
//     case .failure(let error):                // answer error.status with writeSimpleResponse
//                                              // (close: true) and close the connection
//     case .request(let head, let consumed):   // bytes[consumed...] are body / next request
//         var out: [UInt8] = []
//         head.writeForwarded(into: &out, edits: ForwardingEdits(
//             replaceHost: nil, forwardedFor: clientIPText, forwardedProto: ForwardingEdits.protoHTTPS,
//             keepUpgrade: head.isWebSocketUpgrade))
//         var body = BodyFramer(head.framing)
//         // feed body bytes to body.consume(_:); forward exactly `consumed` of each call;
//         // when isComplete, parser.reset() and parse the remainder as the next request.
//     }
//
// Upstream side: the same with `kind: .response`; the body length depends on the request
// (`head.framing(requestMethod: requestHead.method)`), 1xx other than 101 are followed by the
// final response (reset and parse again), and `hadConflictingFraming` or `.untilClose` mean the
// upstream connection is not reused. `ResponseHead.writeForwarded` produces the client head;
// pass `close: true` when the client connection ends after this response. For an HTTP/1.0
// client that should stay open, add `Connection: keep-alive` through `extraHeaders`. A chunked
// body for an HTTP/1.0 client is written with `dechunked: true` and only the
// `BodyProgress.payload` ranges are sent, the connection closing at the end.
//
// Errors never leave the connection in a state that can be resynchronised: after a
// HTTPHeadError or HTTPBodyError the connection is closed.
