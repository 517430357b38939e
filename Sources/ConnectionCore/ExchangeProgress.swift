/// Where one forwarded request stands with its farm member: the part of an exchange that is
/// the same whether the client speaks HTTP/1.1 on a connection or HTTP/2 on a stream.
///
/// Both client sides keep one of these per exchange and ask it the questions whose answers
/// must not differ between them: may a failed request go again, which timeout runs now,
/// what a member failure costs the client. It is a value with no I/O, so every answer is
/// tested without sockets (`ConnectionCoreTests`).
public struct ExchangeProgress: Sendable, Equatable {
    /// The member connection, as far as the exchange knows.
    public enum Member: Sendable, Equatable {
        /// Being opened (or looked for); request bytes wait in the client side's buffer.
        case connecting
        /// Attached: the forwarded head was written, body bytes follow as they arrive.
        case attached
        /// Released: back in the pool, bound to the client, or closed.
        case released
    }

    /// What a failed member connection means for the request on it.
    public enum FailureOutcome: Sendable, Equatable {
        /// Send the request again on a fresh connection: the member cannot have acted on it.
        case resend
        /// Answer the client with this status (nothing of the response reached it yet).
        case answer(status: Int)
        /// Part of the response reached the client: only closing it (or resetting the stream)
        /// tells it the response is incomplete.
        case abort
    }

    /// Which of the rule's timeouts runs now.
    public enum Timeout: Sendable, Equatable {
        /// From the end of the request to the response head (`timeouts.response`).
        case response
        /// No byte either way (`timeouts.idle`).
        case idle
    }

    public private(set) var member: Member = .connecting
    /// The client's whole request has been read (and, once attached, written to the member).
    public private(set) var requestComplete: Bool
    /// At least one byte of the request body went to the member: it cannot be sent again,
    /// since edgesplit streams bodies and keeps no copy.
    public private(set) var bodySent = false
    /// At least one byte of a response arrived from the member on the current connection.
    public private(set) var responseBegun = false
    /// The response head went to the client.
    public private(set) var responseStarted = false
    /// The member answered before the whole request reached it: the rest of the body is
    /// still on the member connection's way in (or unread by the member), so that connection
    /// never carries another request.
    public private(set) var answeredEarly = false
    /// The member connection was taken from the pool or bound to the client (not fresh).
    public private(set) var reusedConnection = false
    /// Connections tried for this request so far.
    public private(set) var attempts = 0
    /// RFC 9110 §9.2.2: the method may be repeated without a different effect.
    public let idempotent: Bool

    /// Connections tried at most for one request: the first, and one more.
    public static let maxAttempts = 2

    public init(requestComplete: Bool, idempotent: Bool) {
        self.requestComplete = requestComplete
        self.idempotent = idempotent
    }

    /// RFC 9110 §9.2.2's idempotent methods (case-sensitive, §9.1). Not generic: it runs on
    /// every request, from another module, where a generic would run unspecialised.
    public static func isIdempotent(method: ArraySlice<UInt8>) -> Bool {
        func equals(_ name: StaticString) -> Bool {
            guard method.count == name.utf8CodeUnitCount else { return false }
            var index = method.startIndex
            for byte in UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount) {
                guard method[index] == byte else { return false }
                index += 1
            }
            return true
        }
        return equals("GET") || equals("HEAD") || equals("OPTIONS") || equals("TRACE") || equals("PUT") || equals("DELETE")
    }

    // MARK: Events

    /// A member connection was taken for the request (from the pool when `reused`).
    public mutating func attached(reused: Bool) {
        member = .attached
        reusedConnection = reused
        responseBegun = false
        attempts += 1
    }

    /// Request body bytes went to the member.
    public mutating func sentBody() {
        bodySent = true
    }

    /// The client's request ended (its head had no body, or its body's last byte was read).
    public mutating func requestEnded() {
        requestComplete = true
    }

    /// Bytes of a response (head or interim) arrived from the member.
    public mutating func responseBytesArrived() {
        responseBegun = true
    }

    /// The response head went to the client.
    public mutating func responseHeadSent() {
        responseBegun = true
        responseStarted = true
        if !requestComplete { answeredEarly = true }
    }

    /// Whether the member connection may carry another request once the response ended on
    /// a connection the member keeps open (`reusable`).
    public func mayKeepMember(reusable: Bool) -> Bool {
        reusable && requestComplete && !answeredEarly
    }

    /// The member connection was given up (pooled, bound, or closed).
    public mutating func released() {
        member = .released
    }

    // MARK: Decisions

    /// The member connection failed before the response was complete. A request goes again
    /// only where the member cannot have acted on it: a kept-alive connection that the
    /// member closed just as it was reused (the race every pooling proxy has), an idempotent
    /// method, no body byte sent and not one byte of a response received. Anything else is
    /// answered 502, or aborted once the client has part of a response.
    /// `responseBegun`: bytes of a response had arrived on the failed connection.
    public mutating func memberFailed(responseBegun: Bool) -> FailureOutcome {
        member = .released
        if responseBegun { self.responseBegun = true }
        if responseStarted { return .abort }
        if reusedConnection, idempotent, !bodySent, !responseBegun, attempts < Self.maxAttempts {
            member = .connecting
            return .resend
        }
        return .answer(status: 502)
    }

    /// Opening a member connection failed (nothing was sent). `otherMember` says whether the
    /// farm has another member to try; `timedOut` whether the connect timed out.
    public mutating func connectFailed(otherMember: Bool, timedOut: Bool) -> FailureOutcome {
        attempts += 1
        if otherMember, attempts < Self.maxAttempts {
            member = .connecting
            return .resend
        }
        member = .released
        return .answer(status: timedOut ? 504 : 502)
    }

    /// The timeout that runs now: the response timeout once the member has the whole request
    /// and has not answered; otherwise the idle timeout.
    public var timeout: Timeout {
        if requestComplete, member == .attached, !responseStarted { return .response }
        return .idle
    }

    /// A timeout ran out: 504 while the member owes the response head, otherwise the
    /// exchange cannot be completed and is aborted.
    public func timedOut() -> FailureOutcome {
        if !responseStarted, requestComplete, member == .attached { return .answer(status: 504) }
        // Still connecting (a rule whose idle is shorter than its connect timeout).
        if !responseStarted, member == .connecting { return .answer(status: 504) }
        return .abort
    }
}
