#!/usr/bin/env python3
"""A stand-in for EC2 instance metadata (IMDSv2) on a free loopback port.

Usage: fake_imds.py REGION AZ   -- prints the port on the first line, then serves
until killed. A token from PUT /latest/api/token is required for GETs.
"""
import http.server
import sys

REGION, AZ = sys.argv[1], sys.argv[2]
TOKEN = "fake-imds-token"
ITEMS = {
    "/latest/meta-data/placement/region": REGION,
    "/latest/meta-data/placement/availability-zone": AZ,
}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get(
                "X-aws-ec2-metadata-token-ttl-seconds"):
            self.reply(200, TOKEN)
        else:
            self.reply(400, "bad token request")

    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            self.reply(401, "")
        elif self.path in ITEMS:
            self.reply(200, ITEMS[self.path])
        else:
            self.reply(404, "")


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
