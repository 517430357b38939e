import Foundation

/// The request shapes Lync / Skype for Business clients send to the reverse proxy, derived
/// from lync-publishing.md §1–§3 (public names, paths, ports) and §7 (failure modes), for the
/// sample deployment of `LyncCorpusTests`: SIP domains contoso.test and fabrikam.test, pool
/// `webext`, Director `webdirext`, Office Web Apps `officewebapps01`, HTTP autodiscover.
enum LyncCorpus {
    /// Where a request must land: one of the deployment's sites (the pool member is the one
    /// source persistence picks for the client), or nowhere (edgesplit answers itself).
    enum Site: String {
        case pool, director, directorHTTP = "director-http", owas, none
    }

    enum Listener: String { case https, http }

    struct Shape {
        let id: String
        let listener: Listener
        let method: String
        let host: String
        let target: String
        var headers: [String] = []
        var body: [UInt8] = []
        let site: Site
        let status: Int
        /// The public certificate covers the name (published names); unpublished names are
        /// reached with hostname verification off, as a user clicking through would.
        var certified = true
        /// Response headers that must arrive exactly (name, values in order).
        var responseValues: [(String, [String])] = []
    }

    static let d1 = "contoso.test"
    static let d2 = "fabrikam.test"
    static let webext = "webext.contoso.test"
    static let webdirext = "webdirext.contoso.test"
    static let owas = "officewebapps01.contoso.test"

    /// A multi-KB web ticket header, as Lync mobile clients send to MCX.
    static let webTicket = "X-MS-WebTicket: opaque=" + String(repeating: "PHNhbWw6QXNzZXJ0aW9uIE1ham9yVmVyc2lvbj0iMSI+", count: 400)
    static let bearer = "Authorization: Bearer cwt=AAEBHAEFAAAAAAAFFQAAAJ7Ys0xC1w8GCg3SEGEYAACBEL5k0K0f5x5QlNcLw3Z4M_iCELNJPv5TKrQpr8D0n6U8a-KDAggzqZ6ZCrDTCA"
    /// A Lync Web App content upload: several MB, within the template's max_body (500 MB).
    static let upload: [UInt8] = (0..<(3 * 1024 * 1024 + 17)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    static let wopiSrc =
        "WopiSrc=https%3A%2F%2Fwebext.contoso.test%2FDataCollabWeb%2Fwopi%2Ffiles%2F3-1-AB12CD34%252F%253D"
        + "&access_token=AAAB%2BxyZ%2F%3D%3D&access_token_ttl=1637500000000&ui=en-US&rs=en-US"
    static let abs401: [(String, [String])] = [("www-authenticate", ["Negotiate", "NTLM"])]

    static var shapes: [Shape] {
        var s: [Shape] = []
        func add(
            _ id: String, _ listener: Listener = .https, _ method: String = "GET", _ host: String, _ target: String,
            _ site: Site, _ status: Int = 200, headers: [String] = [], body: [UInt8] = [], certified: Bool = true,
            values: [(String, [String])] = []
        ) {
            s.append(Shape(
                id: id, listener: listener, method: method, host: host, target: target, headers: headers, body: body,
                site: site, status: status, certified: certified, responseValues: values
            ))
        }
        let json = ["Accept: application/json", "Content-Type: application/json"]
        let soap = Array("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>".utf8)

        // Autodiscover over HTTP (port 80 → the first hop on 8080, plain): mobile clients' first try.
        add("ad-http-sipuri-1", .http, "GET", "lyncdiscover.\(d1)", "/?sipuri=alice@\(d1)", .directorHTTP)
        add("ad-http-sipuri-2", .http, "GET", "lyncdiscover.\(d2)", "/?sipuri=sip:bob%40\(d2)", .directorHTTP)
        add("ad-http-root", .http, "GET", "lyncdiscover.\(d1)", "/", .directorHTTP,
            headers: ["Accept: application/vnd.microsoft.rtc.autodiscover+xml; v=1"])
        add("ad-http-svc-root", .http, "GET", "lyncdiscover.\(d2)", "/Autodiscover/AutodiscoverService.svc/root?originalDomain=\(d2)", .directorHTTP)
        // HTTP publishes autodiscover only.
        add("http-webext-not-published", .http, "GET", webext, "/abs/handler", .none, 404)
        add("http-meet-not-published", .http, "GET", "meet.\(d1)", "/alice/ABC123", .none, 404)
        add("http-lyncdiscoverinternal", .http, "GET", "lyncdiscoverinternal.\(d1)", "/?sipuri=alice@\(d1)", .none, 404)
        add("http-admin", .http, "GET", "admin.\(d1)", "/", .none, 403)

        // Autodiscover over HTTPS → the first hop (Director).
        add("ad-https-sipuri-1", .https, "GET", "lyncdiscover.\(d1)", "/?sipuri=alice@\(d1)", .director)
        add("ad-https-sipuri-2", .https, "GET", "lyncdiscover.\(d2)", "/?sipuri=bob@\(d2)", .director, headers: json)
        add("ad-https-svc-root", .https, "GET", "lyncdiscover.\(d1)", "/Autodiscover/AutodiscoverService.svc/root", .director)
        add("ad-https-oauth-user", .https, "GET", "lyncdiscover.\(d2)",
            "/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=\(d2)", .director, headers: [bearer] + json)
        add("ad-https-xframe", .https, "GET", "lyncdiscover.\(d1)", "/Autodiscover/XFrame/XFrame.html", .director)
        add("ad-director-user", .https, "GET", webdirext, "/Autodiscover/AutodiscoverService.svc/root/user?originalDomain=\(d1)", .director)
        add("director-webticket-mex", .https, "GET", webdirext, "/WebTicket/WebTicketService.svc/mex", .director,
            headers: ["X-User-Identity: alice@\(d1)"])
        add("director-oauthtoken", .https, "POST", webdirext, "/WebTicket/oauthtoken", .director,
            headers: ["Content-Type: application/x-www-form-urlencoded;charset=UTF-8"],
            body: Array("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Awindows".utf8))

        // The pool's external web services.
        add("pool-ad-oauth-user", .https, "GET", webext, "/Autodiscover/AutodiscoverService.svc/root/oauth/user", .pool, headers: json)
        add("pool-xframe", .https, "GET", webext, "/Autodiscover/XFrame/XFrame.html", .pool)
        add("ucwa-applications", .https, "POST", webext, "/ucwa/oauth/v1/applications", .pool, headers: [bearer] + json,
            body: Array(#"{"UserAgent":"UCWA Samples","EndpointId":"a917c6f4-976c-4cf3-847d-cdfffa28ccdf","Culture":"en-US"}"#.utf8))
        add("ucwa-v1-applications", .https, "GET", webext, "/ucwa/v1/applications", .pool, headers: json)
        add("ucwa-events", .https, "GET", webext, "/ucwa/oauth/v1/applications/103723869316/events?ack=5&timeout=900", .pool, headers: [bearer])
        add("ucwa-events-aggregated", .https, "GET", webext,
            "/ucwa/v1/applications/103723869316/events?ack=6&medium=300&low=600&timeout=900", .pool, headers: [bearer])
        add("mcx", .https, "POST", webext, "/Mcx/McxService.svc", .pool,
            headers: [webTicket, "Content-Type: application/soap+xml; charset=utf-8"], body: soap)
        add("mcx-lowercase", .https, "GET", webext, "/mcx/mcxservice.svc", .pool)
        add("abs-root", .https, "GET", webext, "/abs/handler", .pool, 401, values: abs401)
        add("abs-full-file", .https, "GET", webext, "/abs/handler/f-1299.lsabs", .pool, 401, values: abs401)
        add("abs-delta-file", .https, "GET", webext, "/abs/handler/D-1298-1299.lsabs", .pool, 401,
            headers: ["Accept-Encoding: gzip"], values: abs401)
        add("groupexpansion", .https, "POST", webext, "/groupexpansion/service.svc", .pool, 401,
            headers: ["Content-Type: text/xml; charset=utf-8", "SOAPAction: \"DistributionListExpansion\""], body: soap, values: abs401)
        add("certprov", .https, "POST", webext, "/CertProv/CertProvisioningService.svc", .pool,
            headers: ["Content-Type: application/soap+xml; charset=utf-8", "Expect: 100-continue"], body: soap)
        add("webticket-mex", .https, "GET", webext, "/WebTicket/WebTicketService.svc/mex", .pool,
            headers: ["X-User-Identity: alice@\(d1)"])
        add("webticket-auth", .https, "POST", webext, "/WebTicket/WebTicketService.svc/Auth", .pool,
            headers: ["Content-Type: application/soap+xml; charset=utf-8"], body: soap)
        add("oauthtoken", .https, "POST", webext, "/WebTicket/oauthtoken", .pool,
            headers: ["Content-Type: application/x-www-form-urlencoded"],
            body: Array("grant_type=password&username=alice%40contoso.test&password=p%26ss%3D".utf8))
        add("reach-authbroker", .https, "GET", webext, "/Reach/sip.svc", .pool)
        add("reach-join-2010", .https, "GET", webext, "/Reach/Client/WebPages/ReachJoin.aspx?xml=PD94bWwgdmVyc2lvbj0iMS4wIj8%2B&&reachLocale=en-US", .pool)
        add("lwa-client", .https, "GET", webext,
            "/lwa/WebPages/LwaClient.aspx?legacy=UmVhY2hKb2lu&xml=PGNvbmYtaW5mbz48L2NvbmYtaW5mbz4%3D&meeturl=aHR0cHM6Ly9tZWV0LmNvbnRvc28udGVzdC9hbGljZS9BQkMxMjM%3D",
            .pool)
        add("datacollab-upload", .https, "POST", webext,
            "/DataCollabWeb/Ext/Handler/FileUpload.ashx?sessionId=2b5a5d43-5c59-4b53-9a56-0c0bd5d22e5a&fileName=Q3%20Review.pptx",
            .pool, headers: ["Content-Type: application/octet-stream", "Expect: 100-continue"], body: upload)
        add("datacollab-chunked", .https, "POST", webext, "/DataCollabWeb/Ext/Handler/FileUpload.ashx?sessionId=2b5a5d43&chunk=1",
            .pool, headers: ["Content-Type: application/octet-stream", "Transfer-Encoding: chunked"],
            body: Array("4000\r\n".utf8) + upload.prefix(0x4000) + Array("\r\n1b;ext=1\r\n".utf8) + upload.prefix(0x1b)
                + Array("\r\n0\r\n\r\n".utf8))
        add("ucwa-cors-preflight", .https, "OPTIONS", webext, "/ucwa/v1/applications", .pool,
            headers: ["Origin: https://apps.contoso.test", "Access-Control-Request-Method: POST",
                      "Access-Control-Request-Headers: authorization,content-type"])
        add("datacollab-wopi", .https, "GET", webext, "/DataCollabWeb/wopi/files/3-1-AB12CD34?access_token=AAAB%2BxyZ%2F%3D%3D", .pool)
        add("pool-meet-page", .https, "GET", webext, "/meet", .pool)
        add("pool-dialin-page", .https, "GET", webext, "/dialin", .pool)
        add("scheduler", .https, "GET", webext, "/Scheduler", .pool)
        add("rgs-agent", .https, "POST", webext, "/RgsClients/AgentService.svc", .pool,
            headers: ["Content-Type: text/xml; charset=utf-8"], body: soap)
        add("collabcontent", .https, "GET", webext, "/CollabContent/Dynamic/8f3a%2Fc1/Q3%C3%A4%20Review.pptx", .pool)
        add("device-update", .https, "POST", webext, "/RequestHandlerExt/ucdevice.upx", .pool,
            headers: ["Content-Type: application/vnd-microsoft-ucdevice-update+xml"], body: Array("<UpdateRequest/>".utf8))
        add("device-files", .https, "GET", webext, "/RequestHandlerExt/Files/UCPhone/Polycom/CX600/ENU/4.0.7577.4100/CX600.cab", .pool)
        add("passiveauth", .https, "GET", webext, "/passiveauth/federationmetadata/2007-06/federationmetadata.xml", .pool)
        add("pool-host-with-port", .https, "GET", "\(webext):443", "/ucwa/v1/applications", .pool)
        add("pool-host-mixed-case", .https, "GET", "WebExt.Contoso.Test", "/Autodiscover/AutodiscoverService.svc/root", .pool)

        // Simple URLs (meet for each SIP domain, dial-in) → the Director, routed there by Host.
        add("meet-d1", .https, "GET", "meet.\(d1)", "/alice/ABC123", .director)
        add("meet-d2", .https, "GET", "meet.\(d2)", "/user/CONFID", .director)
        add("meet-d1-option2", .https, "GET", "meet.\(d1)", "/meet/alice/ABC123?sl=1", .director)
        add("meet-d2-js", .https, "GET", "meet.\(d2)", "/meet/JavaScriptResourceHandler.ashx?lcs_se_w15.0.4481.1000&language=en-US", .director)
        add("dialin", .https, "GET", "dialin.\(d1)", "/", .director)
        add("dialin-path", .https, "GET", "dialin.\(d1)", "/dialin?lang=en-US", .director)
        // One dial-in URL per organisation: the second domain's is not published.
        add("dialin-d2-not-published", .https, "GET", "dialin.\(d2)", "/", .none, 404, certified: false)

        // Office Web Apps Server (443 → 443): encoded WopiSrc byte for byte.
        add("owas-discovery", .https, "GET", owas, "/hosting/discovery", .owas)
        add("owas-presenter", .https, "GET", owas, "/m/Presenter.aspx?\(wopiSrc)", .owas)
        add("owas-participant", .https, "GET", owas, "/m/ParticipantFrame.aspx?\(wopiSrc)&PresenterId=%7B8B1C%7D", .owas)

        // Never published.
        add("lyncdiscoverinternal-d1", .https, "GET", "lyncdiscoverinternal.\(d1)", "/?sipuri=alice@\(d1)", .none, 404, certified: false)
        add("lyncdiscoverinternal-d2", .https, "GET", "lyncdiscoverinternal.\(d2)", "/", .none, 404, certified: false)
        add("admin-d1", .https, "GET", "admin.\(d1)", "/", .none, 403, certified: false)
        add("admin-d2", .https, "GET", "admin.\(d2)", "/Default.aspx", .none, 403, certified: false)
        add("unknown-name", .https, "GET", "www.\(d1)", "/", .none, 404, certified: false)
        return s
    }
}
