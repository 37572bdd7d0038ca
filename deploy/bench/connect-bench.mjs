// SPDX-License-Identifier: MIT
// connect-bench.mjs: the Connect protocol's cost, measured with a client
// nobody here wrote (@connectrpc/connect-node over HTTP/1.1).
//
//   node connect-bench.mjs DESCRIPTOR_SET BASE_URL IDS_FILE WORKLOAD CLIENTS SECONDS [json|binary]
//
// WORKLOAD get: GetProduct of a random id; update: GetProduct then
// UpdateStock with the version read (two RPCs, as inventory-bench's
// update; a conflict counts as done).  CLIENTS loops in one Node process,
// closed loop, for SECONDS.  Prints one line:
//   connect W=update clients=8 codec=binary ops=... ops_s=... rpcs_s=... p50_ms=... p99_ms=... errors=...
// (latency per operation).  Run it from a folder where
// tests/contract/connect_node/package.json is installed (npm ci), e.g. as
// deploy/bench/README.md shows; DESCRIPTOR_SET from
// `protoc --include_imports --descriptor_set_out`.
import { readFileSync } from "node:fs";
import { fromBinary, createFileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

const [desc, baseUrl, idsFile, workload, clientsArg, secondsArg, codec = "binary"] = process.argv.slice(2);
if (!secondsArg || !["get", "update"].includes(workload)) {
  console.error("usage: node connect-bench.mjs DESCRIPTOR_SET BASE_URL IDS_FILE get|update CLIENTS SECONDS [json|binary]");
  process.exit(2);
}
const ids = readFileSync(idsFile, "utf8").split("\n").filter((l) => l.length === 36);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(desc)));
const service = registry.getService("inventory.v1.InventoryService");
const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: codec === "binary" });
const client = createClient(service, transport);
const clients = Number(clientsArg);
const until = performance.now() + Number(secondsArg) * 1000;
const lat = [];
let rpcs = 0, errors = 0, firstError = "";

async function loop() {
  while (performance.now() < until) {
    const id = ids[Math.floor(Math.random() * ids.length)];
    const t0 = performance.now();
    try {
      const got = await client.getProduct({ id });
      rpcs++;
      if (workload === "update") {
        const p = got.product;
        rpcs++;
        try {
          await client.updateStock({ id, expectedVersion: p.version, stock: (p.stock + 1n) % 1000n });
        } catch (e) {
          if (ConnectError.from(e).code !== Code.Aborted) throw e;
        }
      }
      lat.push(performance.now() - t0);
    } catch (e) {
      if (errors++ === 0) firstError = ConnectError.from(e).message;
    }
  }
}

const start = performance.now();
await Promise.all(Array.from({ length: clients }, loop));
const secs = (performance.now() - start) / 1000;
lat.sort((a, b) => a - b);
const q = (f) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] : 0);
console.log(`connect W=${workload} clients=${clients} codec=${codec} ops=${lat.length} ` +
  `ops_s=${(lat.length / secs).toFixed(0)} rpcs_s=${(rpcs / secs).toFixed(0)} ` +
  `p50_ms=${q(0.5).toFixed(2)} p99_ms=${q(0.99).toFixed(2)} errors=${errors}` +
  (firstError ? ` first_error="${firstError}"` : ""));
