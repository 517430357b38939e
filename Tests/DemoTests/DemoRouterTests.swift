import Foundation
import XCTest

@testable import Demo

/// The backend's decisions, without sockets.
final class DemoRouterTests: XCTestCase {
    let router = DemoRouter(member: "pool-fe1", port: 4443, tls: true)

    func reply(_ target: String, host: String? = "webext.contoso.test", authorization: String? = nil) -> DemoReply {
        var ntlm = NTLMHandshake.idle
        return router.reply(to: DemoRequest(method: "GET", target: target, host: host, authorization: authorization), ntlm: &ntlm)
    }

    func testEveryAnswerNamesTheMember() {
        for target in ["/health", "/meet", "/dialin", "/abs/handler", "/Autodiscover/AutodiscoverService.svc/root", "/ucwa/v1", "/nope"] {
            XCTAssertEqual(reply(target).response.values(of: "X-Demo-Member"), ["pool-fe1"], target)
        }
    }

    func testPathsMatchCaseInsensitivelyLikeIIS() {
        for target in ["/meet", "/Meet/", "/MEET/alice/ABC?x=1", "/meet?conf=1"] {
            let response = reply(target).response
            XCTAssertEqual(response.status, 200, target)
            XCTAssertTrue(response.body.contains("Join meeting"), target)
        }
        XCTAssertEqual(reply("/Dialin").response.status, 200)
        XCTAssertEqual(reply("/meetings").response.status, 404)
        XCTAssertEqual(reply("/ABS/Handler/F-1299.lsabs").response.status, 401)
    }

    func testBodyReportsTargetHostAndPortAsReceived() {
        let response = reply("/meet/alice/ABC?a=%2F&b=1", host: "webext.contoso.test:443").response
        XCTAssertTrue(response.body.contains("GET /meet/alice/ABC?a=%2F&amp;b=1 HTTP/1.1"), response.body)
        XCTAssertTrue(response.body.contains("host:     webext.contoso.test:443"), response.body)
        XCTAssertTrue(response.body.contains("pool-fe1 (answered on 127.0.0.1:4443 over HTTPS)"), response.body)
    }

    func testSimpleURLsRouteByHost() {
        XCTAssertTrue(reply("/alice/F3K9Q2ZT", host: "meet.contoso.test").response.body.contains("Join meeting"))
        XCTAssertTrue(reply("/", host: "Dialin.Contoso.test:8443").response.body.contains("Dial-in"))
        XCTAssertTrue(reply("/?sipuri=alice@contoso.test", host: "lyncdiscover.contoso.test").response.body.contains("_links"))
        // Without the original Host (the proxy sent the internal name) the simple URL is unknown.
        XCTAssertEqual(reply("/alice/F3K9Q2ZT", host: "director.contoso.test").response.status, 404)
    }

    func testAddressBookChallengesWithTwoSeparateFields() {
        let response = reply("/abs/handler/C-1.lsabs").response
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(response.values(of: "WWW-Authenticate"), ["NTLM", "Negotiate"])
    }

    func testNTLMHandshakeIsBoundToTheConnectionState() {
        var ntlm = NTLMHandshake.idle
        let type1 = DemoRequest(method: "GET", target: "/abs/handler", host: "webext.contoso.test", authorization: "NTLM TlRMTVNTUAABAAAA")
        let first = router.reply(to: type1, ntlm: &ntlm).response
        XCTAssertEqual(first.status, 401)
        XCTAssertEqual(first.values(of: "WWW-Authenticate"), ["NTLM " + NTLMHandshake.challengeToken])
        XCTAssertEqual(ntlm, .challenged)

        let type3 = DemoRequest(method: "GET", target: "/abs/handler", host: "webext.contoso.test", authorization: "NTLM TlRMTVNTUAADAAAA")
        XCTAssertEqual(router.reply(to: type3, ntlm: &ntlm).response.status, 200)
        XCTAssertEqual(ntlm, .authenticated)
        // The connection stays authenticated, as IIS keeps it.
        var plain = type3
        plain.authorization = nil
        XCTAssertEqual(router.reply(to: plain, ntlm: &ntlm).response.status, 200)

        // A type 3 on a fresh connection starts over.
        var fresh = NTLMHandshake.idle
        XCTAssertEqual(router.reply(to: type3, ntlm: &fresh).response.status, 401)
        XCTAssertEqual(fresh, .challenged)
    }

    func testAutodiscoverLinksUseTheHostReceived() {
        let response = reply("/autodiscover/autodiscoverservice.svc/root?originalDomain=contoso.test", host: "webdirext.contoso.test").response
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.values(of: "Content-Type"), ["application/vnd.microsoft.rtc.autodiscover+json; v=1"])
        XCTAssertTrue(response.body.hasPrefix("{\"_links\":{\"self\":"))
        XCTAssertTrue(
            response.body.contains(
                "\"user\":{\"href\":\"https://webdirext.contoso.test/Autodiscover/AutodiscoverService.svc/root/oauth/user"
            ),
            response.body
        )
        XCTAssertTrue(response.body.contains("\"xframe\":{\"href\":\"https://webdirext.contoso.test/Autodiscover/XFrame/XFrame.html\"}"))
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(response.body.utf8)))
    }

    func testUCWAHoldsForTheRequestedTimeout() {
        XCTAssertEqual(reply("/ucwa/v1/applications/1/events?ack=1&timeout=3"), .hold(seconds: 3, then: reply("/ucwa/v1/applications/1/events?ack=1&timeout=3").response))
        for (target, seconds) in [("/ucwa/x", 5), ("/ucwa/x?timeout=900", 120), ("/ucwa/x?timeout=-4", 0), ("/ucwa/x?TIMEOUT=1", 1), ("/ucwa/x?timeout=abc", 5)] {
            guard case .hold(let held, let response) = reply(target) else { return XCTFail(target) }
            XCTAssertEqual(held, seconds, target)
            XCTAssertEqual(response.status, 200)
            XCTAssertTrue(response.body.hasPrefix("{\"events\":[]"))
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(response.body.utf8)))
        }
    }

    func testHealthAndNotFound() {
        XCTAssertEqual(reply("/health").response.body, "OK")
        XCTAssertEqual(reply("/HEALTH").response.status, 200)
        let missing = reply("/no/such/thing")
        XCTAssertEqual(missing.response.status, 404)
        XCTAssertTrue(missing.response.body.contains("/no/such/thing"))
    }

    func testJSONEscapesWhatItEchoes() {
        XCTAssertEqual(DemoRouter.jsonEscaped("a\"b\\c\n\u{01}"), "a\\\"b\\\\c\\n\\u0001")
        XCTAssertEqual(DemoRouter.hostName("[::1]:8443"), "[::1]")
        XCTAssertEqual(DemoRouter.hostName("Meet.Contoso.test:8443"), "meet.contoso.test")
    }
}
