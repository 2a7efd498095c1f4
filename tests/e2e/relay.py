#!/usr/bin/env python3
"""relay.py - a loopback HTTP relay in front of the fake IdP, for tests.

It runs in one of two modes:

  reverse (default)  clients send ordinary requests to the relay, which
                     passes them on to --target.  --tls CERT KEY makes the
                     relay an HTTPS server, and --gzip compresses response
                     bodies for clients that accept gzip.  Link headers that
                     point at the target are rewritten to point at the relay.
  --proxy            an HTTP forward proxy: clients send absolute-form
                     requests ("GET http://host:port/path HTTP/1.1"), and the
                     relay passes each one to the host it names.  Only
                     loopback hosts are accepted.

Every request is appended to --log as one JSON line with the method, the
request target and the Accept-Encoding and Content-Encoding values.
"""
import argparse
import gzip
import http.client
import http.server
import json
import os
import ssl
import sys
import threading
import urllib.parse

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding",
    "content-length", "content-encoding", "te", "trailer", "upgrade",
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True,
                        help="file that receives the listening port")
    parser.add_argument("--target", help="origin to relay to, e.g. http://127.0.0.1:8080")
    parser.add_argument("--proxy", action="store_true", help="act as a forward proxy")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                        help="serve HTTPS with this certificate and key")
    parser.add_argument("--gzip", action="store_true",
                        help="gzip bodies when the client accepts gzip")
    parser.add_argument("--log", required=True, help="request log, one JSON line each")
    args = parser.parse_args()
    if not args.proxy and not args.target:
        parser.error("--target is required unless --proxy is given")
    return args


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    args = None
    own_origin = None
    log_lock = threading.Lock()

    def log_message(self, format, *args):  # noqa: A002 - the base class names it
        pass

    def upstream(self):
        """Returns (host, port, path) of the request to send on, or None."""
        if self.args.proxy:
            url = urllib.parse.urlsplit(self.path)
            if url.scheme != "http" or url.hostname not in ("127.0.0.1", "localhost"):
                return None
            path = url.path + ("?" + url.query if url.query else "")
            return url.hostname, url.port or 80, path
        url = urllib.parse.urlsplit(self.args.target)
        return url.hostname, url.port or 80, self.path

    def record(self, content_encoding):
        entry = {
            "method": self.command,
            "target": self.path,
            "accept_encoding": self.headers.get("Accept-Encoding"),
            "content_encoding": content_encoding,
        }
        with self.log_lock, open(self.args.log, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")

    def relay(self):
        where = self.upstream()
        if where is None:
            self.send_error(403, "only http:// loopback targets are relayed")
            return
        host, port, path = where
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() != "accept-encoding"}

        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection.request(self.command, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            reply_headers = response.getheaders()
        finally:
            connection.close()

        encoding = None
        if self.args.gzip and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            data = gzip.compress(data)
            encoding = "gzip"
        self.record(encoding)

        self.send_response(response.status, response.reason)
        target_origin = "http://%s:%d" % (host, port)
        for name, value in reply_headers:
            if name.lower() in HOP_BY_HOP:
                continue
            if name.lower() == "link" and not self.args.proxy:
                value = value.replace(target_origin, self.own_origin)
            self.send_header(name, value)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = relay
    do_POST = relay
    do_HEAD = relay


def main():
    args = parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    server.daemon_threads = True
    port = server.server_address[1]
    scheme = "https" if args.tls else "http"
    Relay.args = args
    Relay.own_origin = "%s://127.0.0.1:%d" % (scheme, port)
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls[0], args.tls[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)

    with open(args.port_file + ".tmp", "w", encoding="utf-8") as port_file:
        port_file.write("%d\n" % port)
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
