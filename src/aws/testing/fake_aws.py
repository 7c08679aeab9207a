#!/usr/bin/env python3
"""A local stand-in for the AWS endpoints the S3 module talks to, for unit tests.

Prints the port it listens on (127.0.0.1) as the first line of stdout, then serves:
  PUT  /latest/api/token                          IMDSv2 session token
  GET  /latest/meta-data/iam/security-credentials/[ROLE]   IMDS role and credentials
  GET  /ecs/creds                                 ECS agent (needs Authorization)
  POST /sts/                                      STS AssumeRoleWithWebIdentity
  POST /_script                                   JSON list of scripted answers for S3 calls
  GET  /_log                                      JSON list of requests seen (not /_*)
  anything else                                   the next scripted answer, else 200 ""
A scripted answer is {"status": 503, "body": "<xml>", "headers": {..},
"truncate": true (announce the length, send half, close), "reset": true (close without
answering)}. Credentials handed out carry a counter so tests can see refreshes.
"""
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IMDS_TOKEN = "imds-session-token"
ECS_TOKEN = "ecs-authorization-token"
WEB_TOKEN = "web-identity-token"
EXPIRATION = "2030-01-01T00:00:00Z"

lock = threading.Lock()
script = []
log = []
counters = {}


def next_count(name):
    with lock:
        counters[name] = counters.get(name, 0) + 1
        return counters[name]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        headers = headers or {}
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def creds_json(self, prefix):
        n = next_count(prefix)
        return json.dumps({"Code": "Success", "AccessKeyId": f"{prefix}{n}",
                           "SecretAccessKey": f"{prefix}-secret-{n}",
                           "Token": f"{prefix}-token-{n}", "Expiration": EXPIRATION})

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urllib.parse.urlparse(self.path).path
        if not path.startswith("/_"):
            with lock:
                log.append({"method": self.command, "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body_size": len(body), "client_port": self.client_address[1]})
        if path == "/_script":
            with lock:
                script.extend(json.loads(body))
            return self.reply(200)
        if path == "/_log":
            with lock:
                return self.reply(200, json.dumps(log))
        if path == "/latest/api/token" and self.command == "PUT":
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.reply(400)
            return self.reply(200, IMDS_TOKEN)
        if path.startswith("/latest/meta-data/iam/security-credentials/"):
            if self.headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
                return self.reply(401)
            role = path[len("/latest/meta-data/iam/security-credentials/"):]
            if not role:
                return self.reply(200, "test-role")
            if role != "test-role":
                return self.reply(404)
            return self.reply(200, self.creds_json("IMDS"))
        if path == "/ecs/creds":
            if self.headers.get("Authorization") != ECS_TOKEN:
                return self.reply(403)
            return self.reply(200, self.creds_json("ECS"))
        if path.startswith("/sts"):
            form = urllib.parse.parse_qs(body.decode())
            if form.get("Action") != ["AssumeRoleWithWebIdentity"] or \
                    form.get("WebIdentityToken") != [WEB_TOKEN]:
                return self.reply(400, "<ErrorResponse><Error><Code>InvalidIdentityToken"
                                  "</Code><Message>bad token</Message></Error></ErrorResponse>")
            n = next_count("STS")
            xml = ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
                   f"<Credentials><AccessKeyId>STS{n}</AccessKeyId>"
                   f"<SecretAccessKey>STS-secret-{n}</SecretAccessKey>"
                   f"<SessionToken>STS-token-{n}</SessionToken>"
                   f"<Expiration>{EXPIRATION}</Expiration></Credentials>"
                   "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>")
            return self.reply(200, xml)
        with lock:
            answer = script.pop(0) if script else {}
        if answer.get("reset"):
            self.close_connection = True
            return
        status = answer.get("status", 200)
        payload = answer.get("body", "").encode()
        if answer.get("truncate"):
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.reply(status, payload, answer.get("headers"))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
