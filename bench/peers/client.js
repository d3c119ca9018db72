// A PouchDB replication client for bench/compare (batch_size 1000).
//
//   node client.js --mode pull --remote URL/DB --dir DIR
//       replicates the remote database into an empty local one;
//   node client.js --mode push --remote URL/DB --dir DIR --load FILE
//       fills a local database from FILE (NDJSON; not timed), then
//       replicates it into the (empty) remote database.
//
// --adapter leveldb (default: on disk, like braid) or memory.
// Prints one JSON line: docs, seconds, docs_per_s, peak_rss_kib. Only the
// replication is timed (not Node's start-up nor the local fill).
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const PouchDB = require('pouchdb')
  .plugin(require('pouchdb-adapter-leveldb'))
  .plugin(require('pouchdb-adapter-memory'));

function args() {
  const out = { adapter: 'leveldb' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error('usage: client.js --mode pull|push --remote URL/DB --dir DIR [--load FILE]');
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  if (!['pull', 'push'].includes(out.mode)) throw new Error('--mode must be pull or push');
  if (!out.remote || !out.dir) throw new Error('--remote and --dir are required');
  if (out.mode === 'push' && !out.load) throw new Error('push needs --load FILE');
  if (!['leveldb', 'memory'].includes(out.adapter)) throw new Error('--adapter: leveldb or memory');
  return out;
}

function peakRssKib() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function fill(db, file) {
  const lines = readline.createInterface({ input: fs.createReadStream(file) });
  let batch = [];
  for await (const line of lines) {
    if (!line) continue;
    batch.push(JSON.parse(line));
    if (batch.length === 5000) {
      await db.bulkDocs(batch);
      batch = [];
    }
  }
  if (batch.length) await db.bulkDocs(batch);
}

async function main() {
  const a = args();
  fs.mkdirSync(a.dir, { recursive: true });
  const local = new PouchDB(path.join(a.dir, 'local'), { adapter: a.adapter });
  const remote = new PouchDB(a.remote);
  if (a.mode === 'push') await fill(local, a.load);
  const [source, target] = a.mode === 'pull' ? [remote, local] : [local, remote];
  const start = process.hrtime.bigint();
  const result = await PouchDB.replicate(source, target, { batch_size: 1000 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (!result.ok) throw new Error(`replication failed: ${JSON.stringify(result.errors)}`);
  const docs = (await target.info()).doc_count;
  process.stdout.write(
    JSON.stringify({ docs, written: result.docs_written, seconds, docs_per_s: docs / seconds, peak_rss_kib: peakRssKib() }) + '\n',
  );
  await local.close();
}

main().catch((e) => {
  process.stderr.write(`client.js: ${e.stack || e}\n`);
  process.exit(1);
});
