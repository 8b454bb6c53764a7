#!/usr/bin/env python3
"""A misbehaving OCI distribution registry for the pull failure tests, serving one image layout.

The repository name (first path component after /v2/) picks the behaviour; the rest of the
name is ignored, tags are the layout's ref.name annotations, and digests address its blobs:
  good/...      serves the layout as a registry would
  tamper/...    blobs with one byte changed (same length, same URL)
  missing/...   404 MANIFEST_UNKNOWN for every manifest
  denied/...    401 with a Bearer challenge whose token server refuses (401) too
  error/...     500 for everything
  hang/...      accepts the request and never answers
  drop/...      each blob's first response stops after half its bytes and closes the
                connection; Range requests are honoured (206)
  stall/...     manifests are served; every blob response stops after half its bytes and
                keeps the connection open without sending more
  bearer/...    the Bearer token flow: /token wants basic USER:PASSWORD (--user, --password)
                and the token must come back on every request
  oddtype/...   manifests served as application/vnd.example.unknown+json
  armonly/...   an image index that lists only a linux/arm64 manifest
Usage: fake-registry.py --layout DIR --port-file F [--user U --password P]
"""
import argparse, base64, hashlib, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layout", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--user", default="runxl")
    parser.add_argument("--password", default="secret")
    args = parser.parse_args()
    layout = args.layout
    index = json.load(open(os.path.join(layout, "index.json")))
    tags = {m.get("annotations", {}).get("org.opencontainers.image.ref.name", "latest"): m for m in index["manifests"]}
    basic = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    dropped = set()
    lock = threading.Lock()

    arm_index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 100,
         "digest": "sha256:" + "a" * 64, "platform": {"architecture": "arm64", "os": "linux"}}]}).encode()

    def blob(digest):
        path = os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[-1])
        return open(path, "rb").read() if os.path.isfile(path) else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def reply(self, status, body=b"", content_type="application/json", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def error_json(self, status, code, message, headers=()):
            self.reply(status, json.dumps({"errors": [{"code": code, "message": message}]}).encode(), headers=headers)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            host = self.headers.get("Host", "127.0.0.1")
            if self.path.startswith("/token"):
                if self.path.startswith("/token/deny") or self.headers.get("Authorization") != basic:
                    return self.error_json(401, "UNAUTHORIZED", "bad credentials")
                return self.reply(200, json.dumps({"token": "good-token", "expires_in": 300}).encode())
            if not self.path.startswith("/v2/"):
                return self.error_json(404, "NOT_FOUND", "no such endpoint")
            parts = self.path[len("/v2/"):].split("/")
            mode = parts[0]
            if len(parts) < 3 or parts[-2] not in ("manifests", "blobs"):
                return self.reply(200, b"{}")
            kind, reference = parts[-2], parts[-1]
            if mode == "error":
                return self.error_json(500, "UNKNOWN", "the test server fails on purpose")
            if mode == "hang":
                time.sleep(3600)
                return
            if mode == "denied":
                return self.error_json(401, "UNAUTHORIZED", "authentication required", headers=[
                    ("WWW-Authenticate", f'Bearer realm="http://{host}/token/deny",service="fake",scope="repository:denied:pull"')])
            if mode == "bearer" and self.headers.get("Authorization") != "Bearer good-token":
                return self.error_json(401, "UNAUTHORIZED", "authentication required", headers=[
                    ("WWW-Authenticate", f'Bearer realm="http://{host}/token",service="fake",scope="repository:{"/".join(parts[:-2])}:pull"')])
            if kind == "manifests":
                if mode == "missing":
                    return self.error_json(404, "MANIFEST_UNKNOWN", f"manifest unknown: {reference}")
                if mode == "armonly":
                    return self.reply(200, arm_index, "application/vnd.oci.image.index.v1+json")
                if reference.startswith("sha256:"):
                    body = blob(reference)
                    media = None
                    if body is not None:
                        media = json.loads(body).get("mediaType") or "application/vnd.oci.image.manifest.v1+json"
                elif reference in tags:
                    entry = tags[reference]
                    body, media = blob(entry["digest"]), entry["mediaType"]
                else:
                    body = None
                if body is None:
                    return self.error_json(404, "MANIFEST_UNKNOWN", f"manifest unknown: {reference}")
                if mode == "oddtype":
                    media = "application/vnd.example.unknown+json"
                return self.reply(200, body, media, headers=[("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())])
            body = blob(reference)
            if body is None:
                return self.error_json(404, "BLOB_UNKNOWN", f"blob unknown: {reference}")
            if mode == "tamper":
                body = body[:-1] + bytes([body[-1] ^ 0xFF])
            if mode == "stall":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                time.sleep(3600)
                return
            if mode == "drop":
                with lock:
                    first = reference not in dropped
                    dropped.add(reference)
                if first:
                    half = len(body) // 2
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:half])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                ranged = self.headers.get("Range", "")
                if ranged.startswith("bytes=") and ranged.endswith("-"):
                    start = int(ranged[len("bytes="):-1])
                    return self.reply(206, body[start:], "application/octet-stream",
                                      headers=[("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")])
            return self.reply(200, body, "application/octet-stream")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()

if __name__ == "__main__":
    sys.exit(main())
