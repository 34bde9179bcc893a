// Reads memlens exports with real third-party readers and prints what they saw as JSON:
//   node check_exports.mjs profile.pb.gz profile.speedscope.json
// pprof-format (Datadog's pure-JS profile.proto decoder) decodes the pprof file;
// ajv validates the speedscope file against the schema the speedscope package ships.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { Profile } from "pprof-format";
import Ajv from "ajv";

const require = createRequire(import.meta.url);
const [pprofPath, speedscopePath] = process.argv.slice(2);
const out = {};

const profile = Profile.decode(gunzipSync(readFileSync(pprofPath)));
const str = (i) => profile.stringTable.strings[Number(i)];
const types = profile.sampleType.map((t) => str(t.type) + "/" + str(t.unit));
const totals = Object.fromEntries(types.map((t) => [t, 0]));
const functions = new Map(profile.function.map((f) => [Number(f.id), f]));
const locations = new Map(profile.location.map((l) => [Number(l.id), l]));
const leafTotals = {};
for (const sample of profile.sample) {
  sample.value.forEach((v, i) => { totals[types[i]] += Number(v); });
  const leaf = locations.get(Number(sample.locationId[0]));
  const fn = functions.get(Number(leaf.line[0].functionId));
  const name = str(fn.name) + " " + str(fn.filename) + ":" + Number(leaf.line[0].line);
  leafTotals[name] = (leafTotals[name] || 0) + Number(sample.value[types.indexOf("peak_space/bytes")]);
}
out.pprof = {
  sample_types: types,
  default_sample_type: str(profile.defaultSampleType),
  samples: profile.sample.length,
  totals,
  peak_by_leaf: leafTotals,
  comments: profile.comment.map(str),
};

const schema = JSON.parse(readFileSync(require.resolve("speedscope/dist/release/file-format-schema.json"), "utf8"));
const ajv = new Ajv({ strict: false, allErrors: true });
const validate = ajv.compile(schema);
const doc = JSON.parse(readFileSync(speedscopePath, "utf8"));
out.speedscope = { valid: validate(doc), errors: validate.errors || [], profiles: doc.profiles.map((p) => p.name) };
console.log(JSON.stringify(out));
