// SPDX-License-Identifier: MIT
// contract.connect_node: @connectrpc/connect-node (a Connect client nobody
// here wrote) against inventoryd's --http listener, binary and JSON.
//
//   node client.mjs DESCRIPTOR_SET BASE_URL WRITER_TOKEN READER_TOKEN
//
// The service comes from the .proto at run time: DESCRIPTOR_SET is
// `protoc --descriptor_set_out` of proto/inventory/v1/service.proto, read
// into a registry (no generated code).  For each codec: CreateProduct,
// GetProduct, UpdateStock OK; a stale UpdateStock is Code.Aborted with an
// inventory.v1.ErrorDetails detail carrying the current version and
// product; an unknown id is NotFound; no token is Unauthenticated; a
// reader's write is PermissionDenied.  Then, with useHttpGet (the reads
// by GET): GetProduct, BatchGetProducts, ListProducts OK, no token
// Unauthenticated.  (The deadline is checked with curl,
// Connect-Timeout-Ms 0, in connect_test.sh: a 1 ms one races the server.)
// Prints an
// "ok:" line per check and exits 1 on the first failure.
import { readFileSync } from "node:fs";
import { fromBinary, createFileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

const [descPath, baseUrl, writer, reader] = process.argv.slice(2);
if (!reader) {
  console.error("usage: node client.mjs DESCRIPTOR_SET BASE_URL WRITER_TOKEN READER_TOKEN");
  process.exit(2);
}
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(descPath)),
);
const service = registry.getService("inventory.v1.InventoryService");
const detailsSchema = registry.getMessage("inventory.v1.ErrorDetails");
if (!service || !detailsSchema) {
  console.error("FAIL: the descriptor set has no inventory.v1.InventoryService");
  process.exit(1);
}

function check(cond, what, got) {
  if (!cond) {
    console.error(`FAIL: ${what}: ${got === undefined ? "" : JSON.stringify(got, (k, v) => (typeof v === "bigint" ? v.toString() : v))}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function expectError(what, code, fn) {
  try {
    await fn();
  } catch (e) {
    const err = ConnectError.from(e);
    check(err.code === code, `${what}: ${Code[code]}`, { code: Code[err.code], message: err.rawMessage });
    return err;
  }
  check(false, `${what}: ${Code[code]} expected, the call succeeded`);
}

function bearer(token) {
  return { headers: { Authorization: `Bearer ${token}` } };
}

for (const useBinaryFormat of [true, false]) {
  const codec = useBinaryFormat ? "binary" : "JSON";
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat });
  const client = createClient(service, transport);

  const created = await client.createProduct(
    { name: `node ${codec} widget`, stock: 10n, price: "4.50" }, bearer(writer));
  const p = created.product;
  check(p && p.version === 1n && p.stock === 10n && p.id.length === 36,
    `${codec}: CreateProduct`, p);

  const got = await client.getProduct({ id: p.id }, bearer(reader));
  check(got.product.name === `node ${codec} widget` && got.product.price === "4.50",
    `${codec}: GetProduct`, got.product);

  const upd = await client.updateStock({ id: p.id, expectedVersion: 1n, stock: 7n }, bearer(writer));
  check(upd.product.version === 2n && upd.product.stock === 7n, `${codec}: UpdateStock`, upd.product);

  const err = await expectError(`${codec}: stale UpdateStock`, Code.Aborted, () =>
    client.updateStock({ id: p.id, expectedVersion: 1n, stock: 3n }, bearer(writer)));
  const details = err.findDetails(detailsSchema);
  check(details.length === 1 && details[0].currentVersion === 2n &&
    details[0].current && details[0].current.stock === 7n,
    `${codec}: the conflict's ErrorDetails (current version 2, stock 7)`, details);

  await expectError(`${codec}: GetProduct of an unknown id`, Code.NotFound, () =>
    client.getProduct({ id: "00000000-0000-4000-8000-000000000000" }, bearer(reader)));
  await expectError(`${codec}: no token`, Code.Unauthenticated, () =>
    client.getProduct({ id: p.id }));
  await expectError(`${codec}: a reader's write`, Code.PermissionDenied, () =>
    client.updateStock({ id: p.id, expectedVersion: 2n, stock: 1n }, bearer(reader)));
}
// useHttpGet: connect-es sends the methods the descriptor marks
// NO_SIDE_EFFECTS (GetProduct, BatchGetProducts, ListProducts) as GET
// (the message in the query, base64 for binary) and the rest as POST.
// An interceptor runs before that choice, so which HTTP method went out is
// checked by connect_node_test.sh from the server's
// inventory_connect_calls_total.
for (const useBinaryFormat of [true, false]) {
  const codec = useBinaryFormat ? "binary, useHttpGet" : "JSON, useHttpGet";
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat, useHttpGet: true });
  const client = createClient(service, transport);

  const created = await client.createProduct(
    { name: `node ${codec} widget`, stock: 3n, price: "1.00" }, bearer(writer));
  const id = created.product.id;
  const got = await client.getProduct({ id }, bearer(reader));
  check(got.product.id === id && got.product.stock === 3n, `${codec}: GetProduct`, got.product);
  const batch = await client.batchGetProducts({ ids: [id] }, bearer(reader));
  check(batch.products.length === 1 && batch.products[0].id === id,
    `${codec}: BatchGetProducts`, batch.products);
  const list = await client.listProducts({ pageSize: 2 }, bearer(reader));
  check(list.products.length >= 1 && list.products.length <= 2, `${codec}: ListProducts`, list);
  await expectError(`${codec}: GetProduct without a token`, Code.Unauthenticated, () =>
    client.getProduct({ id }));
}
console.log("all connect-node checks passed");
