#!/usr/bin/env python3
"""A tiny token server for docker-registry's token auth (distribution's token.md).

GET /token?service=S&scope=repository:NAME:pull,push with HTTP basic credentials USER:PASSWORD
answers {"token": JWT}: RS256, signed with KEY, the certificate CERT in the x5c header (the
registry's rootcertbundle holds the same certificate). Without the right credentials the token
grants nothing, so the registry refuses the request that follows. Signing uses the openssl
command, so no Python package beyond the standard library is needed.

Usage: token-server.py --port-file F --key KEY --cert CERT --issuer I --service S --user U --password P
"""
import argparse, base64, json, os, subprocess, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def main():
    parser = argparse.ArgumentParser()
    for name in ("port-file", "key", "cert", "issuer", "service", "user", "password"):
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()
    der = subprocess.run(["openssl", "x509", "-in", args.cert, "-outform", "DER"], check=True, capture_output=True).stdout
    expected = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/token":
                self.send_error(404)
                return
            query = urllib.parse.parse_qs(url.query)
            authorized = self.headers.get("Authorization") == expected
            if self.headers.get("Authorization") and not authorized:
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"details":"wrong user name or password"}')
                return
            access = []
            for scope in query.get("scope", []):
                for item in scope.split(" "):
                    parts = item.split(":")
                    if len(parts) >= 3 and authorized:
                        access.append({"type": parts[0], "name": ":".join(parts[1:-1]), "actions": parts[-1].split(",")})
            now = int(time.time())
            header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
            claims = {"iss": args.issuer, "sub": args.user if authorized else "", "aud": query.get("service", [args.service])[0],
                      "exp": now + 600, "nbf": now - 60, "iat": now, "jti": os.urandom(8).hex(), "access": access}
            signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
            signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.key], input=signing_input.encode(),
                                       check=True, capture_output=True).stdout
            token = signing_input + "." + b64url(signature)
            body = json.dumps({"token": token, "access_token": token, "expires_in": 600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()

if __name__ == "__main__":
    sys.exit(main())
