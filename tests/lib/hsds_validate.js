// Validates Open Referral UK 3.0 responses offline, the way the ORUK validator does: JSON
// Schema draft 2020-12 (Ajv, strict mode off for the schemas' documentation keywords, formats
// checked) against the ORUK schemas in ../shared/data/hsds/oruk-3.0/schema, their URL prefix
// mapped to the local files. Every `service_capacity` array found in a response is also
// validated, item by item, against HSDS 3.1's service_capacity.json (hsds-3.1-dev; the 3.0
// schemas it refers to stand in for 3.1's, which are not in that snapshot).
//
// usage: node hsds_validate.js HSDS_DIR MANIFEST
//   MANIFEST: lines "SCHEMA FILE" (SCHEMA: a file name of oruk-3.0/schema, e.g. service_list.json;
//   FILE: a response body; with SCHEMA "ndjson:NAME", every line of FILE is checked against NAME).
// Prints each error and a summary; exits 1 if there was any error.
'use strict';
const path = require('path');
const fs = require('fs');
const tools = path.join(__dirname, '..', 'tools', 'node_modules');
const Ajv2020 = require(path.join(tools, 'ajv', 'dist', '2020')).default;
const addFormats = require(path.join(tools, 'ajv-formats')).default;

const [hsdsDir, manifest] = process.argv.slice(2);
const ORUK = 'https://openreferraluk.org/specifications/3.0/schema/';
const HSDS31 = 'https://openreferral.org/specifications/hsds/3.1/schema/';

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const load = (dir, prefix, skip = []) => {
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'openapi.json' && !skip.includes(f))) {
    const s = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    s.$id = prefix + f;
    delete s.$schema;
    ajv.addSchema(s);
  }
};
load(path.join(hsdsDir, 'oruk-3.0', 'schema'), ORUK);
load(path.join(hsdsDir, 'hsds-3.1-dev', 'schema'), HSDS31);
// The 3.1 snapshot has only its three new schemas; what they refer to (attribute.json,
// metadata.json) is unchanged from 3.0, so 3.0's files stand in under the 3.1 prefix.
load(path.join(hsdsDir, 'hsds-3.0', 'schema'), HSDS31, fs.readdirSync(path.join(hsdsDir, 'hsds-3.1-dev', 'schema')));

let errors = 0, checked = 0, capacities = 0;
const check = (schemaId, doc, where) => {
  const validate = ajv.getSchema(schemaId);
  if (!validate) throw new Error('no schema ' + schemaId);
  checked++;
  if (!validate(doc)) {
    for (const e of validate.errors) {
      errors++;
      console.log(`${where}: ${e.instancePath || '/'} ${e.message} (${e.schemaPath})`);
    }
  }
};
const walkCapacity = (v, where) => {
  if (Array.isArray(v)) return v.forEach((x, i) => walkCapacity(x, `${where}[${i}]`));
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'service_capacity' && Array.isArray(x)) {
        x.forEach((c, i) => { capacities++; check(HSDS31 + 'service_capacity.json', c, `${where}.service_capacity[${i}]`); });
      } else {
        walkCapacity(x, `${where}.${k}`);
      }
    }
  }
};

for (const line of fs.readFileSync(manifest, 'utf8').split('\n').filter((l) => l.trim())) {
  const [schema, file] = line.trim().split(/\s+/);
  const text = fs.readFileSync(file, 'utf8');
  const docs = schema.startsWith('ndjson:')
    ? text.split('\n').filter((l) => l !== '').map((l, i) => [JSON.parse(l), `${file}:${i + 1}`])
    : [[JSON.parse(text), file]];
  const name = schema.replace(/^ndjson:/, '');
  for (const [doc, where] of docs) {
    check(ORUK + name, doc, where);
    walkCapacity(doc, where);
  }
}
console.log(`${checked} documents checked (${capacities} service_capacity objects), ${errors} errors`);
process.exit(errors ? 1 : 0);
