// Runs the graphql-http server audits (GraphQL over HTTP spec) against a URL.
// Usage: node audit.mjs http://127.0.0.1:8000/graphql
// Exit status 1 when any MUST (error) or SHOULD (warn) audit fails; MAY
// audits that fail (notice) are listed but do not fail the run.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

const results = await auditServer({ url });
const failed = { error: 0, warn: 0, notice: 0 };
for (const result of results) {
  if (result.status === 'ok') {
    console.log(`ok      ${result.id} ${result.name}`);
    continue;
  }
  failed[result.status] += 1;
  let body = '';
  try {
    body = await result.response.text();
  } catch {
    body = '(body already read)';
  }
  console.log(`${result.status.padEnd(7)} ${result.id} ${result.name}`);
  console.log(`        reason: ${result.reason}`);
  console.log(`        status: ${result.response.status} ${result.response.headers.get('content-type')}`);
  console.log(`        body: ${body.slice(0, 300)}`);
}
const passed = results.length - failed.error - failed.warn - failed.notice;
console.log(
  `graphql-http audit: ${passed} passed, ${failed.error} MUST failed, ` +
    `${failed.warn} SHOULD failed, ${failed.notice} MAY failed (of ${results.length})`,
);
process.exit(failed.error + failed.warn > 0 || results.length === 0 ? 1 : 0);
