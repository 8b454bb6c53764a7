internal import CCurl
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// How long a request may take before it counts as failed. A registry that accepts the
/// connection and then sends nothing must not hang `runxl image pull` forever.
struct HTTPTimeouts: Sendable {
    /// Seconds to establish the TCP (and TLS) connection.
    var connectSeconds: Int
    /// A transfer slower than 1 byte/s for this long is abandoned (a hung server).
    var stallSeconds: Int
    /// An upper bound on the whole exchange; nil for blobs, whose size is unbounded.
    var totalSeconds: Int?
}

/// What one exchange produced: the final response's status and headers, and the body when the
/// caller did not stream it elsewhere.
final class HTTPExchange {
    fileprivate(set) var status = 0
    fileprivate(set) var headers: [(name: String, value: String)] = []
    /// The body of a non-2xx response, or of a 2xx one without a sink; capped at `bodyLimit`.
    fileprivate(set) var body: [UInt8] = []
    /// Body bytes this exchange received (all of them, also past `bodyLimit`).
    fileprivate(set) var received: Int64 = 0
    /// Set when the sink refused data; the transfer was aborted because of it.
    fileprivate(set) var sinkError: RunxlError?
    fileprivate(set) var bodyOverflow = false
    let bodyLimit: Int
    /// Receives 2xx bodies; throwing aborts the transfer.
    let sink: ((HTTPExchange, UnsafeRawBufferPointer) throws(RunxlError) -> Void)?

    init(bodyLimit: Int = 1 << 16, sink: ((HTTPExchange, UnsafeRawBufferPointer) throws(RunxlError) -> Void)? = nil) {
        self.bodyLimit = bodyLimit
        self.sink = sink
    }

    /// The last value of a header, by case-insensitive name.
    func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.last(where: { $0.name == wanted })?.value
    }

    var isSuccess: Bool { (200..<300).contains(status) }

    fileprivate func receiveHeader(_ line: String) {
        let trimmed = line.trimmingSuffix { $0.isNewline }
        if trimmed.hasPrefix("HTTP/") {
            // A new response (after a redirect or a 100 Continue): forget the previous one's.
            headers = []
            let parts = trimmed.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            return
        }
        guard let colon = trimmed.firstIndex(of: ":") else { return }
        let name = trimmed[..<colon].lowercased()
        let value = trimmed[trimmed.index(after: colon)...].trimmingPrefix { $0 == " " || $0 == "\t" }
        headers.append((name, String(value)))
    }

    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        received += Int64(bytes.count)
        if isSuccess, let sink {
            do {
                try sink(self, bytes)
            } catch {
                sinkError = error
                return false
            }
            return true
        }
        let room = bodyLimit - body.count
        if bytes.count > room {
            bodyOverflow = true
            body.append(contentsOf: bytes.prefix(max(0, room)))
        } else {
            body.append(contentsOf: bytes)
        }
        return true
    }
}

extension StringProtocol {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var text = Substring(self)
        while let last = text.last, predicate(last) { text = text.dropLast() }
        return text
    }
}

private let headerCallback: rx_curl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let exchange = Unmanaged<HTTPExchange>.fromOpaque(context).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
    exchange.receiveHeader(String(decoding: bytes, as: UTF8.self))
    return size * count
}

private let bodyCallback: rx_curl_data_callback = { data, size, count, context in
    guard let context else { return 0 }
    let exchange = Unmanaged<HTTPExchange>.fromOpaque(context).takeUnretainedValue()
    // Returning fewer bytes than given makes libcurl abort with CURLE_WRITE_ERROR.
    return exchange.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
}

/// A libcurl failure: its code and libcurl's own words for it.
struct CurlFailure: Error, Sendable, CustomStringConvertible {
    let code: Int
    let text: String
    var description: String { text }

    var isTimeout: Bool { code == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
    /// A connection that dropped or stalled mid-body: worth another try from where it stopped.
    var isInterruption: Bool {
        [CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_OPERATION_TIMEDOUT,
         CURLE_HTTP2, CURLE_HTTP2_STREAM].contains { Int($0.rawValue) == code }
    }
}

/// One libcurl easy handle. Reused for every request of a pull so that they share a connection
/// (and its TLS session); not for use from two threads at once.
final class HTTPTransport {
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init() throws(RunxlError) {
        if let failure = runxl_curl_load() {
            throw RunxlError(
                .registryFailed,
                "cannot load libcurl (\(String(cString: failure))): install libcurl4 (libcurl4-openssl-dev to build runxl)")
        }
        guard let handle = rx_curl_easy_init() else { throw RunxlError(.internal, "libcurl could not allocate a handle") }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        // Signals would interrupt other threads' system calls; timeouts use libcurl's own clock.
        rx_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        rx_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1)
        rx_curl_setopt_long(handle, CURLOPT_MAXREDIRS, 5)
        rx_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        rx_curl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        rx_curl_setopt_string(handle, CURLOPT_USERAGENT, "runxl/0.1")
        // Larger reads mean fewer callbacks and write(2) calls per blob.
        rx_curl_setopt_long(handle, CURLOPT_BUFFERSIZE, 512 * 1024)
        rx_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        rx_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
        rx_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        rx_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, headerCallback)
        rx_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, bodyCallback)
    }

    deinit {
        rx_curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Runs one GET. Returns a libcurl failure (connection, timeout, aborted by the sink) or nil
    /// when a response arrived, whatever its status.
    func get(
        _ url: String, headers: [String], rangeFrom offset: Int64? = nil, timeouts: HTTPTimeouts, into exchange: HTTPExchange
    ) -> CurlFailure? {
        var list: UnsafeMutablePointer<curl_slist>?
        for header in headers { list = rx_curl_slist_append(list, header) ?? list }
        defer { rx_curl_slist_free_all(list) }
        errorBuffer[0] = 0
        rx_curl_setopt_string(handle, CURLOPT_URL, url)
        rx_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
        rx_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        if let offset {
            rx_curl_setopt_string(handle, CURLOPT_RANGE, "\(offset)-")
        } else {
            rx_curl_setopt_pointer(handle, CURLOPT_RANGE, nil)
        }
        rx_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, timeouts.connectSeconds)
        rx_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, timeouts.stallSeconds)
        rx_curl_setopt_long(handle, CURLOPT_TIMEOUT, timeouts.totalSeconds ?? 0)
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        rx_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
        rx_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        let code = withExtendedLifetime(exchange) { rx_curl_easy_perform(handle) }
        var status = 0
        if rx_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK, status != 0 { exchange.status = status }
        guard code != CURLE_OK else { return nil }
        let detail = String(cString: errorBuffer)
        let text = detail.isEmpty ? String(cString: rx_curl_easy_strerror(code)) : detail
        return CurlFailure(code: Int(code.rawValue), text: text)
    }
}
