// Signs a sample GitHub delivery with GitHub's own library,
// @octokit/webhooks-methods, and prints the cases for tests/it/providers.rs
// (the same shape sign.py prints).
import { readFileSync } from "node:fs";
import { sign, verify } from "@octokit/webhooks-methods";

const NOW = 1_765_000_000;
const secret = "It's a Secret to Everybody";
const body = readFileSync(new URL("./samples/github_ping.json", import.meta.url), "utf8");
const signature = await sign(secret, body);
if (!(await verify(secret, body, signature))) throw new Error("octokit refuses its own signature");
const headers = [
  ["X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"],
  ["X-GitHub-Event", "ping"],
  ["X-Hub-Signature-256", signature],
];
const event = { id: "72d3162e-cc78-11e3-81ab-4c9367dc0958", event_type: "ping", tenant: "Octocoders" };
const spec = { scheme: "github", secret };
const cases = [
  { name: "github: ping", spec, headers, body, query: null, now: NOW, expect: "ok", event },
  { name: "github: wrong secret", spec: { scheme: "github", secret: "another" }, headers, body, query: null, now: NOW, expect: "SIGNATURE_INVALID", event: null },
  { name: "github: unsigned", spec, headers: headers.slice(0, 2), body, query: null, now: NOW, expect: "SIGNATURE_MISSING", event: null },
];
process.stdout.write(JSON.stringify(cases));
