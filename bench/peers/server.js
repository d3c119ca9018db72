// A CouchDB-protocol server for bench/compare: express-pouchdb on the
// leveldb adapter, mounted on Node's http.createServer, on 127.0.0.1.
//
//   node server.js --dir DIR                       serve DIR; prints the URL
//   node server.js --dir DIR --load FILE --db NAME  fill database NAME from
//                                                   FILE (NDJSON) and exit
//
// FILE holds one {"_id":...,...fields} document per line.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const readline = require('readline');
const PouchDB = require('pouchdb').plugin(require('pouchdb-adapter-leveldb'));

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error('usage: server.js --dir DIR [--load FILE --db NAME]');
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  if (!out.dir) throw new Error('--dir is required');
  return out;
}

async function load(Local, file, name) {
  const db = new Local(name);
  const lines = readline.createInterface({ input: fs.createReadStream(file) });
  let batch = [];
  let n = 0;
  for await (const line of lines) {
    if (!line) continue;
    batch.push(JSON.parse(line));
    if (batch.length === 5000) {
      await db.bulkDocs(batch, { new_edits: true });
      n += batch.length;
      batch = [];
    }
  }
  if (batch.length) {
    await db.bulkDocs(batch);
    n += batch.length;
  }
  const info = await db.info();
  await db.close();
  if (info.doc_count !== n) throw new Error(`loaded ${n} docs but the database holds ${info.doc_count}`);
  process.stdout.write(JSON.stringify({ loaded: n }) + '\n');
}

async function main() {
  const a = args();
  fs.mkdirSync(a.dir, { recursive: true });
  const Local = PouchDB.defaults({ prefix: path.join(a.dir, path.sep), adapter: 'leveldb' });
  if (a.load) return load(Local, a.load, a.db || 'docs');
  const app = require('express-pouchdb')(Local, {
    mode: 'minimumForPouchDB',
    inMemoryConfig: true,
    logPath: path.join(a.dir, 'express-pouchdb.log'),
  });
  const server = http.createServer(app);
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((e) => {
  process.stderr.write(`server.js: ${e.stack || e}\n`);
  process.exit(1);
});
